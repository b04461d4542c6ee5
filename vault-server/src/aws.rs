//! The AWS SDK settings both AWS backends share: a region (and endpoint override),
//! credentials from the standard provider chain, jittered retries and timeouts.
//!
//! The SDK's own retry strategy (standard mode: exponential backoff with full jitter,
//! on throttling, 5xx, timeouts and connection errors, with a retry budget) is used
//! rather than a loop of ours; only the attempt count and timeouts are ours to set.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::config::{AwsSettings, RegionSettings};

/// Loads the SDK configuration of one region: `timeouts` from [`write_timeouts`] (S3
/// writes, which may take long and never fail over) or [`budget_timeouts`] (KMS calls
/// and object reads, which must leave time for the other region).
pub(crate) async fn sdk_config(settings: &AwsSettings, region: &RegionSettings, timeouts: TimeoutConfig) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.region.clone()))
        .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts))
        .timeout_config(timeouts);
    if let Some(endpoint) = &region.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// Per attempt, retried `max_attempts` times: for S3 writes (parts of 8 MiB and more).
pub(crate) fn write_timeouts(settings: &AwsSettings) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(settings.connect_timeout_secs))
        .operation_attempt_timeout(Duration::from_secs(settings.attempt_timeout_secs))
        .build()
}

/// As [`write_timeouts`], but the whole call, retries included, ends after
/// `region_budget_secs`: a hanging region then fails over (and is marked down) within
/// the request that met it, instead of the request timing out with the primary still
/// believed healthy. Applies to KMS and to S3 reads (a streamed body is not timed:
/// only the wait for its headers).
pub(crate) fn budget_timeouts(settings: &AwsSettings) -> TimeoutConfig {
    let budget = Duration::from_secs(settings.region_budget_secs);
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(settings.connect_timeout_secs).min(budget))
        .operation_attempt_timeout(Duration::from_secs(settings.attempt_timeout_secs).min(budget))
        .operation_timeout(budget)
        .build()
}

/// Remembers that a region failed, so the next calls go to the other region at once
/// instead of waiting out timeouts and retries again.
#[derive(Debug)]
pub(crate) struct Failover {
    down_until_ms: AtomicI64,
    hold_ms: i64,
    /// When a caller last tried the primary while it was marked down.
    last_probe_ms: AtomicI64,
}

/// While the primary is marked down, one caller in this many milliseconds tries it anyway.
const PROBE_EVERY_MS: i64 = 2000;

impl Failover {
    pub(crate) fn new(hold: Duration) -> Self {
        Self {
            down_until_ms: AtomicI64::new(0),
            hold_ms: i64::try_from(hold.as_millis()).unwrap_or(i64::MAX),
            last_probe_ms: AtomicI64::new(0),
        }
    }

    /// For work only the primary can do (a new data key): whether to try it now. Yes
    /// while it is believed up; while marked down, only for one caller every two
    /// seconds (who finds out it is back), the others answered at once.
    pub(crate) fn try_primary(&self) -> bool {
        if self.primary_first() {
            return true;
        }
        let (now, last) = (crate::clock::now_ms(), self.last_probe_ms.load(Ordering::Relaxed));
        now - last >= PROBE_EVERY_MS
            && self.last_probe_ms.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }

    /// Whether the primary region should be tried first.
    pub(crate) fn primary_first(&self) -> bool {
        crate::clock::now_ms() >= self.down_until_ms.load(Ordering::Relaxed)
    }

    pub(crate) fn primary_failed(&self) {
        self.down_until_ms.store(crate::clock::now_ms().saturating_add(self.hold_ms), Ordering::Relaxed);
    }

    pub(crate) fn primary_ok(&self) {
        self.down_until_ms.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_primary_is_skipped_and_probed_by_one_caller_at_a_time() {
        let f = Failover::new(Duration::from_secs(30));
        assert!(f.primary_first() && f.try_primary());
        f.primary_failed();
        assert!(!f.primary_first());
        assert!(f.try_primary(), "the first caller probes");
        assert!(!f.try_primary(), "the next ones are answered at once");
        f.primary_ok();
        assert!(f.primary_first() && f.try_primary());
    }
}
