//! Rate limits on key release (per user), on failed authentication (per client
//! address) and on refusals written to the audit log (per identity and per address):
//! rows are permanent, so nobody may write them without bound.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The service's keyed rate limiters.
pub(crate) struct RateLimits {
    key_release: DefaultKeyedRateLimiter<String>,
    auth_failures: DefaultKeyedRateLimiter<String>,
    denials_by_caller: DefaultKeyedRateLimiter<String>,
    denials_by_address: DefaultKeyedRateLimiter<String>,
    link_opens: DefaultKeyedRateLimiter<String>,
}

/// Refusal rows one caller may cause per minute before further refusals go
/// unrecorded (they are still refused)…
const DENIAL_ROWS_PER_MINUTE: u32 = 60;
/// …and one address (many people may share one, behind a NAT).
const DENIAL_ROWS_PER_ADDRESS_MINUTE: u32 = 600;
/// Share links one address may open per minute, found or not: a viewer opens a link
/// once (seeking needs no new opening), and guessing ids gets nowhere.
const LINK_OPENS_PER_ADDRESS_MINUTE: u32 = 30;

/// The key of a client address: an IPv6 client can change the low 64 bits at will,
/// so IPv6 addresses count by their /64.
fn address_key(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(IpAddr::V6(v6)) => v6.to_ipv4_mapped().map_or_else(|| ip.to_owned(), |v4| v4.to_string()),
        _ => ip.to_owned(),
    }
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").finish_non_exhaustive()
    }
}

impl RateLimits {
    pub(crate) fn new(key_releases_per_minute: u32, auth_failures_per_minute: u32) -> Self {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self {
            key_release: RateLimiter::keyed(per_minute(key_releases_per_minute)),
            auth_failures: RateLimiter::keyed(per_minute(auth_failures_per_minute)),
            denials_by_caller: RateLimiter::keyed(per_minute(DENIAL_ROWS_PER_MINUTE)),
            denials_by_address: RateLimiter::keyed(per_minute(DENIAL_ROWS_PER_ADDRESS_MINUTE)),
            link_opens: RateLimiter::keyed(per_minute(LINK_OPENS_PER_ADDRESS_MINUTE)),
        }
    }

    /// Whether `user` may release one more data key now.
    pub(crate) fn allow_key_release(&self, user: &str) -> bool {
        self.key_release.check_key(&user.to_owned()).is_ok()
    }

    /// Counts a failed authentication from `ip`; false once the address is over its budget.
    pub(crate) fn allow_auth_failure(&self, ip: &str) -> bool {
        self.auth_failures.check_key(&address_key(ip)).is_ok()
    }

    /// Counts a refusal row for `who` (issuer and subject) from `ip`; false once either
    /// is over its budget (the refusal then goes unrecorded).
    pub(crate) fn allow_denial_row(&self, who: &str, ip: &str) -> bool {
        let by_caller = self.denials_by_caller.check_key(&who.to_owned()).is_ok();
        let by_address = self.denials_by_address.check_key(&address_key(ip)).is_ok();
        by_caller && by_address
    }

    /// Counts one opening of a share link from `ip`; false once the address is over its budget.
    pub(crate) fn allow_link_open(&self, ip: &str) -> bool {
        self.link_opens.check_key(&address_key(ip)).is_ok()
    }

    /// Forgets idle keys so the maps stay small.
    pub(crate) fn shrink(&self) {
        for limiter in [
            &self.key_release,
            &self.auth_failures,
            &self.denials_by_caller,
            &self.denials_by_address,
            &self.link_opens,
        ] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_count_by_their_64_and_refusal_rows_are_bounded() {
        assert_eq!(address_key("2001:db8:1:2:aaaa::1"), address_key("2001:db8:1:2:bbbb::9"));
        assert_ne!(address_key("2001:db8:1:2::1"), address_key("2001:db8:1:3::1"));
        assert_eq!(address_key("::ffff:192.0.2.7"), "192.0.2.7");
        let limits = RateLimits::new(10, 10);
        let allowed = (0..100).filter(|i| limits.allow_denial_row("iss sub", &format!("2001:db8::{i:x}"))).count();
        assert_eq!(allowed, DENIAL_ROWS_PER_MINUTE as usize, "one caller, however many addresses");
        let allowed = (0..1000).filter(|i| limits.allow_denial_row(&format!("iss u{i}"), "2001:db8::1:2")).count();
        assert_eq!(
            allowed,
            DENIAL_ROWS_PER_ADDRESS_MINUTE as usize - 100,
            "one /64, whatever the callers (100 used above)"
        );
        assert!(limits.allow_denial_row("iss other", "198.51.100.1"), "another caller from another address");
    }
}
