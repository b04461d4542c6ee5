//! Rate limits on key release (per user) and on failed authentication (per client IP).

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The service's keyed rate limiters.
pub struct RateLimits {
    key_release: DefaultKeyedRateLimiter<String>,
    auth_failures: DefaultKeyedRateLimiter<String>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").finish_non_exhaustive()
    }
}

impl RateLimits {
    pub fn new(key_releases_per_minute: u32, auth_failures_per_minute: u32) -> Self {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self {
            key_release: RateLimiter::keyed(per_minute(key_releases_per_minute)),
            auth_failures: RateLimiter::keyed(per_minute(auth_failures_per_minute)),
        }
    }

    /// Whether `user` may release one more data key now.
    pub fn allow_key_release(&self, user: &str) -> bool {
        self.key_release.check_key(&user.to_owned()).is_ok()
    }

    /// Counts a failed authentication from `ip`; false once the IP is over its budget.
    pub fn allow_auth_failure(&self, ip: &str) -> bool {
        self.auth_failures.check_key(&ip.to_owned()).is_ok()
    }

    /// Forgets idle keys so the maps stay small.
    pub fn shrink(&self) {
        self.key_release.retain_recent();
        self.auth_failures.retain_recent();
        self.key_release.shrink_to_fit();
        self.auth_failures.shrink_to_fit();
    }
}
