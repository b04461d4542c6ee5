//! Erasure: purging deleted recordings' objects, and erasing whole families.

use super::recordings::ERASED;
use super::{Db, Recording, now_ms};

impl Db {
    /// Deleted recordings whose objects retention now allows to remove, oldest first.
    pub(crate) async fn due_purges(&self, now: i64, limit: i64) -> Result<Vec<Recording>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM recordings WHERE status = 'deleted' AND purged_at IS NULL \
             AND (retain_until IS NULL OR retain_until <= $1) ORDER BY deleted_at, id LIMIT $2",
            super::recordings::COLUMNS
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(super::recordings::recording).collect()
    }

    /// Drops a copy still queued for an erased recording (a late copy must not
    /// re-create the replica after the purge).
    pub(crate) async fn cancel_replication(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM replication_outbox WHERE recording_id = $1").bind(id).execute(&self.pool).await?;
        Ok(())
    }

    pub(crate) async fn mark_purged(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE recordings SET purged_at = $2 WHERE id = $1 AND status = 'deleted'")
            .bind(id)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every recording of a family, in any status (for an erasure receipt).
    pub(crate) async fn all_recordings(&self, family: &str) -> Result<Vec<Recording>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM recordings WHERE family_id = $1 ORDER BY created_at, id",
            super::recordings::COLUMNS
        ))
        .bind(family)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(super::recordings::recording).collect()
    }

    /// Marks the family erased and every recording deleted with its wrapped keys
    /// destroyed, in one transaction; `key_deletion` says what happened to the key.
    pub(crate) async fn erase_family(&self, family: &str, key_deletion: &str) -> Result<i64, sqlx::Error> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "UPDATE recordings SET {ERASED}, deleted_at = COALESCE(deleted_at, $2) WHERE family_id = $1"
        ))
        .bind(family)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM replication_outbox WHERE family_id = $1").bind(family).execute(&mut *tx).await?;
        super::share_links::forget_family(&mut tx, family).await?;
        sqlx::query("DELETE FROM export_links WHERE family_id = $1").bind(family).execute(&mut *tx).await?;
        // A delivery erased before its hand-off shows so to its studio; after it, the
        // family's business is no longer the studio's.
        sqlx::query(
            "UPDATE deliveries SET erased_at = $2 WHERE family_id = $1 AND handed_off_at IS NULL AND erased_at IS NULL",
        )
        .bind(family)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE families SET erased_at = COALESCE(erased_at, $2), key_deletion = $3, library_edks = NULL WHERE id = $1",
        )
            .bind(family)
            .bind(now)
            .bind(key_deletion)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(now)
    }

    /// When the family was erased, if it was.
    pub(crate) async fn family_erased(&self, family: &str) -> Result<Option<i64>, sqlx::Error> {
        let row: Option<(Option<i64>,)> = sqlx::query_as("SELECT erased_at FROM families WHERE id = $1")
            .bind(family)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(|(at,)| at))
    }
}
