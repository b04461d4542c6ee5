//! The replication worker: drains the outbox (`db::outbox`) by copying each committed
//! object to the replica region and verifying the copy's SHA-256, retrying with
//! jittered exponential backoff until it succeeds. The outbox row is written in the
//! commit's transaction, so a crash anywhere between the primary write and the end
//! of the copy only delays it: the next worker (after a restart) finishes the job.

use std::sync::Arc;
use std::time::Duration;

use rand_core::{OsRng, RngCore};
use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::audit::{Action, AuditLog, Outcome};
use crate::db::{Db, Replication, now_ms};
use crate::metrics::Metrics;
use crate::store::StoreError;
use crate::store::replicated::ReplicatedStore;

/// Longest wait between two attempts of one copy.
const MAX_BACKOFF_MS: i64 = 5 * 60 * 1000;

#[derive(Debug)]
pub(crate) struct Replicator {
    db: Db,
    store: Arc<ReplicatedStore>,
    audit: Arc<AuditLog>,
    metrics: Arc<Metrics>,
    wake: Notify,
    poll: Duration,
    /// This instance: copies are claimed under its name, so that of several instances
    /// one makes each copy (a dead one's claims lapse after `CLAIM_MS`).
    holder: String,
}

/// How long a claimed copy is this instance's before another may take it over: kept
/// alive every third of it while the batch is copied, so a dead instance's copies are
/// taken over within a minute, and a long copy is never taken from a live one.
const CLAIM_MS: i64 = 60 * 1000;

impl Replicator {
    pub(crate) fn new(
        db: Db,
        store: Arc<ReplicatedStore>,
        audit: Arc<AuditLog>,
        metrics: Arc<Metrics>,
        poll: Duration,
        holder: String,
    ) -> Arc<Self> {
        Arc::new(Self { db, store, audit, metrics, wake: Notify::new(), poll, holder })
    }

    /// Tells the worker a commit queued a copy.
    pub(crate) fn nudge(&self) {
        self.wake.notify_one();
    }

    /// Runs until the task is dropped.
    pub(crate) async fn run(self: Arc<Self>) {
        loop {
            // A copy that fails is retried with backoff (and counted in
            // `replication_failures`); a round that cannot read the outbox is a job failure.
            let round = self.drain().await;
            self.metrics.job_round("replication", &round);
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.poll) => {}
            }
        }
    }

    /// Makes every due copy once; returns how many succeeded.
    pub(crate) async fn drain(&self) -> Result<usize, sqlx::Error> {
        let mut copied = 0;
        loop {
            let due = self.db.claim_replications(&self.holder, 16, CLAIM_MS).await?;
            self.metrics.replication_pending.set(self.db.pending_replications().await?);
            if due.is_empty() {
                return Ok(copied);
            }
            let batch = async {
                let mut progressed = false;
                for job in due {
                    match self.copy(&job).await {
                        Ok(()) => {
                            copied += 1;
                            progressed = true;
                        }
                        Err(e) => {
                            let retry_at = now_ms() + backoff_ms(job.attempts);
                            tracing::warn!(recording = %job.recording_id, attempts = job.attempts + 1, error = %e, "replication failed; will retry");
                            self.metrics.replication_failures.inc();
                            self.db.replication_failed(&job, &self.holder, retry_at, &e.to_string()).await?;
                        }
                    }
                }
                Ok::<_, sqlx::Error>(progressed)
            };
            let progressed = tokio::select! {
                progressed = batch => progressed?,
                never = self.keep_claims() => match never {},
            };
            if !progressed {
                return Ok(copied);
            }
        }
    }

    /// Moves this instance's claims on every third of [`CLAIM_MS`], until dropped.
    async fn keep_claims(&self) -> std::convert::Infallible {
        let every = Duration::from_millis(u64::try_from(CLAIM_MS / 3).unwrap_or(20_000));
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = self.db.extend_replication_claims(&self.holder, now_ms() + CLAIM_MS).await {
                tracing::warn!(error = %e, "cannot keep this instance's replication claims");
            }
        }
    }

    async fn copy(&self, job: &Replication) -> Result<(), StoreError> {
        let until = OffsetDateTime::from_unix_timestamp(job.retain_until / 1000)
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let info = self.store.replicate(&job.object_key, job.sha256, until).await?;
        let first = self
            .db
            .replication_done(job, &info.version, &job.sha256)
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        if !first {
            // Another instance took the copy over and finished it first: its row stands.
            return Ok(());
        }
        self.metrics.replications.inc();
        let metadata =
            json!({ "replica_version": info.version, "sha256": hex::encode(job.sha256), "attempts": job.attempts + 1 });
        let recorded = self.audit.system(
            &job.family_id,
            Action::RecordingReplicated,
            &job.recording_id,
            Outcome::Success,
            metadata,
        );
        if let Err(e) = recorded.await {
            tracing::warn!(error = %e, "cannot write the replication audit row");
        }
        Ok(())
    }
}

/// 1 s, 2 s, 4 s … up to five minutes, each drawn uniformly from its upper half.
fn backoff_ms(attempts: u32) -> i64 {
    let ceiling = 1000i64.saturating_mul(1 << attempts.min(20)).min(MAX_BACKOFF_MS);
    let jitter = i64::from(OsRng.next_u32()) % (ceiling / 2).max(1);
    ceiling / 2 + jitter
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_grows_and_stays_bounded() {
        for attempts in 0..40u32 {
            let ms = super::backoff_ms(attempts);
            let ceiling = (1000i64 << attempts.min(20)).min(super::MAX_BACKOFF_MS);
            assert!(ms >= ceiling / 2 && ms <= ceiling, "{attempts}: {ms}");
        }
    }
}
