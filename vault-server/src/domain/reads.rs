//! Which ranged reads have been audited: one row per user, recording and session.
//!
//! A player seeking through a long video sends hundreds of range requests; logging
//! each would drown the log, logging only the one at offset 0 lets `Range: bytes=1-`
//! fetch a whole recording unseen. So the first read of a recording in a session is
//! logged, whatever its range, and the rest of that session's reads are not. A full
//! map forgets its oldest entries: the next read is then logged again (more rows,
//! never fewer).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a session's first read stands for its later ones.
const WINDOW: Duration = Duration::from_secs(12 * 3600);
/// Entries kept at most (about 150 bytes each).
const CAPACITY: usize = 100_000;

/// The reads already in the audit log.
#[derive(Debug, Default)]
pub(crate) struct AuditedReads(Mutex<HashMap<String, Instant>>);

impl AuditedReads {
    /// Whether this read is the first of (`family`, `issuer`, `user`, `recording`,
    /// `session`) within the window: then the caller writes the audit row.
    pub(crate) fn first(&self, family: &str, issuer: &str, user: &str, recording: &str, session: &str) -> bool {
        let key = serde_json::json!([family, issuer, user, recording, session]).to_string();
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if map.get(&key).is_some_and(|seen| now.duration_since(*seen) < WINDOW) {
            return false;
        }
        if map.len() >= CAPACITY {
            map.retain(|_, seen| now.duration_since(*seen) < WINDOW);
            if map.len() >= CAPACITY {
                map.clear();
            }
        }
        map.insert(key, now);
        true
    }

    /// Forgets entries past the window.
    pub(crate) fn shrink(&self) {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.retain(|_, seen| seen.elapsed() < WINDOW);
        map.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::AuditedReads;

    #[test]
    fn once_per_user_recording_and_session() {
        let reads = AuditedReads::default();
        assert!(reads.first("f", "iss", "u", "r", "s1"));
        assert!(!reads.first("f", "iss", "u", "r", "s1"));
        assert!(reads.first("f", "iss", "u", "r", "s2"), "a new session");
        assert!(reads.first("f", "iss", "u", "r2", "s1"), "another recording");
        assert!(reads.first("f", "iss", "v", "r", "s1"), "another user");
        assert!(reads.first("f", "other", "u", "r", "s1"), "another issuer");
    }
}
