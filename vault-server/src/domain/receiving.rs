//! Uploads whose data is being received right now: one request at a time per part
//! (`<recording>/<part>`), or per upload for a server-encrypted one (`<recording>`).
//!
//! Two requests sending the same part at once would both reach the store (the later
//! replacing the earlier) while the database records only the first. So a second
//! request for a part already being received is refused (409 `upload-busy`; clients
//! retry). Across instances the database's key on (recording, part) keeps one row, and
//! the store's per-part checksum makes a commit of other bytes fail rather than pass.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The uploads (or parts) receiving data in this process.
#[derive(Debug, Default)]
pub(crate) struct Receiving(Mutex<HashSet<String>>);

/// One upload's claim; given back on drop.
#[derive(Debug)]
pub(crate) struct Claim {
    set: Arc<Receiving>,
    id: String,
}

impl Receiving {
    /// Claims `recording` for one request, unless another holds it.
    pub(crate) fn claim(self: &Arc<Self>, recording: &str) -> Option<Claim> {
        let mut set = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        set.insert(recording.to_owned()).then(|| Claim { set: self.clone(), id: recording.to_owned() })
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.set.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_request_at_a_time_per_upload() {
        let receiving = Arc::new(Receiving::default());
        let first = receiving.claim("r1").unwrap();
        assert!(receiving.claim("r1").is_none());
        assert!(receiving.claim("r2").is_some());
        drop(first);
        assert!(receiving.claim("r1").is_some());
    }
}
