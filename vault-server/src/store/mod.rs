//! Object storage for ciphertext: write-once objects under retention.
//!
//! Embedded mode keeps objects on the local filesystem ([`local`]); production uses
//! S3 with Object Lock behind the same trait. Keys are opaque and tenant-scoped
//! (`families/<hash>/recordings/<uuid>`), never titles.

pub(crate) mod local;
pub(crate) mod replicated;
pub(crate) mod s3;

use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A stream of body bytes.
pub(crate) type ByteStream = futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>;

/// An object name: `[a-z0-9-]` segments joined by `/` (1 to 8 segments of 1 to 64
/// characters), so it can never traverse a path or smuggle a title.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ObjectKey(String);

impl ObjectKey {
    pub(crate) fn new(key: impl Into<String>) -> Result<Self, StoreError> {
        let key = key.into();
        let segments: Vec<&str> = key.split('/').collect();
        let valid = (1..=8).contains(&segments.len())
            && segments.iter().all(|s| {
                (1..=64).contains(&s.len())
                    && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            });
        if valid { Ok(Self(key)) } else { Err(StoreError::InvalidKey) }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A family's segment in object keys: a hash of its id, so any identity provider's ids
/// fit the key alphabet and titles never reach the store.
pub(crate) fn tenant_segment(family_id: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(family_id.as_bytes())[..16])
}

/// What the store knows of a committed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectInfo {
    pub size: u64,
    pub sha256: [u8; 32],
    pub version: String,
    pub retain_until: OffsetDateTime,
}

/// One version, or delete marker, of an object: what a versioned listing shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListedVersion {
    pub key: ObjectKey,
    pub version: String,
    /// A delete marker: it hides the versions below it from plain reads and listings.
    pub delete_marker: bool,
}

/// A stored part of an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PartReceipt {
    pub part_number: u32,
    pub size: u64,
    pub sha256: [u8; 32],
    pub etag: String,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("object not found")]
    NotFound,
    #[error("object already exists (write-once)")]
    AlreadyExists,
    #[error("object is under retention until {until}")]
    Retained { until: OffsetDateTime },
    #[error("checksum mismatch")]
    ChecksumMismatch,
    #[error("body length does not match the declared length")]
    SizeMismatch,
    #[error("invalid object key")]
    InvalidKey,
    #[error("range not satisfiable")]
    InvalidRange,
    #[error("upload not found")]
    UploadNotFound,
    /// The body stream failed: the client went away, or the server's verifier refused the bytes.
    #[error("upload body failed: {0}")]
    Body(std::io::Error),
    /// Details for the log, not for clients.
    #[error("storage backend error")]
    Backend(String),
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

/// Write-once object storage with multipart uploads and retention.
#[async_trait]
pub(crate) trait ObjectStore: Send + Sync + 'static {
    /// Starts a multipart upload for `key`, to be committed with `retain_until`.
    async fn create_upload(&self, key: &ObjectKey, retain_until: OffsetDateTime) -> Result<String, StoreError>;
    /// Stores part `part_number` (1..=10000) of `len` bytes; it counts only if the
    /// whole body arrived with this length and SHA-256. Re-sending replaces it.
    /// `offset`, when the caller knows it, is where the part lies in the object: a
    /// store may then write it in place rather than copy it at the commit.
    #[allow(clippy::too_many_arguments, reason = "one request's facts, as S3's UploadPart takes them")]
    async fn put_part(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        part_number: u32,
        offset: Option<u64>,
        len: u64,
        sha256: [u8; 32],
        body: ByteStream,
    ) -> Result<PartReceipt, StoreError>;
    /// Commits the parts, in order, as the object: atomically and never over an
    /// existing object.
    async fn complete_upload(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        parts: &[PartReceipt],
    ) -> Result<ObjectInfo, StoreError>;
    /// Commits the parts as a **new version** of `key` whether or not the key holds
    /// one: older versions are kept (under their own retention), never overwritten.
    /// Only the integrity scrub uses it, to restore a missing or damaged copy.
    async fn complete_new_version(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        parts: &[PartReceipt],
    ) -> Result<ObjectInfo, StoreError>;
    /// Discards an upload (an unknown one is fine).
    async fn abort_upload(&self, key: &ObjectKey, upload_id: &str) -> Result<(), StoreError>;
    /// The object, or a non-empty `range` of it within its size.
    async fn get(&self, key: &ObjectKey, range: Option<Range<u64>>) -> Result<ByteStream, StoreError>;
    async fn head(&self, key: &ObjectKey) -> Result<ObjectInfo, StoreError>;
    /// Refused with [`StoreError::Retained`] before the retention date.
    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError>;
    /// Keys of committed objects under `prefix` (a whole segment path, e.g. `anchors`).
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StoreError>;
    /// Every version and every delete marker under `prefix`, which a plain listing
    /// hides: audit anchors are read this way, so a delete marker cannot hide one.
    async fn list_versions(&self, prefix: &str) -> Result<Vec<ListedVersion>, StoreError>;
    /// One version of an object, whatever delete markers lie above it.
    async fn get_version(&self, key: &ObjectKey, version: &str) -> Result<ByteStream, StoreError>;
    /// Uploads under way: (key, upload id, started), to clean up after a crash.
    async fn list_uploads(&self) -> Result<Vec<(ObjectKey, String, OffsetDateTime)>, StoreError>;
}

/// Stores part `n` of an upload from bytes in memory (their SHA-256 computed here).
pub(crate) async fn put_part_bytes(
    store: &dyn ObjectStore,
    key: &ObjectKey,
    upload: &str,
    n: usize,
    part: Bytes,
) -> Result<PartReceipt, StoreError> {
    use sha2::{Digest, Sha256};
    let sha: [u8; 32] = Sha256::digest(&part).into();
    let len = part.len() as u64;
    let body: ByteStream = Box::pin(futures_util::stream::once(async move { Ok(part) }));
    let n = u32::try_from(n).map_err(|_| StoreError::Backend("too many parts".into()))?;
    store.put_part(key, upload, n, None, len, sha, body).await
}

/// Stores a small object (a signed report, an audit anchor) in one part, write-once.
pub(crate) async fn put_small(
    store: &dyn ObjectStore,
    key: &ObjectKey,
    bytes: Bytes,
    retain_until: OffsetDateTime,
) -> Result<ObjectInfo, StoreError> {
    let upload = store.create_upload(key, retain_until).await?;
    let result = async {
        let part = put_part_bytes(store, key, &upload, 1, bytes).await?;
        store.complete_upload(key, &upload, &[part]).await
    }
    .await;
    if result.is_err() {
        let _ = store.abort_upload(key, &upload).await;
    }
    result
}

/// Reads an object (or a range of it) of at most `limit` bytes into memory: reports,
/// anchors, message headers; never media.
pub(crate) async fn get_small(
    store: &dyn ObjectStore,
    key: &ObjectKey,
    range: Option<Range<u64>>,
    limit: usize,
) -> Result<Vec<u8>, StoreError> {
    use futures_util::StreamExt;
    let mut body = store.get(key, range).await?;
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk?);
        if out.len() > limit {
            return Err(StoreError::SizeMismatch);
        }
    }
    Ok(out)
}
