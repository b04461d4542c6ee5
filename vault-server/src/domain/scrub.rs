//! The integrity scrub: reads every committed object in every region, compares its
//! SHA-256 with the one recorded at commit, and repairs a missing or damaged copy from
//! a healthy one, as a **new version** (Object Lock forbids overwriting, and the bad
//! version stays as evidence).
//!
//! Bounded and gentle: one page of recordings and one part of an object in memory,
//! reads paced to `scrub.bytes_per_sec`. Resumable: progress is saved after every
//! recording, so a run a crash ended is taken over (after its heartbeat goes stale)
//! from the recording after the last one checked. Each run ends with a report signed
//! by the service key (`crate::signing`), an audit row, and metrics; each repair or
//! unrepairable object also writes a row in its family's audit chain.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use futures_util::StreamExt;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::Services;
use super::audit::{Action, AuditLog, Outcome, SYSTEM_TENANT};
use crate::config::ScrubSettings;
use crate::db::{ClaimError, Db, Finding, Recording, ScrubRun, now_ms};
use crate::metrics::Metrics;
use crate::signing::{Envelope, Signer};
use crate::store::replicated::copy_object;
use crate::store::{ObjectKey, ObjectStore, StoreError};

/// The kind of a signed scrub report.
pub(crate) const REPORT_KIND: &str = "vault.scrub-report";
/// A run whose heartbeat is older than this is taken to have crashed.
/// (One object at the default pace takes at most 64 GiB / 64 MiB/s ≈ 17 minutes per copy.)
const STALE_MS: i64 = 60 * 60 * 1000;
/// Findings named in a report (all of them stay in the database).
const REPORT_FINDINGS: i64 = 1000;

/// One region's store, by name.
#[derive(Clone)]
pub(crate) struct Region {
    pub name: &'static str,
    pub store: Arc<dyn ObjectStore>,
}

/// Everything a scrub needs.
pub(crate) struct Scrubber {
    pub db: Db,
    pub primary: Region,
    pub replica: Option<Region>,
    pub audit: Arc<AuditLog>,
    pub metrics: Arc<Metrics>,
    pub signer: Arc<Signer>,
    pub settings: ScrubSettings,
    /// Bytes per part when restoring a copy.
    pub part_size: usize,
    /// A restored copy is retained at least this long from now.
    pub min_retention: time::Duration,
    /// Report problems without repairing them.
    pub repair: bool,
}

/// The outcome of a run, as signed.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    pub run_id: String,
    pub started_at: i64,
    pub finished_at: i64,
    /// Whether this run took over one that had stopped.
    pub resumed: bool,
    pub regions: Vec<&'static str>,
    pub checked: i64,
    pub healthy: i64,
    pub repaired: i64,
    pub failed: i64,
    pub bytes_read: i64,
    pub findings: Vec<Finding>,
}

/// What one copy turned out to be.
#[derive(Debug)]
enum Copy {
    Healthy,
    Missing,
    Mismatch(String),
    Unreadable(String),
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ScrubError {
    #[error(transparent)]
    Claim(#[from] ClaimError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("cannot sign the report: {0}")]
    Sign(#[from] serde_json::Error),
}

/// Paces reads to a byte rate.
struct Pace {
    start: Instant,
    bytes: u64,
    rate: u64,
}

impl Pace {
    async fn read(&mut self, n: usize) {
        self.bytes += n as u64;
        let due = Duration::from_secs_f64(self.bytes as f64 / self.rate as f64);
        let elapsed = self.start.elapsed();
        if due > elapsed {
            tokio::time::sleep(due - elapsed).await;
        }
    }
}

impl Scrubber {
    /// A scrubber over the service's backends: both regions when there is a replica.
    pub(crate) fn new(state: &Services, repair: bool) -> Self {
        let (primary, replica) = match &state.replicated {
            Some(r) => (r.primary().clone(), Some(Region { name: "replica", store: r.replica().clone() })),
            None => (state.store.clone(), None),
        };
        Self {
            db: state.db.clone(),
            primary: Region { name: "primary", store: primary },
            replica,
            audit: state.audit.clone(),
            metrics: state.metrics.clone(),
            signer: state.signer.clone(),
            settings: state.config.scrub.clone(),
            part_size: usize::try_from(state.config.uploads.part_size).unwrap_or(8 << 20),
            min_retention: time::Duration::days(1),
            repair,
        }
    }

    /// Runs (or resumes) one scrub to the end and returns its signed report.
    pub(crate) async fn run(&self) -> Result<(Report, Envelope), ScrubError> {
        let (mut run, resumed) = self.db.claim_scrub(STALE_MS).await?;
        tracing::info!(run = %run.id, resumed, cursor = %run.cursor, "integrity scrub started");
        let mut pace = Pace { start: Instant::now(), bytes: 0, rate: self.settings.bytes_per_sec };
        loop {
            let page = self.db.recordings_after(&run.cursor, i64::from(self.settings.page_size)).await?;
            if page.is_empty() {
                break;
            }
            for r in &page {
                self.check(&mut run, r, &mut pace).await?;
                run.cursor.clone_from(&r.id);
                self.db.scrub_progress(&run).await?;
            }
        }
        let report = Report {
            run_id: run.id.clone(),
            started_at: run.started_at,
            finished_at: now_ms(),
            resumed,
            regions: std::iter::once(self.primary.name).chain(self.replica.as_ref().map(|r| r.name)).collect(),
            checked: run.checked,
            healthy: run.healthy,
            repaired: run.repaired,
            failed: run.failed,
            bytes_read: run.bytes_read,
            findings: self.db.scrub_findings(&run.id, REPORT_FINDINGS).await?,
        };
        let signed = self.signer.sign(REPORT_KIND, &report)?;
        let text = serde_json::to_string(&signed)?;
        self.db.finish_scrub(&run, &text).await?;
        let outcome = if report.failed == 0 { Outcome::Success } else { Outcome::Failed };
        let metadata = json!({
            "run": report.run_id, "checked": report.checked, "repaired": report.repaired, "failed": report.failed,
            "bytes_read": report.bytes_read, "report_sha256": hex::encode(Sha256::digest(text.as_bytes())),
        });
        self.event(SYSTEM_TENANT, Action::ScrubCompleted, &report.run_id, outcome, metadata).await;
        self.metrics.scrub_runs.inc();
        if report.failed == 0 {
            self.metrics.scrub_last_success.set(report.finished_at / 1000);
        }
        tracing::info!(run = %report.run_id, checked = report.checked, repaired = report.repaired, failed = report.failed, "integrity scrub finished");
        Ok((report, signed))
    }

    /// Checks every region's copy of one recording and repairs what it can.
    async fn check(&self, run: &mut ScrubRun, r: &Recording, pace: &mut Pace) -> Result<(), ScrubError> {
        let key = r.object_key.clone();
        let expected = r.sha256.map(hex::encode).unwrap_or_default();
        let mut regions = vec![(&self.primary, false)];
        // A replica not yet written is the outbox's job, not damage.
        if let Some(replica) = &self.replica
            && r.replica.is_some()
        {
            regions.push((replica, true));
        }
        let mut states = Vec::new();
        for (region, is_replica) in regions {
            let (state, read) = hash_copy(region.store.as_ref(), &key, &expected, pace).await;
            run.bytes_read += i64::try_from(read).unwrap_or(i64::MAX);
            states.push((region, is_replica, state));
        }
        run.checked += 1;
        self.metrics.scrub_objects.inc();
        if states.iter().all(|(_, _, s)| matches!(s, Copy::Healthy)) {
            run.healthy += 1;
            return Ok(());
        }
        let source = states.iter().find(|(_, _, s)| matches!(s, Copy::Healthy)).map(|(region, _, _)| *region);
        let mut all_fixed = true;
        for (region, is_replica, state) in &states {
            let (problem, detail) = match state {
                Copy::Healthy => continue,
                Copy::Missing => ("missing", "no object under the key".to_owned()),
                Copy::Mismatch(actual) => ("mismatch", format!("sha256 {actual}, recorded {expected}")),
                Copy::Unreadable(e) => {
                    all_fixed = false;
                    self.finding(run, r, region.name, "unreadable", "retry", e).await?;
                    continue;
                }
            };
            let repaired = match (source, self.repair) {
                (Some(from), true) => self.restore(r, &key, from, region, *is_replica, &expected).await,
                (Some(_), false) => Err("repair disabled (--no-repair)".to_owned()),
                (None, _) => Err("no healthy copy in any region".to_owned()),
            };
            match repaired {
                Ok(version) => {
                    self.metrics.scrub_repairs.inc();
                    let detail =
                        format!("{detail}; restored as version {version} from {}", source.map_or("", |s| s.name));
                    self.finding(run, r, region.name, problem, "repaired", &detail).await?;
                    let metadata = json!({ "region": region.name, "problem": problem, "new_version": version, "sha256": expected, "run": run.id });
                    self.event(&r.family_id, Action::RecordingRepaired, &r.id, Outcome::Success, metadata).await;
                }
                Err(why) => {
                    all_fixed = false;
                    let detail = format!("{detail}; not repaired: {why}");
                    self.finding(run, r, region.name, problem, "unrepairable", &detail).await?;
                    let metadata = json!({ "region": region.name, "problem": problem, "why": why, "run": run.id });
                    self.event(&r.family_id, Action::RecordingIntegrityFailed, &r.id, Outcome::Failed, metadata).await;
                }
            }
        }
        if all_fixed {
            run.repaired += 1;
        } else {
            run.failed += 1;
            self.metrics.scrub_failures.inc();
        }
        Ok(())
    }

    /// Copies the healthy copy over the damaged one as a new version and checks it.
    async fn restore(
        &self,
        r: &Recording,
        key: &ObjectKey,
        from: &Region,
        to: &Region,
        is_replica: bool,
        expected: &str,
    ) -> Result<String, String> {
        // Erased since this page was read: restoring it would re-create erased data.
        match self.db.recording(&r.family_id, &r.id).await {
            Ok(Some(now)) if now.status == crate::db::RecordingStatus::Committed => {}
            Ok(_) => return Err("erased meanwhile: not restored".into()),
            Err(e) => return Err(e.to_string()),
        }
        let mut want = [0u8; 32];
        hex::decode_to_slice(expected, &mut want).map_err(|e| format!("recorded checksum: {e}"))?;
        let recorded = r.retain_until.and_then(|ms| OffsetDateTime::from_unix_timestamp(ms / 1000).ok());
        let floor = OffsetDateTime::now_utc() + self.min_retention;
        let until = recorded.map_or(floor, |t| t.max(floor));
        let info = copy_object(from.store.as_ref(), to.store.as_ref(), key, until, self.part_size, true, Some(want))
            .await
            .map_err(|e| format!("copy failed: {e}"))?;
        if hex::encode(info.sha256) != expected {
            return Err("the restored copy does not match the recorded checksum".into());
        }
        self.db.set_object_version(&r.id, is_replica, &info.version).await.map_err(|e| e.to_string())?;
        Ok(info.version)
    }

    async fn finding(
        &self,
        run: &ScrubRun,
        r: &Recording,
        region: &str,
        problem: &str,
        action: &str,
        detail: &str,
    ) -> Result<(), ScrubError> {
        tracing::warn!(recording = %r.id, region, problem, action, detail, "integrity scrub finding");
        let finding = Finding {
            recording_id: r.id.clone(),
            family_id: r.family_id.clone(),
            region: region.to_owned(),
            problem: problem.to_owned(),
            action: action.to_owned(),
            detail: detail.to_owned(),
            at: now_ms(),
        };
        Ok(self.db.scrub_finding(&run.id, &finding).await?)
    }

    /// Writes a row of the scrub's; a row it cannot write is logged (the scrub goes on).
    async fn event(&self, tenant: &str, action: Action, target: &str, outcome: Outcome, metadata: serde_json::Value) {
        if let Err(e) = self.audit.system(tenant, action, target, outcome, metadata).await {
            tracing::warn!(error = %e, action = action.as_str(), "cannot write the scrub's audit row");
        }
    }
}

/// Streams `key` from `store` (paced) and says whether its SHA-256 is `expected`.
async fn hash_copy(store: &dyn ObjectStore, key: &ObjectKey, expected: &str, pace: &mut Pace) -> (Copy, u64) {
    let mut body = match store.get(key, None).await {
        Ok(body) => body,
        Err(StoreError::NotFound) => return (Copy::Missing, 0),
        Err(e) => return (Copy::Unreadable(e.to_string()), 0),
    };
    let mut hasher = Sha256::new();
    let mut read = 0u64;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(chunk) => {
                hasher.update(&chunk);
                read += chunk.len() as u64;
                pace.read(chunk.len()).await;
            }
            Err(e) => return (Copy::Unreadable(e.to_string()), read),
        }
    }
    let actual = hex::encode(hasher.finalize());
    if actual == expected { (Copy::Healthy, read) } else { (Copy::Mismatch(actual), read) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On tokio's paused clock: virtual time, so the check is exact and instant.
    #[tokio::test(start_paused = true)]
    async fn reads_are_paced_to_the_byte_rate() {
        let start = Instant::now();
        let mut pace = Pace { start, bytes: 0, rate: 1 << 20 };
        for _ in 0..64 {
            pace.read(64 * 1024).await;
        }
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_secs(4) && elapsed < Duration::from_millis(4100), "{elapsed:?}");
    }
}
