//! Integrity-scrub bookkeeping: runs (resumable) and what they found.

use serde::Serialize;
use sqlx::Row;

use super::{Db, Recording, now_ms};

/// A scrub run's progress.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ScrubRun {
    pub id: String,
    pub started_at: i64,
    /// The last recording id checked: the run resumes after it.
    pub cursor: String,
    pub checked: i64,
    pub healthy: i64,
    pub repaired: i64,
    pub failed: i64,
    pub bytes_read: i64,
}

/// One damaged or unreadable copy.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Finding {
    pub recording_id: String,
    pub family_id: String,
    pub region: String,
    pub problem: String,
    pub action: String,
    pub detail: String,
    pub at: i64,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClaimError {
    #[error("another scrub (run {0}) is under way")]
    Busy(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn run(row: &sqlx::any::AnyRow) -> Result<ScrubRun, sqlx::Error> {
    Ok(ScrubRun {
        id: row.try_get("id")?,
        started_at: row.try_get("started_at")?,
        cursor: row.try_get("cursor")?,
        checked: row.try_get("checked")?,
        healthy: row.try_get("healthy")?,
        repaired: row.try_get("repaired")?,
        failed: row.try_get("failed")?,
        bytes_read: row.try_get("bytes_read")?,
    })
}

impl Db {
    /// Takes over an unfinished run whose heartbeat is older than `stale_ms` (a crash:
    /// resume it), refuses while one is alive, or starts a new run.
    pub(crate) async fn claim_scrub(&self, stale_ms: i64) -> Result<(ScrubRun, bool), ClaimError> {
        let now = now_ms();
        let open = sqlx::query(
            "SELECT id, started_at, heartbeat_at, cursor, checked, healthy, repaired, failed, bytes_read \
             FROM scrub_runs WHERE finished_at IS NULL ORDER BY started_at LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = open {
            let heartbeat: i64 = row.try_get("heartbeat_at")?;
            let found = run(&row)?;
            if now - heartbeat < stale_ms {
                return Err(ClaimError::Busy(found.id));
            }
            let taken = sqlx::query("UPDATE scrub_runs SET heartbeat_at = $2 WHERE id = $1 AND heartbeat_at = $3")
                .bind(&found.id)
                .bind(now)
                .bind(heartbeat)
                .execute(&self.pool)
                .await?;
            if taken.rows_affected() != 1 {
                return Err(ClaimError::Busy(found.id));
            }
            return Ok((found, true));
        }
        let fresh = ScrubRun { id: uuid::Uuid::new_v4().to_string(), started_at: now, ..ScrubRun::default() };
        sqlx::query(
            "INSERT INTO scrub_runs (id, started_at, heartbeat_at, cursor, checked, healthy, repaired, failed, \
             bytes_read) VALUES ($1, $2, $2, '', 0, 0, 0, 0, 0)",
        )
        .bind(&fresh.id)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            if super::is_unique_violation(&e) { ClaimError::Busy("started meanwhile".into()) } else { e.into() }
        })?;
        Ok((fresh, false))
    }

    /// When the newest scrub run started (ms), if any has.
    pub(crate) async fn last_scrub_started(&self) -> Result<Option<i64>, sqlx::Error> {
        let row = sqlx::query("SELECT MAX(started_at) AS at FROM scrub_runs").fetch_one(&self.pool).await?;
        row.try_get("at")
    }

    /// Records progress (and the heartbeat) after a recording is done.
    pub(crate) async fn scrub_progress(&self, run: &ScrubRun) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE scrub_runs SET heartbeat_at = $2, cursor = $3, checked = $4, healthy = $5, repaired = $6, \
             failed = $7, bytes_read = $8 WHERE id = $1",
        )
        .bind(&run.id)
        .bind(now_ms())
        .bind(&run.cursor)
        .bind(run.checked)
        .bind(run.healthy)
        .bind(run.repaired)
        .bind(run.failed)
        .bind(run.bytes_read)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn scrub_finding(&self, run_id: &str, f: &Finding) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO scrub_findings (run_id, recording_id, family_id, region, problem, action, detail, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (run_id, recording_id, region) DO NOTHING",
        )
        .bind(run_id)
        .bind(&f.recording_id)
        .bind(&f.family_id)
        .bind(&f.region)
        .bind(&f.problem)
        .bind(&f.action)
        .bind(&f.detail)
        .bind(f.at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A run's findings (at most `limit`: the report names the first ones).
    pub(crate) async fn scrub_findings(&self, run_id: &str, limit: i64) -> Result<Vec<Finding>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT recording_id, family_id, region, problem, action, detail, at FROM scrub_findings \
             WHERE run_id = $1 ORDER BY at, recording_id, region LIMIT $2",
        )
        .bind(run_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Finding {
                    recording_id: r.try_get("recording_id")?,
                    family_id: r.try_get("family_id")?,
                    region: r.try_get("region")?,
                    problem: r.try_get("problem")?,
                    action: r.try_get("action")?,
                    detail: r.try_get("detail")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    pub(crate) async fn finish_scrub(&self, run: &ScrubRun, report: &str) -> Result<(), sqlx::Error> {
        self.scrub_progress(run).await?;
        sqlx::query("UPDATE scrub_runs SET finished_at = $2, report = $3 WHERE id = $1")
            .bind(&run.id)
            .bind(now_ms())
            .bind(report)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Committed recordings after `cursor` in id order: one page of a scrub.
    pub(crate) async fn recordings_after(&self, cursor: &str, limit: i64) -> Result<Vec<Recording>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM recordings WHERE status = 'committed' AND id > $1 ORDER BY id LIMIT $2",
            super::recordings::COLUMNS
        ))
        .bind(cursor)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(super::recordings::recording).collect()
    }

    /// Records the version a repair wrote (`replica` or the primary's), unless the
    /// recording was erased meanwhile.
    pub(crate) async fn set_object_version(&self, id: &str, replica: bool, version: &str) -> Result<(), sqlx::Error> {
        let column = if replica { "replica_version" } else { "version" };
        sqlx::query(&format!("UPDATE recordings SET {column} = $2 WHERE id = $1 AND status = 'committed'"))
            .bind(id)
            .bind(version)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
