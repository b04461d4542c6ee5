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

/// Loads the SDK configuration of one region.
pub async fn sdk_config(settings: &AwsSettings, region: &RegionSettings) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.region.clone()))
        .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(settings.connect_timeout_secs))
                .operation_attempt_timeout(Duration::from_secs(settings.attempt_timeout_secs))
                .build(),
        );
    if let Some(endpoint) = &region.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// Remembers that a region failed, so the next calls go to the other region at once
/// instead of waiting out timeouts and retries again.
#[derive(Debug)]
pub struct Failover {
    down_until_ms: AtomicI64,
    hold_ms: i64,
}

impl Failover {
    pub fn new(hold: Duration) -> Self {
        Self { down_until_ms: AtomicI64::new(0), hold_ms: i64::try_from(hold.as_millis()).unwrap_or(i64::MAX) }
    }

    /// Whether the primary region should be tried first.
    pub fn primary_first(&self) -> bool {
        crate::db::now_ms() >= self.down_until_ms.load(Ordering::Relaxed)
    }

    pub fn primary_failed(&self) {
        self.down_until_ms.store(crate::db::now_ms().saturating_add(self.hold_ms), Ordering::Relaxed);
    }

    pub fn primary_ok(&self) {
        self.down_until_ms.store(0, Ordering::Relaxed);
    }
}
