//! Names that one holder at a time may hold in this process (an upload's part being
//! received, a part being written): a claim is given back when it drops, however its
//! holder ends.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The names held right now.
#[derive(Debug, Default)]
pub(crate) struct Claims(Mutex<HashSet<String>>);

/// One holder's claim on a name; given back on drop.
#[derive(Debug)]
pub(crate) struct Claim {
    set: Arc<Claims>,
    id: String,
}

impl Claims {
    /// Claims `id` for one holder, unless another holds it.
    pub(crate) fn claim(self: &Arc<Self>, id: &str) -> Option<Claim> {
        let mut set = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        set.insert(id.to_owned()).then(|| Claim { set: self.clone(), id: id.to_owned() })
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
    fn one_holder_at_a_time_per_name() {
        let claims = Arc::new(Claims::default());
        let first = claims.claim("r1").unwrap();
        assert!(claims.claim("r1").is_none());
        assert!(claims.claim("r2").is_some());
        drop(first);
        assert!(claims.claim("r1").is_some());
    }
}
