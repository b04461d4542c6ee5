//! The SHA-256 of an upload's object, taken while its parts land in place.
//!
//! Parts written in place arrive in any order and several at once. Each placed part is
//! noted here, and whoever notes the part that extends the gap-free prefix from the
//! object's start hashes it, with the parts that were waiting behind it, reading them
//! back while they are in the page cache. By the commit the digest is taken but for
//! the last part, so the commit no longer reads the whole object after the last byte
//! has arrived (a second per GiB on the embedded store, all of it on the uploader's
//! clock). In memory only, and never trusted over the disk: after a restart, or once a
//! part is rewritten where it was already hashed, the commit reads the object as before.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex as SyncMutex};

use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

/// Every upload's prefix, by upload id.
#[derive(Debug, Default)]
pub(super) struct Prefixes {
    uploads: SyncMutex<HashMap<String, Arc<Mutex<Prefix>>>>,
}

#[derive(Debug, Default)]
struct Prefix {
    hasher: Sha256,
    /// Bytes hashed, from the object's start.
    hashed: u64,
    /// Placed parts not hashed yet: offset → size.
    waiting: BTreeMap<u64, u64>,
    /// A part was rewritten where it had been hashed: the commit reads the object.
    spoiled: bool,
}

impl Prefixes {
    fn of(&self, upload: &str) -> Arc<Mutex<Prefix>> {
        let mut uploads = self.uploads.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        uploads.entry(upload.to_owned()).or_default().clone()
    }

    /// A part is about to be (re)written at `offset`: it waits no more, and if its
    /// bytes were hashed already the digest is no longer the object's.
    pub(super) async fn rewriting(&self, upload: &str, offset: u64) {
        let prefix = self.of(upload);
        let mut p = prefix.lock().await;
        p.waiting.remove(&offset);
        if offset < p.hashed {
            p.spoiled = true;
        }
    }

    /// Part of `size` bytes placed at `offset` in `object` (on disk): hashes what now
    /// follows the prefix. A failure to read only spoils the digest; the part stands.
    pub(super) async fn placed(&self, upload: &str, object: &Path, offset: u64, size: u64) {
        let prefix = self.of(upload);
        let mut p = prefix.lock().await;
        if p.spoiled {
            return;
        }
        p.waiting.insert(offset, size);
        advance(&mut p, object).await;
    }

    /// The object's SHA-256 if the prefix is exactly its `len` bytes once what is
    /// waiting is hashed; None if the commit must read the object. Forgets the upload.
    pub(super) async fn finish(&self, upload: &str, object: &Path, len: u64) -> Option<[u8; 32]> {
        let prefix = self.uploads.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(upload)?;
        let mut p = prefix.lock().await;
        advance(&mut p, object).await;
        (!p.spoiled && p.hashed == len && p.waiting.is_empty()).then(|| std::mem::take(&mut p.hasher).finalize().into())
    }

    /// The upload is gone (aborted or expired).
    pub(super) fn forget(&self, upload: &str) {
        self.uploads.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(upload);
    }

    /// How many bytes of `upload` are hashed, if it has a prefix that is not spoiled.
    #[cfg(test)]
    pub(super) async fn hashed(&self, upload: &str) -> Option<u64> {
        let prefix = self.uploads.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(upload)?.clone();
        let p = prefix.lock().await;
        (!p.spoiled).then_some(p.hashed)
    }
}

/// Hashes the waiting parts that continue the prefix, in order. The state changes only
/// once a part is hashed: a request dropped while it waits (its client gone) leaves the
/// prefix as it was, the part still waiting.
async fn advance(p: &mut Prefix, object: &Path) {
    while !p.spoiled {
        let Some(&size) = p.waiting.get(&p.hashed) else { return };
        let (hasher, path, from) = (p.hasher.clone(), object.to_path_buf(), p.hashed);
        match tokio::task::spawn_blocking(move || hash_range(hasher, &path, from, size)).await {
            Ok(Ok(hasher)) => {
                p.waiting.remove(&from);
                p.hasher = hasher;
                p.hashed += size;
            }
            _ => p.spoiled = true,
        }
    }
}

/// `hasher` fed with `size` bytes of the file at `path` from `from` (the commit's
/// reading of a whole object too); a file that ends before is `UnexpectedEof`.
pub(super) fn hash_range(mut hasher: Sha256, path: &Path, from: u64, size: u64) -> std::io::Result<Sha256> {
    let file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; (1 << 20).min(usize::try_from(size).unwrap_or(usize::MAX))];
    let mut at = 0u64;
    while at < size {
        let want = usize::try_from((size - at).min(buf.len() as u64)).unwrap_or(buf.len());
        let n = file.read_at(&mut buf[..want], from + at)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    Ok(hasher)
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    /// A part's request dropped while its bytes are hashed (its client gone) leaves the
    /// prefix whole: the part, sent again, is hashed from where the prefix stood.
    #[tokio::test]
    async fn a_request_dropped_while_hashing_leaves_the_prefix_whole() {
        let dir = tempfile::tempdir().unwrap();
        let object = dir.path().join("object");
        let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&object, &bytes).unwrap();
        let prefixes = Prefixes::default();
        prefixes.placed("u", &object, 0, 1_000_000).await;
        assert!(prefixes.placed("u", &object, 1_000_000, 2_000_000).now_or_never().is_none(), "dropped mid-hash");
        prefixes.rewriting("u", 1_000_000).await;
        prefixes.placed("u", &object, 1_000_000, 2_000_000).await;
        let whole: [u8; 32] = Sha256::digest(&bytes).into();
        assert_eq!(prefixes.finish("u", &object, 3_000_000).await, Some(whole));
    }
}
