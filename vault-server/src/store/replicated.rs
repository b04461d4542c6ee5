//! Two regions behind one [`ObjectStore`]: writes go to the primary region, reads fall
//! back to the replica when the primary fails, and [`ReplicatedStore::replicate`]
//! copies a committed object across (driven by the outbox in `crate::replication`).

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::BytesMut;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{ByteStream, ObjectInfo, ObjectKey, ObjectStore, PartReceipt, StoreError, put_part_bytes};
use crate::aws::Failover;

pub(crate) struct ReplicatedStore {
    primary: Arc<dyn ObjectStore>,
    replica: Arc<dyn ObjectStore>,
    failover: Failover,
    /// Bytes per part when copying to the replica (one part in memory at a time).
    part_size: usize,
}

impl std::fmt::Debug for ReplicatedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicatedStore").field("failover", &self.failover).finish_non_exhaustive()
    }
}

impl ReplicatedStore {
    pub(crate) fn new(
        primary: Arc<dyn ObjectStore>,
        replica: Arc<dyn ObjectStore>,
        failover: Failover,
        part_size: usize,
    ) -> Self {
        Self { primary, replica, failover, part_size }
    }

    pub(crate) fn replica(&self) -> &Arc<dyn ObjectStore> {
        &self.replica
    }

    /// Copies `key` from the primary to the replica region, part by part, and checks
    /// that the replica holds exactly `sha256`. Idempotent: an existing replica is
    /// verified, never overwritten.
    pub(crate) async fn replicate(
        &self,
        key: &ObjectKey,
        sha256: [u8; 32],
        retain_until: OffsetDateTime,
    ) -> Result<ObjectInfo, StoreError> {
        let info = match self.copy(key, retain_until, sha256).await {
            Ok(info) => info,
            Err(StoreError::AlreadyExists) => self.replica.head(key).await?,
            Err(e) => return Err(e),
        };
        if info.sha256 != sha256 {
            return Err(StoreError::ChecksumMismatch);
        }
        Ok(info)
    }

    async fn copy(
        &self,
        key: &ObjectKey,
        retain_until: OffsetDateTime,
        sha256: [u8; 32],
    ) -> Result<ObjectInfo, StoreError> {
        let to = self.replica.as_ref();
        copy_object(self.primary.as_ref(), to, key, retain_until, self.part_size, false, Some(sha256)).await
    }

    pub(crate) fn primary(&self) -> &Arc<dyn ObjectStore> {
        &self.primary
    }

    /// Reads from one region, then the other; remembers a failing primary.
    async fn read<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: Fn(Arc<dyn ObjectStore>) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let primary_first = self.failover.primary_first();
        let (first, second) =
            if primary_first { (&self.primary, &self.replica) } else { (&self.replica, &self.primary) };
        match op(first.clone()).await {
            Ok(v) => {
                if primary_first {
                    self.failover.primary_ok();
                }
                Ok(v)
            }
            Err(StoreError::InvalidRange) => Err(StoreError::InvalidRange),
            Err(e) => {
                if primary_first && matches!(e, StoreError::Backend(_)) {
                    self.failover.primary_failed();
                }
                tracing::warn!(error = %e, primary_first, "read failed in one region; trying the other");
                op(second.clone()).await.map_err(|other| if matches!(other, StoreError::NotFound) { e } else { other })
            }
        }
    }
}

#[async_trait]
impl ObjectStore for ReplicatedStore {
    async fn create_upload(&self, key: &ObjectKey, retain_until: OffsetDateTime) -> Result<String, StoreError> {
        self.primary.create_upload(key, retain_until).await
    }

    async fn put_part(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        part_number: u32,
        offset: Option<u64>,
        len: u64,
        sha256: [u8; 32],
        body: ByteStream,
    ) -> Result<PartReceipt, StoreError> {
        self.primary.put_part(key, upload_id, part_number, offset, len, sha256, body).await
    }

    async fn complete_upload(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        parts: &[PartReceipt],
    ) -> Result<ObjectInfo, StoreError> {
        self.primary.complete_upload(key, upload_id, parts).await
    }

    async fn complete_new_version(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        parts: &[PartReceipt],
    ) -> Result<ObjectInfo, StoreError> {
        self.primary.complete_new_version(key, upload_id, parts).await
    }

    async fn abort_upload(&self, key: &ObjectKey, upload_id: &str) -> Result<(), StoreError> {
        self.primary.abort_upload(key, upload_id).await
    }

    async fn get(&self, key: &ObjectKey, range: Option<Range<u64>>) -> Result<ByteStream, StoreError> {
        self.read(|store| {
            let range = range.clone();
            async move { store.get(key, range).await }
        })
        .await
    }

    /// The primary's copy (used when committing, where the primary is the truth).
    async fn head(&self, key: &ObjectKey) -> Result<ObjectInfo, StoreError> {
        self.primary.head(key).await
    }

    /// Both regions' copies, each tried whatever the other answered (a retried purge
    /// must still reach the replica after the primary is gone); NotFound only if
    /// neither region has it.
    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        let primary = self.primary.delete(key).await;
        let replica = self.replica.delete(key).await;
        match (primary, replica) {
            (Err(StoreError::NotFound), Err(StoreError::NotFound)) => Err(StoreError::NotFound),
            (Err(e), _) if !matches!(e, StoreError::NotFound) => Err(e),
            (_, Err(e)) if !matches!(e, StoreError::NotFound) => Err(e),
            _ => Ok(()),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StoreError> {
        self.read(|store| async move { store.list(prefix).await }).await
    }

    async fn list_uploads(&self) -> Result<Vec<(ObjectKey, String, OffsetDateTime)>, StoreError> {
        self.primary.list_uploads().await
    }

    /// The primary region's: callers that must see both regions ask each (`primary()`, `replica()`).
    async fn list_versions(&self, prefix: &str) -> Result<Vec<super::ListedVersion>, StoreError> {
        self.primary.list_versions(prefix).await
    }

    async fn get_version(&self, key: &ObjectKey, version: &str) -> Result<ByteStream, StoreError> {
        self.primary.get_version(key, version).await
    }
}

/// Copies `key` from one store to another, part by part (one part in memory), as a
/// write-once object or, with `new_version`, as a new version over a damaged copy.
/// With `expected`, bytes of another SHA-256 are never committed (the upload is
/// aborted): a source that changed since it was checked cannot spread.
/// How long a copy waits for the source's next bytes before it gives up (and is tried
/// again later): a source that hangs must not hold the copy, nor its claim, for ever.
const STALL: std::time::Duration = std::time::Duration::from_secs(60);

/// The source's next chunk, or an error if none comes within `limit`.
async fn next_within(source: &mut ByteStream, limit: std::time::Duration) -> Result<Option<bytes::Bytes>, StoreError> {
    match tokio::time::timeout(limit, source.next()).await {
        Err(_) => Err(StoreError::Backend(format!("the source sent nothing for {} s", limit.as_secs()))),
        Ok(None) => Ok(None),
        Ok(Some(chunk)) => chunk.map(Some).map_err(|e| StoreError::Backend(e.to_string())),
    }
}

pub(crate) async fn copy_object(
    from: &dyn ObjectStore,
    to: &dyn ObjectStore,
    key: &ObjectKey,
    retain_until: OffsetDateTime,
    part_size: usize,
    new_version: bool,
    expected: Option<[u8; 32]>,
) -> Result<ObjectInfo, StoreError> {
    let mut source = from.get(key, None).await?;
    let upload = to.create_upload(key, retain_until).await?;
    let result = async {
        let mut parts = Vec::new();
        let mut buffer = BytesMut::with_capacity(part_size);
        let mut hasher = Sha256::new();
        let mut done = false;
        while !done {
            match next_within(&mut source, STALL).await? {
                Some(chunk) => {
                    hasher.update(&chunk);
                    buffer.extend_from_slice(&chunk);
                }
                None => done = true,
            }
            while buffer.len() >= part_size || (done && (!buffer.is_empty() || parts.is_empty())) {
                let take = buffer.len().min(part_size);
                let part = buffer.split_to(take).freeze();
                parts.push(put_part_bytes(to, key, &upload, parts.len() + 1, part).await?);
            }
        }
        if expected.is_some_and(|want| want != <[u8; 32]>::from(hasher.finalize_reset())) {
            return Err(StoreError::ChecksumMismatch);
        }
        if new_version {
            to.complete_new_version(key, &upload, &parts).await
        } else {
            to.complete_upload(key, &upload, &parts).await
        }
    }
    .await;
    if result.is_err() {
        let _ = to.abort_upload(key, &upload).await;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_source_that_stops_sending_fails_the_copy_instead_of_holding_it() {
        let chunk = bytes::Bytes::from_static(b"frames");
        let mut source: ByteStream =
            Box::pin(futures_util::stream::iter([Ok(chunk.clone())]).chain(futures_util::stream::pending()));
        let limit = std::time::Duration::from_millis(50);
        assert_eq!(next_within(&mut source, limit).await.unwrap(), Some(chunk));
        let stalled = next_within(&mut source, limit).await;
        assert!(matches!(&stalled, Err(StoreError::Backend(m)) if m.contains("sent nothing")), "{stalled:?}");
        let mut ended: ByteStream = Box::pin(futures_util::stream::empty());
        assert_eq!(next_within(&mut ended, limit).await.unwrap(), None);
    }
}
