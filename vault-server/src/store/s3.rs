//! S3 with Object Lock: one bucket of one region.
//!
//! Every object is written by multipart upload with `ObjectLockMode=COMPLIANCE` and a
//! retain-until date, each part with its SHA-256 checksum, never over an existing
//! object (`If-None-Match: *` on completion, and a look first). After completion the
//! version's lock is read back with `HeadObject` and applied with `PutObjectRetention`
//! where missing (some S3-compatible stores, moto among them, drop lock headers on
//! multipart uploads), and the whole object is read back and hashed: the SHA-256 the
//! database records is of the bytes the store actually holds, not of what was sent.
//!
//! Parts are spooled to a local file while they are checked, so the SDK can retry a
//! throttled or failed part from the file (a network stream cannot be replayed) and
//! memory stays flat. Which parts an upload holds is the metadata database's business
//! (`ListParts` is not needed).

use std::ops::Range;
use std::path::PathBuf;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::primitives::{ByteStream as S3Body, DateTime};
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ObjectLockEnabled, ObjectLockMode, ObjectLockRetention,
    ObjectLockRetentionMode,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{ByteStream, ListedVersion, ObjectInfo, ObjectKey, ObjectStore, PartReceipt, StoreError};

/// Object metadata naming the retain-until date chosen at upload start, so completion
/// can restore the lock if the store dropped it.
const RETAIN_META: &str = "vault-retain-until";

#[derive(Debug, Clone)]
pub(crate) struct S3Store {
    client: Client,
    bucket: String,
    /// The region's name, for logs.
    pub region: String,
    spool: PathBuf,
    /// Timeouts of reads (GET, HEAD): a region's budget, so reads fail over in time.
    read_timeouts: aws_config::timeout::TimeoutConfig,
}

impl S3Store {
    pub(crate) fn new(
        client: Client,
        bucket: String,
        region: String,
        spool: PathBuf,
        read_timeouts: aws_config::timeout::TimeoutConfig,
    ) -> Result<Self, StoreError> {
        std::fs::create_dir_all(&spool)?;
        Ok(Self { client, bucket, region, spool, read_timeouts })
    }

    /// The configuration override of a read: the region's budget for the whole call.
    fn read_budget(&self) -> aws_sdk_s3::config::Builder {
        aws_sdk_s3::config::Builder::default().timeout_config(self.read_timeouts.clone())
    }

    pub(crate) fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Creates the bucket with Object Lock (and so versioning) enabled, or checks that
    /// an existing one has it. A bucket without Object Lock cannot get it safely later,
    /// so Vault refuses to use one.
    pub(crate) async fn ensure_bucket(&self, create: bool) -> anyhow::Result<()> {
        let exists = match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => true,
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => false,
            Err(e) => anyhow::bail!("cannot reach bucket {} in {}: {}", self.bucket, self.region, describe(&e)),
        };
        if !exists {
            if !create {
                anyhow::bail!("bucket {} does not exist in {}: run `vault setup`", self.bucket, self.region);
            }
            let mut request = self.client.create_bucket().bucket(&self.bucket).object_lock_enabled_for_bucket(true);
            if self.region != "us-east-1" {
                request = request.create_bucket_configuration(
                    aws_sdk_s3::types::CreateBucketConfiguration::builder()
                        .location_constraint(self.region.as_str().into())
                        .build(),
                );
            }
            request.send().await.map_err(|e| {
                anyhow::anyhow!("cannot create bucket {} in {}: {}", self.bucket, self.region, describe(&e))
            })?;
            tracing::info!(bucket = %self.bucket, region = %self.region, "created Object Lock bucket");
            self.abort_stale_uploads().await?;
        }
        let lock = self.client.get_object_lock_configuration().bucket(&self.bucket).send().await;
        let enabled = matches!(
            lock.as_ref().ok().and_then(|o| o.object_lock_configuration()).and_then(|c| c.object_lock_enabled()),
            Some(ObjectLockEnabled::Enabled)
        );
        if !enabled {
            anyhow::bail!(
                "bucket {} in {} does not have Object Lock enabled; Vault only writes to Object Lock buckets \
                 (create a new bucket with Object Lock, or let `vault setup` create one)",
                self.bucket,
                self.region
            );
        }
        Ok(())
    }

    /// A lifecycle rule that aborts multipart uploads left incomplete for two days: the
    /// server's sweeper aborts its own expired uploads in the primary region, but a
    /// copy to the replica cut short by a crash is only cleaned up by this rule.
    async fn abort_stale_uploads(&self) -> anyhow::Result<()> {
        use aws_sdk_s3::types::{
            AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus, LifecycleRule,
            LifecycleRuleFilter,
        };
        let rule = LifecycleRule::builder()
            .id("vault-abort-incomplete-uploads")
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix("families/").build())
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder().days_after_initiation(2).build(),
            )
            .build()?;
        self.client
            .put_bucket_lifecycle_configuration()
            .bucket(&self.bucket)
            .lifecycle_configuration(BucketLifecycleConfiguration::builder().rules(rule).build()?)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot set the lifecycle rule of {}: {}", self.bucket, describe(&e)))?;
        Ok(())
    }

    /// Makes sure `version` is locked in COMPLIANCE mode until at least `until`.
    async fn ensure_lock(&self, key: &ObjectKey, version: &str, until: OffsetDateTime) -> Result<(), StoreError> {
        if self.is_locked(key, version, until).await? {
            return Ok(());
        }
        tracing::warn!(key = %key, region = %self.region, "object came out of the store without its lock; applying it");
        self.client
            .put_object_retention()
            .bucket(&self.bucket)
            .key(key.as_str())
            .version_id(version)
            .retention(
                ObjectLockRetention::builder()
                    .mode(ObjectLockRetentionMode::Compliance)
                    .retain_until_date(DateTime::from_secs(until.unix_timestamp()))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| store_error(&e))?;
        if !self.is_locked(key, version, until).await? {
            return Err(StoreError::Backend(format!("cannot lock {key} in {}", self.region)));
        }
        Ok(())
    }

    /// Whether `version` is locked in COMPLIANCE mode until at least `until` (read with
    /// HeadObject: moto's GetObjectRetention is broken).
    /// HeadObject of `version` of `key`, or of its newest version.
    async fn head_object(&self, key: &ObjectKey, version: Option<&str>) -> Result<HeadObjectOutput, StoreError> {
        self.client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .set_version_id(version.map(str::to_owned))
            .customize()
            .config_override(self.read_budget())
            .send()
            .await
            .map_err(|e| store_error(&e))
    }

    async fn is_locked(&self, key: &ObjectKey, version: &str, until: OffsetDateTime) -> Result<bool, StoreError> {
        let head = self.head_object(key, Some(version)).await?;
        Ok(head.object_lock_mode() == Some(&ObjectLockMode::Compliance)
            && head.object_lock_retain_until_date().is_some_and(|d| d.secs() >= until.unix_timestamp()))
    }

    /// SHA-256 and length of `version` of `key`: the version just committed, whatever
    /// lands on the key meanwhile.
    async fn hash_version(&self, key: &ObjectKey, version: &str) -> Result<(u64, [u8; 32]), StoreError> {
        let mut body = self.get_version(key, version).await?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| StoreError::Backend(e.to_string()))?;
            size += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok((size, hasher.finalize().into()))
    }

    /// CompleteMultipartUpload, conditional on the key being empty when `write_once`.
    async fn complete(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        parts: &[PartReceipt],
        write_once: bool,
    ) -> Result<ObjectInfo, StoreError> {
        let completed = parts
            .iter()
            .map(|p| {
                Ok(CompletedPart::builder()
                    .part_number(i32::try_from(p.part_number).map_err(|_| StoreError::InvalidKey)?)
                    .e_tag(&p.etag)
                    .checksum_sha256(B64.encode(p.sha256))
                    .build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .set_if_none_match(write_once.then(|| "*".to_owned()))
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(completed)).build())
            .send()
            .await
            .map_err(|e| store_error(&e))?;
        self.head(key).await
    }

    /// Every version and delete marker of `key`.
    async fn versions(&self, key: &ObjectKey) -> Result<Vec<String>, StoreError> {
        let listed = self.versions_under(key.as_str()).await?;
        Ok(listed.into_iter().filter(|v| v.key == *key).map(|v| v.version).collect())
    }

    /// Every version and delete marker whose key starts with `prefix`.
    async fn versions_under(&self, prefix: &str) -> Result<Vec<ListedVersion>, StoreError> {
        let mut out = Vec::new();
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| store_error(&e))?;
            let versions = page.versions().iter().map(|v| (v.key(), v.version_id(), false));
            let markers = page.delete_markers().iter().map(|m| (m.key(), m.version_id(), true));
            for (k, v, delete_marker) in versions.chain(markers) {
                if let (Some(Ok(key)), Some(version)) = (k.map(ObjectKey::new), v) {
                    out.push(ListedVersion { key, version: version.to_owned(), delete_marker });
                }
            }
            if page.is_truncated() != Some(true) {
                return Ok(out);
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
        }
    }

    async fn exists(&self, key: &ObjectKey) -> Result<bool, StoreError> {
        match self.head_object(key, None).await {
            Ok(_) => Ok(true),
            Err(StoreError::NotFound) => Ok(false),
            Err(other) => Err(other),
        }
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn create_upload(&self, key: &ObjectKey, retain_until: OffsetDateTime) -> Result<String, StoreError> {
        let until = retain_until.unix_timestamp();
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type("application/octet-stream")
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .object_lock_mode(ObjectLockMode::Compliance)
            .object_lock_retain_until_date(DateTime::from_secs(until))
            .metadata(RETAIN_META, until.to_string())
            .send()
            .await
            .map_err(|e| store_error(&e))?;
        out.upload_id().map(str::to_owned).ok_or_else(|| StoreError::Backend("no upload id".into()))
    }

    async fn put_part(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        part_number: u32,
        _offset: Option<u64>,
        len: u64,
        sha256: [u8; 32],
        body: ByteStream,
    ) -> Result<PartReceipt, StoreError> {
        let spool = tempfile::Builder::new().prefix("part-").tempfile_in(&self.spool)?.into_temp_path();
        let (size, digest) = super::local::write_stream(&spool, body, len).await?;
        if digest != sha256 {
            return Err(StoreError::ChecksumMismatch);
        }
        let body = S3Body::read_from().path(&spool).build().await.map_err(|e| StoreError::Backend(e.to_string()))?;
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .part_number(i32::try_from(part_number).map_err(|_| StoreError::InvalidKey)?)
            .content_length(i64::try_from(size).map_err(|_| StoreError::SizeMismatch)?)
            .checksum_sha256(B64.encode(sha256))
            .body(body)
            .send()
            .await
            .map_err(|e| store_error(&e))?;
        let etag = out.e_tag().ok_or_else(|| StoreError::Backend("no ETag".into()))?.to_owned();
        Ok(PartReceipt { part_number, size, sha256, etag })
    }

    async fn complete_upload(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        parts: &[PartReceipt],
    ) -> Result<ObjectInfo, StoreError> {
        if self.exists(key).await? {
            return Err(StoreError::AlreadyExists);
        }
        self.complete(key, upload_id, parts, true).await
    }

    /// A new version on top of whatever the key holds (S3 keeps the older versions,
    /// each under its own Object Lock).
    async fn complete_new_version(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        parts: &[PartReceipt],
    ) -> Result<ObjectInfo, StoreError> {
        self.complete(key, upload_id, parts, false).await
    }

    async fn abort_upload(&self, key: &ObjectKey, upload_id: &str) -> Result<(), StoreError> {
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match store_error(&e) {
                StoreError::UploadNotFound | StoreError::NotFound => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn get(&self, key: &ObjectKey, range: Option<Range<u64>>) -> Result<ByteStream, StoreError> {
        let mut request = self.client.get_object().bucket(&self.bucket).key(key.as_str());
        if let Some(r) = &range {
            if r.start >= r.end {
                return Err(StoreError::InvalidRange);
            }
            request = request.range(format!("bytes={}-{}", r.start, r.end - 1));
        }
        let out = request.customize().config_override(self.read_budget()).send().await.map_err(|e| store_error(&e))?;
        let reader = out.body.into_async_read();
        Ok(Box::pin(tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024)))
    }

    /// The committed object's facts, with its lock checked (and restored if the store
    /// dropped it) and its SHA-256 computed by reading it back.
    async fn head(&self, key: &ObjectKey) -> Result<ObjectInfo, StoreError> {
        let head = self.head_object(key, None).await?;
        let version =
            head.version_id().ok_or_else(|| StoreError::Backend("bucket is not versioned".into()))?.to_owned();
        let wanted = head
            .metadata()
            .and_then(|m| m.get(RETAIN_META))
            .and_then(|v| v.parse::<i64>().ok())
            .or_else(|| head.object_lock_retain_until_date().map(DateTime::secs))
            .ok_or_else(|| StoreError::Backend(format!("{key} has no retention")))?;
        let retain_until =
            OffsetDateTime::from_unix_timestamp(wanted).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.ensure_lock(key, &version, retain_until).await?;
        let (size, sha256) = self.hash_version(key, &version).await?;
        Ok(ObjectInfo { size, sha256, version, retain_until })
    }

    /// Deletes every version and delete marker of `key` (the scrub may have added
    /// versions; someone may have put a delete marker on top, which hides the rest from
    /// a plain HEAD). S3 refuses (403) a version Object Lock still retains: the others
    /// go, and the error names that version's date.
    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        let versions = self.versions(key).await?;
        if versions.is_empty() {
            return Err(StoreError::NotFound);
        }
        let mut retained = None;
        for version in versions {
            match self.client.delete_object().bucket(&self.bucket).key(key.as_str()).version_id(&version).send().await {
                Ok(_) => {}
                Err(e) if e.code() == Some("AccessDenied") => {
                    let until = self
                        .head_object(key, Some(&version))
                        .await
                        .ok()
                        .and_then(|h| h.object_lock_retain_until_date().map(DateTime::secs))
                        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
                        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
                    retained = Some(retained.map_or(until, |t: OffsetDateTime| t.max(until)));
                }
                Err(e) => return Err(store_error(&e)),
            }
        }
        match retained {
            Some(until) => Err(StoreError::Retained { until }),
            None => Ok(()),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StoreError> {
        let prefix = format!("{}/", ObjectKey::new(prefix)?);
        let mut out = Vec::new();
        let mut token = None::<String>;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| store_error(&e))?;
            out.extend(page.contents().iter().filter_map(|o| o.key()).filter_map(|k| ObjectKey::new(k).ok()));
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => return Ok(out),
            }
        }
    }

    async fn list_versions(&self, prefix: &str) -> Result<Vec<ListedVersion>, StoreError> {
        self.versions_under(&format!("{}/", ObjectKey::new(prefix)?)).await
    }

    async fn get_version(&self, key: &ObjectKey, version: &str) -> Result<ByteStream, StoreError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .version_id(version)
            .send()
            .await
            .map_err(|e| store_error(&e))?;
        Ok(Box::pin(tokio_util::io::ReaderStream::with_capacity(out.body.into_async_read(), 256 * 1024)))
    }

    async fn list_uploads(&self) -> Result<Vec<(ObjectKey, String, OffsetDateTime)>, StoreError> {
        let mut out = Vec::new();
        let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .client
                .list_multipart_uploads()
                .bucket(&self.bucket)
                .prefix("families/")
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(id_marker.take())
                .send()
                .await
                .map_err(|e| store_error(&e))?;
            for upload in page.uploads() {
                let (Some(key), Some(id), Some(started)) = (upload.key(), upload.upload_id(), upload.initiated())
                else {
                    continue;
                };
                let (Ok(key), Ok(started)) = (ObjectKey::new(key), OffsetDateTime::from_unix_timestamp(started.secs()))
                else {
                    continue;
                };
                out.push((key, id.to_owned(), started));
            }
            if page.is_truncated() != Some(true) || page.next_key_marker().is_none() {
                return Ok(out);
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            id_marker = page.next_upload_id_marker().map(str::to_owned);
        }
    }
}

/// Maps an S3 failure to what the caller can act on; details stay in the log.
fn store_error<E: ProvideErrorMetadata + std::error::Error + 'static>(err: &SdkError<E, HttpResponse>) -> StoreError {
    let status = err.raw_response().map(|r| r.status().as_u16());
    match (err.code(), status) {
        (Some("NoSuchKey" | "NotFound"), _) | (None, Some(404)) => StoreError::NotFound,
        (Some("NoSuchUpload"), _) => StoreError::UploadNotFound,
        (Some("PreconditionFailed" | "ConditionalRequestConflict"), _) | (None, Some(412)) => StoreError::AlreadyExists,
        (Some("InvalidRange"), _) | (None, Some(416)) => StoreError::InvalidRange,
        (Some("BadDigest" | "InvalidDigest" | "XAmzContentSHA256Mismatch"), _) => StoreError::ChecksumMismatch,
        _ => StoreError::Backend(describe(err)),
    }
}

fn describe<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(err: &SdkError<E, R>) -> String {
    match err {
        SdkError::ServiceError(e) => {
            format!("{}: {}", e.err().code().unwrap_or("error"), e.err().message().unwrap_or(""))
        }
        SdkError::TimeoutError(_) => "timeout".into(),
        SdkError::DispatchFailure(_) => "cannot connect".into(),
        other => format!("{}", aws_sdk_s3::error::DisplayErrorContext(other)),
    }
}
