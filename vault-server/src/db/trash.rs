//! The trash: committed recordings hidden and refused until restored, or erased by
//! the trash job once their `trash_until` has passed (`crate::domain::trash`).

use super::recordings::{COLUMNS, ERASED, recording};
use super::{Db, Recording};

impl Db {
    /// Moves a committed recording out of the library until `until`; false if it is
    /// not committed or already in the trash.
    pub(crate) async fn trash_recording(
        &self,
        family: &str,
        id: &str,
        by: &str,
        at: i64,
        until: i64,
    ) -> Result<bool, sqlx::Error> {
        let result = sqlx::query(
            "UPDATE recordings SET trashed_at = $3, trashed_by = $4, trash_until = $5 \
             WHERE family_id = $1 AND id = $2 AND status = 'committed' AND trashed_at IS NULL",
        )
        .bind(family)
        .bind(id)
        .bind(at)
        .bind(by)
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Brings a recording back from the trash; false if it is not there (restored,
    /// or erased meanwhile).
    pub(crate) async fn restore_recording(&self, family: &str, id: &str) -> Result<bool, sqlx::Error> {
        let result = sqlx::query(
            "UPDATE recordings SET trashed_at = NULL, trashed_by = NULL, trash_until = NULL \
             WHERE family_id = $1 AND id = $2 AND status = 'committed' AND trashed_at IS NOT NULL",
        )
        .bind(family)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// The family's trash, the soonest erased first (at most 500).
    pub(crate) async fn trashed_recordings(&self, family: &str) -> Result<Vec<Recording>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM recordings WHERE family_id = $1 AND status = 'committed' \
             AND trashed_at IS NOT NULL ORDER BY trash_until, id LIMIT 500"
        ))
        .bind(family)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(recording).collect()
    }

    /// Up to `limit` recordings whose time in the trash ended by `now`, every family.
    pub(crate) async fn trash_due(&self, now: i64, limit: i64) -> Result<Vec<Recording>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM recordings WHERE trash_until IS NOT NULL AND trash_until <= $1 \
             AND status = 'committed' ORDER BY trash_until, id LIMIT $2"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(recording).collect()
    }

    /// The trash job's claim on an erasure: the recording becomes deleted (its wrapped
    /// keys destroyed) only if it is still in the trash and due, so a restore that won
    /// the race keeps it.
    pub(crate) async fn erase_due_trash(&self, family: &str, id: &str, now: i64) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(&format!(
            "UPDATE recordings SET {ERASED}, deleted_at = $3 WHERE family_id = $1 AND id = $2 \
             AND status = 'committed' AND trash_until IS NOT NULL AND trash_until <= $3"
        ))
        .bind(family)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if result.rows_affected() != 1 {
            return Ok(false);
        }
        super::share_links::forget_recording(&mut tx, id).await?;
        tx.commit().await?;
        Ok(true)
    }
}
