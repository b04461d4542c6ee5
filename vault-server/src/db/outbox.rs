//! The replication outbox: committed objects still to be copied to the replica region.

use sqlx::Row;

use super::recordings::{sha256, unsigned};
use super::{Db, decode_error, now_ms};
use crate::store::ObjectKey;

/// A copy to make.
#[derive(Debug, Clone)]
pub(crate) struct Replication {
    pub recording_id: String,
    pub family_id: String,
    pub object_key: ObjectKey,
    /// Of the primary copy: the replica must match it.
    pub sha256: [u8; 32],
    pub retain_until: i64,
    pub attempts: u32,
}

impl Db {
    /// Claims up to `limit` copies whose time has come for `holder`, oldest first, for
    /// `claim_ms` (a copy another instance claimed is left alone until its claim
    /// lapses; `holder`'s own claims are taken again), and answers them. The claim
    /// re-checks each row as it updates it, so two instances claiming at once never
    /// both get one copy.
    pub(crate) async fn claim_replications(
        &self,
        holder: &str,
        limit: i64,
        claim_ms: i64,
    ) -> Result<Vec<Replication>, sqlx::Error> {
        let now = now_ms();
        let until = now.saturating_add(claim_ms);
        // Free: never claimed, or the claim lapsed, or it is this instance's own (from
        // before a restart).
        const FREE: &str =
            "next_attempt_at <= $3 AND (claimed_until IS NULL OR claimed_until <= $3 OR claimed_by = $1)";
        sqlx::query(&format!(
            "UPDATE replication_outbox SET claimed_by = $1, claimed_until = $2 WHERE recording_id IN \
             (SELECT recording_id FROM replication_outbox WHERE {FREE} ORDER BY next_attempt_at, recording_id \
             LIMIT $4) AND {FREE}"
        ))
        .bind(holder)
        .bind(until)
        .bind(now)
        .bind(limit)
        .execute(&self.pool)
        .await?;
        let rows = sqlx::query(
            "SELECT recording_id, family_id, object_key, sha256, retain_until, attempts FROM replication_outbox \
             WHERE claimed_by = $1 AND claimed_until = $2 ORDER BY next_attempt_at, recording_id",
        )
        .bind(holder)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let key: String = row.try_get("object_key")?;
                Ok(Replication {
                    recording_id: row.try_get("recording_id")?,
                    family_id: row.try_get("family_id")?,
                    object_key: ObjectKey::new(key.clone()).map_err(|_| decode_error("object_key", &key))?,
                    sha256: sha256(&row.try_get::<String, _>("sha256")?, "sha256")?,
                    retain_until: row.try_get("retain_until")?,
                    attempts: unsigned(row, "attempts")?,
                })
            })
            .collect()
    }

    /// How many copies are outstanding (for metrics and readiness).
    pub(crate) async fn pending_replications(&self) -> Result<i64, sqlx::Error> {
        sqlx::query("SELECT COUNT(*) AS n FROM replication_outbox").fetch_one(&self.pool).await?.try_get("n")
    }

    /// Records the replica's version and checksum and takes the copy off the outbox, atomically.
    pub(crate) async fn replication_done(
        &self,
        r: &Replication,
        version: &str,
        sha256: &[u8; 32],
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        // The outbox row goes first: of two instances that both finished the copy (one
        // held the claim past its end), only the first records it.
        let first = sqlx::query("DELETE FROM replication_outbox WHERE recording_id = $1")
            .bind(&r.recording_id)
            .execute(&mut *tx)
            .await?;
        if first.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE recordings SET replica_version = $3, replica_sha256 = $4, replicated_at = $5 \
             WHERE family_id = $1 AND id = $2",
        )
        .bind(&r.family_id)
        .bind(&r.recording_id)
        .bind(version)
        .bind(hex::encode(sha256))
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Keeps `holder`'s running claims until `until` (its copies are under way).
    pub(crate) async fn extend_replication_claims(&self, holder: &str, until: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE replication_outbox SET claimed_until = $2 WHERE claimed_by = $1 AND claimed_until > $3")
            .bind(holder)
            .bind(until)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Puts a failed copy back for a later attempt, if `holder` still holds it.
    pub(crate) async fn replication_failed(
        &self,
        r: &Replication,
        holder: &str,
        retry_at: i64,
        error: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE replication_outbox SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3, \
             claimed_by = NULL, claimed_until = NULL WHERE recording_id = $1 AND claimed_by = $4",
        )
        .bind(&r.recording_id)
        .bind(retry_at)
        .bind(error)
        .bind(holder)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }
}
