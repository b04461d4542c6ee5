//! The embedded object store: a directory that enforces write-once and retention.
//!
//! Layout under the root:
//! ```text
//! objects/<key>.meta.json   size, sha256, version, retain_until (written first)
//! objects/<key>.data        the ciphertext, mode 0444 (linked in last)
//! uploads/<uuid>/upload.json, part-00001 …   multipart uploads under way
//! uploads/<uuid>/object, part-00001.placed …  parts written in place, and where
//! tmp/                      in-progress writes, same filesystem
//! ```
//! A part whose place in the object the caller gives (an upload's parts, which may
//! come in any order) is written there, in the upload's `object` file, and its
//! `.placed` record (offset, size, SHA-256) follows once the bytes are on disk; the
//! record goes before the bytes are rewritten. Other parts are files of their own,
//! copied into one at the commit. Commit = the object complete and fsynced, then
//! `hard_link` into place: atomic, and it fails if the target exists, so an object is
//! never overwritten. The meta file is written before the data is linked, so a visible
//! data file always has its meta; a meta file without data (crash in between) counts
//! as absent and may be rewritten. Parts written in place make the commit no copy at
//! all, and the object's SHA-256 is taken while they land (`prefix`).

mod prefix;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::fs;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::claims::{Claim, Claims};
use prefix::Prefixes;

use super::{ByteStream, ListedVersion, ObjectInfo, ObjectKey, ObjectStore, PartReceipt, StoreError};

const CHUNK: usize = 64 * 1024;

/// Objects in a local directory.
#[derive(Debug, Clone)]
pub(crate) struct LocalStore {
    root: PathBuf,
    /// Parts being written in place (`<upload>/<part>`): one writer per region.
    writing: Arc<Claims>,
    /// The digests of the objects being written in place.
    prefixes: Arc<Prefixes>,
}

/// Where a part written in place lies in its upload's `object` file, and what it holds.
#[derive(Serialize, Deserialize)]
struct Placed {
    offset: u64,
    size: u64,
    sha256: String,
}

/// The upload's object file, for parts written in place.
fn object_in(dir: &Path) -> PathBuf {
    dir.join("object")
}

/// The record of part `n` written in place.
fn placed_path(dir: &Path, n: u32) -> PathBuf {
    dir.join(format!("part-{n:05}.placed"))
}

#[derive(Serialize, Deserialize)]
struct Meta {
    size: u64,
    sha256: String,
    version: String,
    #[serde(with = "time::serde::rfc3339")]
    retain_until: OffsetDateTime,
}

#[derive(Serialize, Deserialize)]
struct UploadMeta {
    key: String,
    #[serde(with = "time::serde::rfc3339")]
    retain_until: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    started: OffsetDateTime,
}

impl LocalStore {
    pub(crate) fn open(root: &Path) -> Result<Self, StoreError> {
        for dir in ["objects", "uploads", "tmp"] {
            std::fs::create_dir_all(root.join(dir))?;
        }
        Ok(Self { root: root.to_path_buf(), writing: Arc::default(), prefixes: Arc::default() })
    }

    /// Claims part `n` of `upload` for one writer.
    fn claim(&self, upload: &str, n: u32) -> Result<Claim, StoreError> {
        self.writing
            .claim(&format!("{upload}/{n}"))
            .ok_or_else(|| StoreError::Backend(format!("part {n} is being written by another request")))
    }

    /// Writes part `n` at `offset` in the upload's object file: its old record goes
    /// first (durably), so that a crash mid-write leaves no record that vouches for
    /// the bytes; the new one follows the bytes to disk.
    #[allow(clippy::too_many_arguments, reason = "a part's facts, in one place")]
    async fn put_in_place(
        &self,
        upload_id: &str,
        dir: &Path,
        n: u32,
        offset: u64,
        len: u64,
        sha256: [u8; 32],
        body: ByteStream,
    ) -> Result<(u64, [u8; 32]), StoreError> {
        let record = placed_path(dir, n);
        self.prefixes.rewriting(upload_id, offset).await;
        match fs::remove_file(&record).await {
            Ok(()) => sync_dir(dir).await?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        let (size, actual) = write_stream_at(&object_in(dir), offset, body, len).await?;
        if actual != sha256 {
            return Err(StoreError::ChecksumMismatch);
        }
        let placed = Placed { offset, size, sha256: hex::encode(sha256) };
        let tmp = dir.join(format!("part-{n:05}.placed.tmp"));
        fs::write(&tmp, serde_json::to_vec(&placed).map_err(|e| StoreError::Backend(e.to_string()))?).await?;
        fs::rename(&tmp, &record).await?;
        sync_dir(dir).await?;
        self.prefixes.placed(upload_id, &object_in(dir), offset, size).await;
        Ok((size, actual))
    }

    /// The object's length if every part was written in place, each right after the
    /// one before and as its receipt says; None if the parts are files of their own.
    async fn placed(&self, dir: &Path, parts: &[PartReceipt]) -> Result<Option<u64>, StoreError> {
        let mut end = 0u64;
        for (i, part) in parts.iter().enumerate() {
            let text = match fs::read(placed_path(dir, part.part_number)).await {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && i == 0 => return Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StoreError::UploadNotFound),
                Err(e) => return Err(e.into()),
            };
            let placed: Placed = serde_json::from_slice(&text).map_err(|e| StoreError::Backend(e.to_string()))?;
            // The bytes on disk must be the ones the receipt names (as S3 checks ETags).
            if placed.sha256 != hex::encode(part.sha256) {
                return Err(StoreError::ChecksumMismatch);
            }
            if placed.offset != end || placed.size != part.size {
                return Err(StoreError::SizeMismatch);
            }
            end += part.size;
        }
        Ok(Some(end))
    }

    fn data_path(&self, key: &ObjectKey) -> PathBuf {
        self.root.join("objects").join(format!("{}.data", key.as_str()))
    }

    fn meta_path(&self, key: &ObjectKey) -> PathBuf {
        self.root.join("objects").join(format!("{}.meta.json", key.as_str()))
    }

    fn upload_dir(&self, upload_id: &str) -> Result<PathBuf, StoreError> {
        uuid::Uuid::parse_str(upload_id).map_err(|_| StoreError::UploadNotFound)?;
        Ok(self.root.join("uploads").join(upload_id))
    }

    fn tmp_path(&self) -> PathBuf {
        self.root.join("tmp").join(uuid::Uuid::new_v4().to_string())
    }

    async fn upload_meta(&self, key: &ObjectKey, upload_id: &str) -> Result<UploadMeta, StoreError> {
        let dir = self.upload_dir(upload_id)?;
        let text = fs::read(dir.join("upload.json")).await.map_err(|_| StoreError::UploadNotFound)?;
        let meta: UploadMeta = serde_json::from_slice(&text).map_err(|e| StoreError::Backend(e.to_string()))?;
        if meta.key != key.as_str() {
            return Err(StoreError::UploadNotFound);
        }
        Ok(meta)
    }

    /// Assembles the parts into the object; with `new_version`, an existing copy is
    /// first renamed aside (`<key>.data.superseded-<version>`), never overwritten.
    async fn commit(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        parts: &[PartReceipt],
        new_version: bool,
    ) -> Result<ObjectInfo, StoreError> {
        let meta = self.upload_meta(key, upload_id).await?;
        if !new_version && fs::metadata(self.data_path(key)).await.is_ok() {
            return Err(StoreError::AlreadyExists);
        }
        let dir = self.upload_dir(upload_id)?;
        if let Some(len) = self.placed(&dir, parts).await? {
            // Written in place: the object is there; cut what a longer failed final
            // part left beyond its end, take its digest (read it if the prefix has
            // none), make it durable.
            let object = object_in(&dir);
            let file = fs::OpenOptions::new().read(true).write(true).open(&object).await?;
            file.set_len(len).await?;
            let sha256 = match self.prefixes.finish(upload_id, &object, len).await {
                Some(sha256) => {
                    file.sync_all().await?;
                    sha256
                }
                None => hash_file(file, &object, len).await?,
            };
            return self.publish(key, &dir, &object, false, len, sha256, meta.retain_until, new_version).await;
        }
        let tmp = self.tmp_path();
        let assembled = async {
            let mut out = tokio::io::BufWriter::with_capacity(1 << 20, fs::File::create(&tmp).await?);
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            let mut buf = vec![0u8; 1 << 20];
            for part in parts {
                let mut file = fs::File::open(dir.join(format!("part-{:05}", part.part_number)))
                    .await
                    .map_err(|_| StoreError::UploadNotFound)?;
                let mut part_size = 0u64;
                let mut part_hash = Sha256::new();
                loop {
                    let n = file.read(&mut buf).await?;
                    if n == 0 {
                        break;
                    }
                    hasher.update(&buf[..n]);
                    part_hash.update(&buf[..n]);
                    out.write_all(&buf[..n]).await?;
                    part_size += n as u64;
                }
                if part_size != part.size {
                    return Err(StoreError::SizeMismatch);
                }
                // The part on disk must be the one its receipt names (as S3 checks ETags).
                if <[u8; 32]>::from(part_hash.finalize()) != part.sha256 {
                    return Err(StoreError::ChecksumMismatch);
                }
                size += part_size;
            }
            out.flush().await?;
            out.get_ref().sync_all().await?;
            Ok::<_, StoreError>((size, hasher.finalize().into()))
        }
        .await;
        let (size, sha256): (u64, [u8; 32]) = match assembled {
            Ok(v) => v,
            Err(e) => {
                let _ = fs::remove_file(&tmp).await;
                return Err(e);
            }
        };
        self.publish(key, &dir, &tmp, true, size, sha256, meta.retain_until, new_version).await
    }

    /// Makes the complete, durable file `source` the object `key` (a new version of it
    /// with `new_version`), write-once; `owned`: `source` is a copy to remove afterwards.
    #[allow(clippy::too_many_arguments, reason = "the commit's facts, in one place")]
    async fn publish(
        &self,
        key: &ObjectKey,
        dir: &Path,
        source: &Path,
        owned: bool,
        size: u64,
        sha256: [u8; 32],
        retain_until: OffsetDateTime,
        new_version: bool,
    ) -> Result<ObjectInfo, StoreError> {
        let info = ObjectInfo { size, sha256, version: uuid::Uuid::new_v4().to_string(), retain_until };
        let data = self.data_path(key);
        if let Some(parent) = data.parent() {
            fs::create_dir_all(parent).await?;
        }
        if new_version && fs::metadata(&data).await.is_ok() {
            let old = self.head(key).await.map(|i| i.version).unwrap_or_else(|_| "unknown".into());
            let aside = superseded_path(&data, &format!("{old}-{}", uuid::Uuid::new_v4().simple()));
            fs::rename(&data, aside).await?;
        }
        let record = Meta { size, sha256: hex::encode(sha256), version: info.version.clone(), retain_until };
        fs::write(self.meta_path(key), serde_json::to_vec(&record).map_err(|e| StoreError::Backend(e.to_string()))?)
            .await?;
        let mut perms = fs::metadata(source).await?.permissions();
        perms.set_readonly(true);
        fs::set_permissions(source, perms).await?;
        let linked = fs::hard_link(source, &data).await;
        if owned {
            let _ = fs::remove_file(source).await;
        }
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(StoreError::AlreadyExists),
            Err(e) => return Err(e.into()),
        }
        if let Some(parent) = data.parent() {
            sync_dir(parent).await?;
        }
        let _ = fs::remove_dir_all(dir).await;
        Ok(info)
    }

    /// The versions of `key` the scrub set aside (the part of their file names after
    /// `.superseded-`).
    async fn superseded(&self, key: &ObjectKey) -> Result<Vec<String>, StoreError> {
        let data = self.data_path(key);
        let (Some(dir), Some(name)) = (data.parent(), data.file_name().and_then(|n| n.to_str())) else {
            return Ok(Vec::new());
        };
        let prefix = format!("{name}.superseded-");
        let mut out = Vec::new();
        let mut entries = match fs::read_dir(dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e.into()),
        };
        while let Some(entry) = entries.next_entry().await? {
            if let Some(version) = entry.file_name().to_str().and_then(|n| n.strip_prefix(&prefix)) {
                out.push(version.to_owned());
            }
        }
        Ok(out)
    }

    async fn read_meta(&self, key: &ObjectKey) -> Result<Meta, StoreError> {
        // Only a missing file is "not found". A directory that cannot be read (a replica
        // disk gone, permissions) is a failure: a purge must not count it as deleted, or
        // the copy would be back when the disk is.
        let missing = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::NotFound => StoreError::NotFound,
            _ => e.into(),
        };
        fs::metadata(self.data_path(key)).await.map_err(missing)?;
        let text = fs::read(self.meta_path(key)).await.map_err(missing)?;
        serde_json::from_slice(&text).map_err(|e| StoreError::Backend(e.to_string()))
    }
}

/// Where a set-aside version of the object at `data` lives.
fn superseded_path(data: &Path, version: &str) -> PathBuf {
    data.with_extension(format!("data.superseded-{version}"))
}

/// Writes exactly `len` bytes of `body` to `file` from where it stands, hashing them;
/// answers the file (flushed, not yet synced) and the bytes' SHA-256.
async fn write_hashed(file: fs::File, mut body: ByteStream, len: u64) -> Result<(fs::File, [u8; 32]), StoreError> {
    // Buffered: tokio's file writes each go to a blocking thread.
    let mut file = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let mut written = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(StoreError::Body)?;
        written += chunk.len() as u64;
        if written > len {
            return Err(StoreError::SizeMismatch);
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await?;
    }
    if written != len {
        return Err(StoreError::SizeMismatch);
    }
    file.flush().await?;
    Ok((file.into_inner(), hasher.finalize().into()))
}

/// Streams `body` into a new file at `path`, hashing it; removes the file on any failure.
pub(super) async fn write_stream(path: &Path, body: ByteStream, len: u64) -> Result<(u64, [u8; 32]), StoreError> {
    let result = async {
        let (file, sha256) = write_hashed(fs::File::create(path).await?, body, len).await?;
        file.sync_all().await?;
        Ok((len, sha256))
    }
    .await;
    if result.is_err() {
        let _ = fs::remove_file(path).await;
    }
    result
}

/// Streams `body` into the file at `path` (made if missing) from `offset`, hashing it;
/// the bytes are on disk when it returns. The file is shared by an upload's parts:
/// nothing is removed on failure (the part's record is already gone).
async fn write_stream_at(path: &Path, offset: u64, body: ByteStream, len: u64) -> Result<(u64, [u8; 32]), StoreError> {
    let mut file = fs::OpenOptions::new().write(true).create(true).truncate(false).open(path).await?;
    file.seek(std::io::SeekFrom::Start(offset)).await?;
    let (file, sha256) = write_hashed(file, body, len).await?;
    file.sync_data().await?;
    Ok((len, sha256))
}

/// The SHA-256 of the object file `file` at `path`, which was cut to `len` bytes, and
/// the file made durable.
async fn hash_file(file: fs::File, path: &Path, len: u64) -> Result<[u8; 32], StoreError> {
    let path = path.to_path_buf();
    let hasher = tokio::task::spawn_blocking(move || prefix::hash_range(Sha256::new(), &path, 0, len))
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
        .map_err(|e| if e.kind() == std::io::ErrorKind::UnexpectedEof { StoreError::SizeMismatch } else { e.into() })?;
    file.sync_all().await?;
    Ok(hasher.finalize().into())
}

async fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    fs::File::open(dir).await?.sync_all().await?;
    Ok(())
}

#[async_trait]
impl ObjectStore for LocalStore {
    async fn create_upload(&self, key: &ObjectKey, retain_until: OffsetDateTime) -> Result<String, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let dir = self.upload_dir(&id)?;
        fs::create_dir_all(&dir).await?;
        let meta = UploadMeta { key: key.as_str().to_owned(), retain_until, started: OffsetDateTime::now_utc() };
        let text = serde_json::to_vec(&meta).map_err(|e| StoreError::Backend(e.to_string()))?;
        fs::write(dir.join("upload.json"), text).await?;
        Ok(id)
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
        if !(1..=10_000).contains(&part_number) {
            return Err(StoreError::InvalidRange);
        }
        self.upload_meta(key, upload_id).await?;
        if let Some(offset) = offset {
            let _writing = self.claim(upload_id, part_number)?;
            let dir = self.upload_dir(upload_id)?;
            let (size, sha256) = self.put_in_place(upload_id, &dir, part_number, offset, len, sha256, body).await?;
            return Ok(PartReceipt { part_number, size, sha256, etag: hex::encode(&sha256[..16]) });
        }
        let tmp = self.tmp_path();
        let (size, actual) = write_stream(&tmp, body, len).await?;
        if actual != sha256 {
            let _ = fs::remove_file(&tmp).await;
            return Err(StoreError::ChecksumMismatch);
        }
        let dir = self.upload_dir(upload_id)?;
        fs::rename(&tmp, dir.join(format!("part-{part_number:05}"))).await?;
        sync_dir(&dir).await?;
        Ok(PartReceipt { part_number, size, sha256, etag: hex::encode(&sha256[..16]) })
    }

    async fn complete_upload(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        parts: &[PartReceipt],
    ) -> Result<ObjectInfo, StoreError> {
        self.commit(key, upload_id, parts, false).await
    }

    async fn complete_new_version(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        parts: &[PartReceipt],
    ) -> Result<ObjectInfo, StoreError> {
        self.commit(key, upload_id, parts, true).await
    }

    async fn abort_upload(&self, key: &ObjectKey, upload_id: &str) -> Result<(), StoreError> {
        match self.upload_meta(key, upload_id).await {
            Ok(_) => {
                self.prefixes.forget(upload_id);
                fs::remove_dir_all(self.upload_dir(upload_id)?).await?;
                Ok(())
            }
            Err(StoreError::UploadNotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn get(&self, key: &ObjectKey, range: Option<Range<u64>>) -> Result<ByteStream, StoreError> {
        let meta = self.read_meta(key).await?;
        let range = range.unwrap_or(0..meta.size);
        if range.start >= range.end && meta.size != 0 || range.end > meta.size {
            return Err(StoreError::InvalidRange);
        }
        let mut file = fs::File::open(self.data_path(key)).await.map_err(|_| StoreError::NotFound)?;
        file.seek(std::io::SeekFrom::Start(range.start)).await?;
        let reader = file.take(range.end - range.start);
        Ok(Box::pin(tokio_util::io::ReaderStream::with_capacity(reader, CHUNK)))
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectInfo, StoreError> {
        let meta = self.read_meta(key).await?;
        let mut sha256 = [0u8; 32];
        hex::decode_to_slice(&meta.sha256, &mut sha256).map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(ObjectInfo { size: meta.size, sha256, version: meta.version, retain_until: meta.retain_until })
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        let meta = self.read_meta(key).await?;
        if OffsetDateTime::now_utc() < meta.retain_until {
            return Err(StoreError::Retained { until: meta.retain_until });
        }
        let data = self.data_path(key);
        fs::remove_file(&data).await?;
        fs::remove_file(self.meta_path(key)).await?;
        // Versions the scrub set aside go too: a purge leaves no copy behind.
        if let (Some(dir), Some(name)) = (data.parent(), data.file_name().and_then(|n| n.to_str())) {
            let superseded = format!("{name}.superseded-");
            let mut entries = fs::read_dir(dir).await?;
            while let Some(entry) = entries.next_entry().await? {
                if entry.file_name().to_str().is_some_and(|n| n.starts_with(&superseded)) {
                    fs::remove_file(entry.path()).await?;
                }
            }
        }
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StoreError> {
        let objects = self.root.join("objects");
        let mut out = Vec::new();
        let mut pending = vec![objects.join(ObjectKey::new(prefix)?.as_str())];
        while let Some(dir) = pending.pop() {
            let mut entries = match fs::read_dir(&dir).await {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            while let Some(entry) = entries.next_entry().await? {
                let path = entry.path();
                if entry.file_type().await?.is_dir() {
                    pending.push(path);
                } else if let Some(name) = path.strip_prefix(&objects).ok().and_then(|p| p.to_str())
                    && let Some(key) = name.strip_suffix(".data").and_then(|k| ObjectKey::new(k).ok())
                {
                    out.push(key);
                }
            }
        }
        out.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        Ok(out)
    }

    /// The current version of each object and the versions the scrub set aside. A
    /// directory has no delete markers: deleting under retention is refused.
    async fn list_versions(&self, prefix: &str) -> Result<Vec<ListedVersion>, StoreError> {
        let mut out = Vec::new();
        for key in self.list(prefix).await? {
            let meta = self.read_meta(&key).await?;
            out.push(ListedVersion { key: key.clone(), version: meta.version, delete_marker: false });
            for version in self.superseded(&key).await? {
                out.push(ListedVersion { key: key.clone(), version, delete_marker: false });
            }
        }
        Ok(out)
    }

    async fn get_version(&self, key: &ObjectKey, version: &str) -> Result<ByteStream, StoreError> {
        if self.read_meta(key).await?.version == version {
            return self.get(key, None).await;
        }
        if !self.superseded(key).await?.iter().any(|v| v == version) {
            return Err(StoreError::NotFound);
        }
        let file = fs::File::open(superseded_path(&self.data_path(key), version)).await?;
        Ok(Box::pin(tokio_util::io::ReaderStream::with_capacity(file, CHUNK)))
    }

    async fn list_uploads(&self) -> Result<Vec<(ObjectKey, String, OffsetDateTime)>, StoreError> {
        let mut out = Vec::new();
        let mut dir = fs::read_dir(self.root.join("uploads")).await?;
        while let Some(entry) = dir.next_entry().await? {
            let id = entry.file_name().to_string_lossy().into_owned();
            let Ok(text) = fs::read(entry.path().join("upload.json")).await else { continue };
            let Ok(meta) = serde_json::from_slice::<UploadMeta>(&text) else { continue };
            if let Ok(key) = ObjectKey::new(meta.key) {
                out.push((key, id, meta.started));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation, reason = "test code: sizes are small")]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::os::unix::fs::FileExt;
    use time::Duration;

    fn body(parts: Vec<std::io::Result<Bytes>>) -> ByteStream {
        Box::pin(futures_util::stream::iter(parts))
    }

    fn sha(b: &[u8]) -> [u8; 32] {
        Sha256::digest(b).into()
    }

    async fn collect(s: ByteStream) -> Vec<u8> {
        s.map(|c| c.unwrap().to_vec()).collect::<Vec<_>>().await.concat()
    }

    async fn store() -> (tempfile::TempDir, LocalStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStore::open(dir.path()).unwrap();
        (dir, s)
    }

    #[tokio::test]
    async fn multipart_commit_is_write_once_and_ranged() {
        let (_d, s) = store().await;
        let key = ObjectKey::new("families/abc/recordings/r1").unwrap();
        let parts: Vec<Vec<u8>> = vec![vec![1u8; 1 << 20], vec![2u8; 3000], vec![3u8; 5]];
        let id = s.create_upload(&key, OffsetDateTime::now_utc() + Duration::days(1)).await.unwrap();
        let mut receipts = Vec::new();
        for (i, p) in parts.iter().enumerate().rev() {
            let r = s
                .put_part(&key, &id, i as u32 + 1, None, p.len() as u64, sha(p), body(vec![Ok(Bytes::from(p.clone()))]))
                .await
                .unwrap();
            receipts.insert(0, r);
        }
        let info = s.complete_upload(&key, &id, &receipts).await.unwrap();
        let whole = parts.concat();
        assert_eq!(info.size, whole.len() as u64);
        assert_eq!(info.sha256, sha(&whole));
        assert_eq!(s.head(&key).await.unwrap(), info);
        assert_eq!(collect(s.get(&key, None).await.unwrap()).await, whole);
        let n = whole.len() as u64;
        for r in [0..1, 1000..(1 << 20) + 10, n - 1..n] {
            assert_eq!(
                collect(s.get(&key, Some(r.clone())).await.unwrap()).await,
                whole[r.start as usize..r.end as usize]
            );
        }
        assert!(matches!(s.get(&key, Some(n..n + 1)).await, Err(StoreError::InvalidRange)));
        // Never over an existing object.
        let id2 = s.create_upload(&key, OffsetDateTime::now_utc()).await.unwrap();
        let r = s.put_part(&key, &id2, 1, None, 1, sha(b"x"), body(vec![Ok(Bytes::from_static(b"x"))])).await.unwrap();
        assert!(matches!(s.complete_upload(&key, &id2, &[r]).await, Err(StoreError::AlreadyExists)));
        assert_eq!(collect(s.get(&key, None).await.unwrap()).await, whole);
        // Retention.
        assert!(matches!(s.delete(&key).await, Err(StoreError::Retained { .. })));
    }

    #[tokio::test]
    async fn an_unreachable_store_is_a_failure_not_a_missing_object() {
        // A purge that takes an unreadable replica for "not found" would mark the object
        // purged, and the copy would be back with the disk (found by the random-kill test).
        let (dir, s) = store().await;
        let key = ObjectKey::new("a/gone").unwrap();
        let past = OffsetDateTime::now_utc() - Duration::seconds(1);
        super::super::put_small(&s, &key, Bytes::from_static(b"ciphertext"), past).await.unwrap();
        let objects = dir.path().join("objects");
        std::fs::rename(&objects, dir.path().join("away")).unwrap();
        std::fs::write(&objects, b"not a directory").unwrap();
        assert!(matches!(s.delete(&key).await, Err(StoreError::Backend(_))));
        std::fs::remove_file(&objects).unwrap();
        std::fs::rename(dir.path().join("away"), &objects).unwrap();
        s.delete(&key).await.unwrap();
        assert!(matches!(s.delete(&key).await, Err(StoreError::NotFound)), "a deleted object is not found");
    }

    #[tokio::test]
    async fn bad_parts_leave_nothing() {
        let (dir, s) = store().await;
        let key = ObjectKey::new("a/b").unwrap();
        let id = s.create_upload(&key, OffsetDateTime::now_utc() - Duration::seconds(1)).await.unwrap();
        let data = Bytes::from_static(b"hello world");
        assert!(matches!(
            s.put_part(&key, &id, 1, None, 11, sha(b"other"), body(vec![Ok(data.clone())])).await,
            Err(StoreError::ChecksumMismatch)
        ));
        assert!(matches!(
            s.put_part(&key, &id, 1, None, 12, sha(&data), body(vec![Ok(data.clone())])).await,
            Err(StoreError::SizeMismatch)
        ));
        let failing = body(vec![Ok(data.clone()), Err(std::io::Error::other("client went away"))]);
        assert!(matches!(s.put_part(&key, &id, 1, None, 22, sha(&data), failing).await, Err(StoreError::Body(_))));
        let upload_files = std::fs::read_dir(dir.path().join("uploads").join(&id)).unwrap().count();
        assert_eq!(upload_files, 1, "only upload.json remains");
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert_eq!(s.list_uploads().await.unwrap().len(), 1);
        s.abort_upload(&key, &id).await.unwrap();
        s.abort_upload(&key, &id).await.unwrap();
        assert!(s.list_uploads().await.unwrap().is_empty());
        // Expired retention: deletable.
        let id = s.create_upload(&key, OffsetDateTime::now_utc() - Duration::seconds(1)).await.unwrap();
        let r = s.put_part(&key, &id, 1, None, 11, sha(&data), body(vec![Ok(data.clone())])).await.unwrap();
        s.complete_upload(&key, &id, &[r]).await.unwrap();
        s.delete(&key).await.unwrap();
        assert!(matches!(s.head(&key).await, Err(StoreError::NotFound)));
    }

    /// A part replaced on disk after its receipt (two requests racing) is not committed.
    #[tokio::test]
    async fn commit_checks_each_part_against_its_receipt() {
        let (dir, s) = store().await;
        let key = ObjectKey::new("a/c").unwrap();
        let id = s.create_upload(&key, OffsetDateTime::now_utc()).await.unwrap();
        let data = Bytes::from_static(b"first bytes");
        let receipt = s.put_part(&key, &id, 1, None, 11, sha(&data), body(vec![Ok(data.clone())])).await.unwrap();
        let other = Bytes::from_static(b"other bytes");
        s.put_part(&key, &id, 1, None, 11, sha(&other), body(vec![Ok(other.clone())])).await.unwrap();
        assert!(matches!(s.complete_upload(&key, &id, &[receipt]).await, Err(StoreError::ChecksumMismatch)));
        assert!(matches!(s.head(&key).await, Err(StoreError::NotFound)));
        drop(dir);
    }

    /// Parts given their place are written there, in any order, and the commit reads
    /// the object once; a part replaced after its receipt, a gap, or a record left
    /// from before a rewrite never commits.
    #[tokio::test]
    async fn parts_written_in_place_commit_without_a_copy() {
        let (dir, s) = store().await;
        let key = ObjectKey::new("a/in-place").unwrap();
        let parts: Vec<Vec<u8>> = vec![vec![1u8; 5000], vec![2u8; 4000], vec![3u8; 4000], vec![4u8; 17]];
        let offsets = [0u64, 5000, 9000, 13000];
        let id = s.create_upload(&key, OffsetDateTime::now_utc() + Duration::days(1)).await.unwrap();
        let put = |n: usize, bytes: Vec<u8>| {
            let s = s.clone();
            let (key, id) = (key.clone(), id.clone());
            async move {
                let len = bytes.len() as u64;
                let sha = sha(&bytes);
                s.put_part(&key, &id, n as u32 + 1, Some(offsets[n]), len, sha, body(vec![Ok(Bytes::from(bytes))]))
                    .await
            }
        };
        // A longer final part that failed (its body broke off) leaves bytes past the end.
        let failing = body(vec![Ok(Bytes::from(vec![9u8; 100])), Err(std::io::Error::other("gone"))]);
        assert!(matches!(s.put_part(&key, &id, 4, Some(13000), 200, [0; 32], failing).await, Err(StoreError::Body(_))));
        let (r3, r1, r4, r2) = tokio::join!(
            put(2, parts[2].clone()),
            put(0, parts[0].clone()),
            put(3, parts[3].clone()),
            put(1, parts[1].clone())
        );
        let receipts = vec![r1.unwrap(), r2.unwrap(), r3.unwrap(), r4.unwrap()];
        // A gap: part 3 missing from the list.
        let gap = [receipts[0].clone(), receipts[1].clone(), receipts[3].clone()];
        assert!(matches!(s.complete_upload(&key, &id, &gap).await, Err(StoreError::SizeMismatch)));
        // Part 2 replaced after its receipt: the old receipt no longer commits.
        let other = vec![7u8; 4000];
        let replaced = put(1, other.clone()).await.unwrap();
        assert!(matches!(s.complete_upload(&key, &id, &receipts).await, Err(StoreError::ChecksumMismatch)));
        let receipts = vec![receipts[0].clone(), replaced, receipts[2].clone(), receipts[3].clone()];
        let info = s.complete_upload(&key, &id, &receipts).await.unwrap();
        let whole = [parts[0].clone(), other, parts[2].clone(), parts[3].clone()].concat();
        assert_eq!((info.size, info.sha256), (whole.len() as u64, sha(&whole)));
        assert_eq!(collect(s.get(&key, None).await.unwrap()).await, whole);
        assert!(s.list_uploads().await.unwrap().is_empty(), "the upload's directory is gone");
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0, "no copy was made");
        // A rewrite that broke off leaves no record: that part must come again.
        let id = s.create_upload(&ObjectKey::new("a/broken").unwrap(), OffsetDateTime::now_utc()).await.unwrap();
        let key = ObjectKey::new("a/broken").unwrap();
        let first = s
            .put_part(&key, &id, 1, Some(0), 3, sha(b"abc"), body(vec![Ok(Bytes::from_static(b"abc"))]))
            .await
            .unwrap();
        let broken = body(vec![Ok(Bytes::from_static(b"x")), Err(std::io::Error::other("gone"))]);
        assert!(s.put_part(&key, &id, 1, Some(0), 3, sha(b"xyz"), broken).await.is_err());
        assert!(matches!(s.complete_upload(&key, &id, &[first]).await, Err(StoreError::UploadNotFound)));
        assert!(matches!(s.head(&key).await, Err(StoreError::NotFound)));
    }

    /// The commit takes the digest the parts made as they landed, in any order; a part
    /// rewritten after it was hashed, or a restart, has the commit read the object.
    #[tokio::test]
    async fn the_object_digest_is_taken_as_parts_land() {
        let (dir, s) = store().await;
        let parts: Vec<Vec<u8>> = vec![vec![1u8; 3000], vec![2u8; 3000], vec![3u8; 3000], vec![4u8; 10]];
        let offsets = [0u64, 3000, 6000, 9000];
        let whole = parts.concat();
        let start = |name: &str| {
            let s = s.clone();
            let key = ObjectKey::new(name).unwrap();
            async move {
                let id = s.create_upload(&key, OffsetDateTime::now_utc()).await.unwrap();
                (key, id)
            }
        };
        let put = |key: &ObjectKey, id: &str, n: usize, bytes: Vec<u8>| {
            let (s, key, id) = (s.clone(), key.clone(), id.to_owned());
            async move {
                let (len, sha) = (bytes.len() as u64, sha(&bytes));
                s.put_part(&key, &id, n as u32 + 1, Some(offsets[n]), len, sha, body(vec![Ok(Bytes::from(bytes))]))
                    .await
                    .unwrap()
            }
        };
        let object = |id: &str| dir.path().join("uploads").join(id).join("object");

        // In any order, at once: by the last part the whole object is hashed. Bytes
        // changed on disk after that (as by a failing disk) do not change the digest
        // the commit records, which is how this test knows the commit did not read them.
        let (key, id) = start("a/prefix").await;
        let (r3, r1, r4, r2) = tokio::join!(
            put(&key, &id, 2, parts[2].clone()),
            put(&key, &id, 0, parts[0].clone()),
            put(&key, &id, 3, parts[3].clone()),
            put(&key, &id, 1, parts[1].clone())
        );
        assert_eq!(s.prefixes.hashed(&id).await, Some(whole.len() as u64));
        std::fs::OpenOptions::new().write(true).open(object(&id)).unwrap().write_all_at(b"rot", 10).unwrap();
        let info = s.complete_upload(&key, &id, &[r1, r2, r3, r4]).await.unwrap();
        assert_eq!((info.size, info.sha256), (whole.len() as u64, sha(&whole)));
        assert_eq!(s.prefixes.hashed(&id).await, None, "forgotten at the commit");

        // Part 1 rewritten with other bytes after it was hashed: the commit reads them.
        let (key, id) = start("a/rewritten").await;
        let mut receipts = Vec::new();
        for (n, part) in parts.iter().enumerate() {
            receipts.push(put(&key, &id, n, part.clone()).await);
        }
        receipts[0] = put(&key, &id, 0, vec![9u8; 3000]).await;
        let info = s.complete_upload(&key, &id, &receipts).await.unwrap();
        let changed = [vec![9u8; 3000], parts[1..].concat()].concat();
        assert_eq!(info.sha256, sha(&changed));
        assert_eq!(collect(s.get(&key, None).await.unwrap()).await, changed);

        // A restart forgets the prefix: the commit reads the object.
        let (key, id) = start("a/restarted").await;
        let mut receipts = Vec::new();
        for (n, part) in parts.iter().enumerate() {
            receipts.push(put(&key, &id, n, part.clone()).await);
        }
        let restarted = LocalStore::open(dir.path()).unwrap();
        std::fs::OpenOptions::new().write(true).open(object(&id)).unwrap().write_all_at(&[5u8], 0).unwrap();
        let info = restarted.complete_upload(&key, &id, &receipts).await.unwrap();
        let rotten = [vec![5u8], whole[1..].to_vec()].concat();
        assert_eq!(info.sha256, sha(&rotten), "read from the disk");

        // Aborted: forgotten.
        let (key, id) = start("a/aborted").await;
        put(&key, &id, 0, parts[0].clone()).await;
        s.abort_upload(&key, &id).await.unwrap();
        assert_eq!(s.prefixes.hashed(&id).await, None);
    }

    #[test]
    fn keys_cannot_escape() {
        for bad in ["../x", "A", "", "a//b", "a/b/c/d/e/f/g/h/i", "a/.", "a b", &"x".repeat(65)] {
            assert!(ObjectKey::new(bad).is_err(), "{bad:?}");
        }
        assert!(ObjectKey::new("families/0a1b/recordings/1234-abcd").is_ok());
    }
}
