//! The background jobs of `vault serve`: upload sweeps, purges and the trash (every
//! `uploads.sweep_secs`), the cross-region copier, and the daily anchor and scrub.
//! Each round's failure is counted and logged at ERROR (`Metrics::job_round`).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::Services;
use super::audit::{Action, Outcome};
use super::scrub::{ScrubError, Scrubber};
use crate::db::{ClaimError, RecordingStatus, now_ms};

/// The running jobs; stopped when dropped.
#[derive(Debug)]
pub(crate) struct Jobs(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Jobs {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Starts every background job.
pub(crate) fn spawn(s: &Arc<Services>) -> Jobs {
    let mut tasks = vec![
        tokio::spawn(sweep_forever(s.clone())),
        tokio::spawn(daily_forever(s.clone())),
        tokio::spawn(super::health::probe_forever(s.clone())),
    ];
    if let Some(replicator) = &s.replicator {
        tasks.push(tokio::spawn(replicator.clone().run()));
    }
    Jobs(tasks)
}

/// The daily jobs: the audit anchor and the integrity scrub, each run once its last
/// run is a whole interval old (so a restart neither skips nor repeats one). Looked at
/// every minute (or interval, if shorter).
async fn daily_forever(s: Arc<Services>) {
    let every = s.config.scrub.interval_secs;
    if every == 0 {
        return;
    }
    let started = now_ms();
    let look = Duration::from_secs(every.clamp(1, 60));
    loop {
        tokio::time::sleep(look).await;
        daily(&s, started).await;
    }
}

/// One look at the daily jobs: the audit anchor first (it is quick; the scrub may
/// read for hours), then the integrity scrub, each if due. The first anchor is due an
/// interval after the oldest audit row, the first scrub an interval after `started`.
pub(crate) async fn daily(s: &Services, started: i64) {
    let every = i64::try_from(s.config.scrub.interval_secs).unwrap_or(i64::MAX).saturating_mul(1000);
    let now = now_ms();
    let regions = super::anchors::regions(s);
    let anchor_due = async {
        Ok::<_, anyhow::Error>(match super::anchors::newest_at(regions[0].1.as_ref()).await? {
            Some(last) => now - i64::try_from(last.unix_timestamp_nanos() / 1_000_000).unwrap_or(0) >= every,
            None => s.audit.oldest_at().await?.is_some_and(|oldest| now - oldest >= every),
        })
    };
    match anchor_due.await {
        Ok(false) => {}
        Ok(true) if !lease(s, "anchor", now, every).await => {}
        Ok(true) => {
            // Anchored, but over broken chains: a failure to look into, not a success.
            let result = super::anchors::write_anchor(s).await.and_then(|(_, anchor)| match anchor.broken.as_slice() {
                [] => Ok(()),
                broken => Err(anyhow::anyhow!("audit chains broken (anchored as they stand): {}", broken.join(", "))),
            });
            s.metrics.job_round("anchor", &result);
            hold_until_next(s, "anchor", now, every).await;
        }
        Err(e) => s.metrics.job_round::<(), _>("anchor", &Err(e)),
    }
    match s.db.last_scrub_started().await {
        Ok(last) if now - last.unwrap_or(started) < every => {}
        Ok(_) => match Scrubber::new(s, true).run().await {
            Err(ScrubError::Claim(ClaimError::Busy(_))) => {}
            result => s.metrics.job_round("scrub", &result),
        },
        Err(e) => s.metrics.job_round::<(), _>("scrub", &Err(e)),
    }
}

/// How long a round's lease lasts while the round runs: five intervals, at least 30 s
/// and at most 10 minutes. An instance that dies mid-round holds the next round up by
/// at most this long; a round never runs longer than that in practice (each job works
/// in bounded batches).
fn round_lease_ms(every_ms: i64) -> i64 {
    every_ms.saturating_mul(5).clamp(30_000, 600_000)
}

/// Takes the lease of the singleton job `name` (run every `every_ms`) for a round
/// starting `now`; false when another instance holds it (that instance runs the
/// round). A failure to ask counts as the job's failure.
async fn lease(s: &Services, name: &'static str, now: i64, every_ms: i64) -> bool {
    match s.db.take_lease(name, &s.instance, now, now.saturating_add(round_lease_ms(every_ms))).await {
        Ok(taken) => taken,
        Err(e) => {
            s.metrics.job_round::<(), _>(name, &Err(anyhow::Error::from(e)));
            false
        }
    }
}

/// After a round that started at `started`: the lease runs on until just before the
/// next round is due, so that of several instances one runs each round.
async fn hold_until_next(s: &Services, name: &'static str, started: i64, every_ms: i64) {
    let next = started.saturating_add(every_ms).saturating_sub(500);
    if let Err(e) = s.db.hold_lease_until(name, &s.instance, next).await {
        tracing::warn!(job = name, error = %e, "cannot move the lease's end");
    }
}

async fn sweep_forever(s: Arc<Services>) {
    let every = Duration::from_secs(s.config.uploads.sweep_secs);
    let every_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        s.limits.shrink();
        s.reads.shrink();
        let started = now_ms();
        if !lease(&s, "sweep", started, every_ms).await {
            continue;
        }
        sweep_round(&s).await;
        hold_until_next(&s, "sweep", started, every_ms).await;
    }
}

/// One round of the sweep's jobs (this instance holds the `sweep` lease).
async fn sweep_round(s: &Services) {
    let swept = sweep(s).await;
    if let Ok(n @ 1..) = swept {
        tracing::info!(expired = n, "removed abandoned uploads");
    }
    s.metrics.job_round("upload_sweep", &swept);
    // Erased recordings leave the store as soon as their retention allows.
    let purged = super::erasure::purge(s).await;
    if let Ok(n @ 1..) = purged {
        tracing::info!(purged = n, "purged erased recordings");
    }
    s.metrics.job_round("purge", &purged);
    // Recordings whose time in the trash ended are erased, as if deleted now.
    let emptied = super::trash::empty(s, now_ms()).await;
    if let Ok(n @ 1..) = emptied {
        tracing::info!(erased = n, "erased recordings whose time in the trash ended");
    }
    s.metrics.job_round("trash", &emptied);
    // Expired share links keep no sealed keys, and past views go.
    let forgotten = s.db.forget_dead_links(now_ms()).await;
    if let Ok(n @ 1..) = forgotten {
        tracing::info!(sealed_keys = n, "dropped the sealed keys of expired share links");
    }
    s.metrics.job_round("share_links", &forgotten);
    // Export links nobody used go with their sealed recovery keys.
    let lapsed = s.db.forget_expired_export_links(now_ms()).await;
    s.metrics.job_round("export_links", &lapsed);
    // Studio deliveries: hand-offs on the studio's date, expired invitations
    // told to their studio, unclaimed deliveries erased by its policy.
    let deliveries = super::deliveries::run(s, now_ms()).await;
    if let Ok(n @ 1..) = deliveries {
        tracing::info!(deliveries = n, "moved studio deliveries on");
    }
    s.metrics.job_round("deliveries", &deliveries);
}

/// Removes uploads whose time ran out: the store's parts, the database rows; the
/// recording becomes `expired` (never listed). Also aborts store-side uploads the
/// database does not know (a crash between the two).
pub(crate) async fn sweep(s: &Services) -> anyhow::Result<usize> {
    let mut removed = 0;
    for upload in s.db.expired_uploads(now_ms(), 100).await? {
        let Some(r) = s.db.recording(&upload.family_id, &upload.recording_id).await? else { continue };
        s.store.abort_upload(&r.object_key, &upload.store_upload_id).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        s.db.set_recording_status(&r.family_id, &r.id, RecordingStatus::Pending, RecordingStatus::Expired).await?;
        s.db.delete_upload(&r.id).await?;
        let metadata = json!({ "expired_at": upload.expires_at });
        s.audit.system(&r.family_id, Action::UploadExpired, &r.id, Outcome::Success, metadata).await?;
        s.metrics.uploads_expired.inc();
        removed += 1;
    }
    let known = s.db.store_upload_ids().await?;
    let ttl = time::Duration::seconds(i64::try_from(s.config.uploads.ttl_secs).unwrap_or(i64::MAX));
    for (key, id, started) in s.store.list_uploads().await.map_err(|e| anyhow::anyhow!("{e:?}"))? {
        if !known.contains(&id) && started + ttl < time::OffsetDateTime::now_utc() {
            s.store.abort_upload(&key, &id).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
            removed += 1;
        }
    }
    Ok(removed)
}
