//! Resumable uploads of ciphertext, part by part, verified as they arrive; and the
//! server-side encryption path for clients that send plaintext.
//!
//! The client cuts its message as [`vault_core::PartPlan`] says: part 1 is the header
//! plus `part_frames` frames, every later part `part_frames` frames, the last part the
//! rest (ending with the final frame). So each part is authenticated alone with
//! vault-core's [`FrameRun`] before the store counts it: a bad, forged, reordered or
//! foreign part is refused and nothing of it stays. Parts go in order; a client that
//! lost its connection asks for the upload's status and goes on. Completion only
//! checks that the verified parts join up and end with the final frame, then commits
//! the object write-once. Only the member who created a recording uploads to it.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use rand_core::OsRng;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use vault_core::{
    DataKey, DecryptPolicy, EncryptionContext, EncryptionMaterials, Encryptor, FrameRun, HeaderParse, ParsedHeader,
    VerifiedHeader,
};
use zeroize::{Zeroize, Zeroizing};

use super::audit::{Action, Outcome};
use super::recordings::{data_key, find};
use super::{DomainError, DomainResult, Member, Services};
use crate::api::ErrorCode;
use crate::api::recordings::Encryption;
use crate::db::{Committed, PartRow, Recording, RecordingStatus, Upload, now_ms};
use crate::store::{ByteStream, PartReceipt, StoreError};

/// A body that sends nothing for this long is dropped (slow-loris).
const IDLE: Duration = Duration::from_secs(60);
/// Headers larger than this are refused (Vault writes about 300 bytes per region).
const MAX_HEADER: u64 = 64 * 1024;

fn invalid(detail: impl Into<String>) -> DomainError {
    DomainError::ciphertext(detail, None)
}

fn format_error(context: &str, e: vault_core::Error) -> DomainError {
    DomainError::ciphertext(format!("{context}: {e}"), Some(e))
}

/// The pending recording and its upload, for its creator only: another member could
/// otherwise replace a pending server-encrypted recording's content, or complete
/// someone else's upload.
async fn pending(s: &Services, m: &Member, id: &str, action: Action) -> DomainResult<(Recording, Upload)> {
    let r = find(s, m, id, action).await?;
    if r.status != RecordingStatus::Pending {
        return Err(DomainError::conflict("the recording is already complete"));
    }
    if r.created_by != m.user {
        let refusal = DomainError::forbidden("only the member who started this upload may continue it");
        return Err(m.refuse(s, action, id, refusal).await);
    }
    let upload = s.db.upload(&m.family.id, id).await?.ok_or(DomainError::NotFound)?;
    if upload.expires_at <= now_ms() {
        return Err(DomainError::Gone {
            code: ErrorCode::Expired,
            detail: "the upload expired; create the recording again".into(),
        });
    }
    Ok((r, upload))
}

/// This request's claim on receiving the upload's data (`super::receiving`).
fn receive(s: &Services, id: &str) -> DomainResult<super::receiving::Claim> {
    s.receiving.claim(id).ok_or(DomainError::Conflict {
        code: ErrorCode::UploadBusy,
        detail: "another request is sending this upload's data; try again when it has ended".into(),
    })
}

/// What is stored of an upload, and which part comes next.
#[derive(Debug)]
pub(crate) struct Status {
    pub recording: Recording,
    pub upload: Upload,
    pub parts: Vec<PartRow>,
}

/// The upload's progress.
pub(crate) async fn status(s: &Services, m: &Member, id: &str) -> DomainResult<Status> {
    let (recording, upload) = pending(s, m, id, Action::UploadStatusRead).await?;
    let parts = s.db.parts(id).await?;
    Ok(Status { recording, upload, parts })
}

/// What a part's bytes must be, decided before reading them.
struct PartCheck {
    recording: Recording,
    data_key: DataKey,
    /// The verified header (parts after the first).
    header: Option<VerifiedHeader>,
    first_sequence: u32,
    /// Plaintext bytes the earlier parts held.
    plaintext_before: u64,
}

/// What a verified part turned out to hold.
struct PartOutcome {
    /// The message header, when this is part 1.
    header: Option<Vec<u8>>,
    next_sequence: u32,
    is_final: bool,
    plaintext_len: u64,
}

/// Checks a message header against what the server issued for this recording.
fn check_header(parsed: ParsedHeader, r: &Recording, data_key: &DataKey) -> DomainResult<VerifiedHeader> {
    let carried = parsed.encrypted_data_keys();
    if carried.len() != r.edks.len() || !r.edks.iter().all(|e| carried.contains(e)) {
        return Err(invalid("the header must carry exactly the encrypted data keys issued for this recording"));
    }
    if parsed.frame_length() != r.plan.frame_length() {
        return Err(invalid(format!("the frame length must be {}", r.plan.frame_length())));
    }
    // Exactly Vault's two pairs: the data key was wrapped under them alone, and the
    // official SDKs unwrap under the whole stored context, so any extra pair would
    // leave the object openable by Vault only.
    if *parsed.stored_context() != EncryptionContext::for_vault_object(&r.family_id, &r.id) {
        return Err(invalid("the encryption context must hold exactly vault:tenant and vault:object, nothing more"));
    }
    parsed.verify(data_key).map_err(|e| format_error("header", e))
}

/// The header stored with part 1, verified again for the later parts.
fn stored_header(bytes: &[u8], r: &Recording, data_key: &DataKey) -> DomainResult<VerifiedHeader> {
    let policy = DecryptPolicy::requiring(EncryptionContext::for_vault_object(&r.family_id, &r.id));
    match ParsedHeader::parse(bytes, &policy).map_err(DomainError::internal)? {
        HeaderParse::Complete(h) => (*h).verify(data_key).map_err(DomainError::internal),
        HeaderParse::NeedMore(_) => Err(DomainError::internal("stored header incomplete")),
    }
}

/// Reads the body, verifying frames as they pass to the store. Any failure is also
/// sent down `tx`, so the store discards the part.
async fn feed(
    body: ByteStream,
    tx: mpsc::Sender<io::Result<Bytes>>,
    check: PartCheck,
    part_frames: u32,
) -> DomainResult<PartOutcome> {
    let result = verify_into(body, &tx, check, part_frames).await;
    if let Err(e) = &result {
        // The store must not count this part; it may already be gone (then nothing to undo).
        let _ = tx.send(Err(io::Error::other(format!("rejected: {e}")))).await;
    }
    result
}

/// Reads a body to its end, checking that it is the `len` bytes its digest names.
async fn drain_matching(mut body: ByteStream, len: u64, sha256: [u8; 32]) -> DomainResult<()> {
    let mut digest = Sha256::new();
    let mut read = 0u64;
    while let Some(chunk) = next_chunk(&mut body).await? {
        read = read.saturating_add(chunk.len() as u64);
        if read > len {
            break;
        }
        digest.update(&chunk);
    }
    if read != len {
        return Err(DomainError::invalid("the body's length does not match Content-Length"));
    }
    if digest.finalize().as_slice() != sha256 {
        return Err(StoreError::ChecksumMismatch.into());
    }
    Ok(())
}

async fn next_chunk(stream: &mut ByteStream) -> DomainResult<Option<Bytes>> {
    match tokio::time::timeout(IDLE, stream.next()).await {
        Err(_) => Err(DomainError::Invalid { code: ErrorCode::Timeout, detail: "the upload stalled".into() }),
        Ok(None) => Ok(None),
        Ok(Some(Err(_))) => Err(DomainError::invalid("the upload body broke off")),
        Ok(Some(Ok(chunk))) => Ok(Some(chunk)),
    }
}

async fn verify_into(
    mut stream: ByteStream,
    tx: &mpsc::Sender<io::Result<Bytes>>,
    check: PartCheck,
    part_frames: u32,
) -> DomainResult<PartOutcome> {
    let send =
        async |chunk: Bytes| tx.send(Ok(chunk)).await.map_err(|_| DomainError::internal("store stopped reading"));

    // Part 1 starts with the header: read until it is whole, then check it.
    let mut header_bytes = None;
    let mut leftover = Bytes::new();
    let header = match check.header {
        Some(h) => h,
        None => {
            let policy = DecryptPolicy::requiring(EncryptionContext::for_vault_object(
                &check.recording.family_id,
                &check.recording.id,
            ));
            let mut buffered = Vec::new();
            loop {
                let Some(chunk) = next_chunk(&mut stream).await? else {
                    return Err(invalid("the part ends inside the message header"));
                };
                buffered.extend_from_slice(&chunk);
                send(chunk).await?;
                match ParsedHeader::parse(&buffered, &policy).map_err(|e| format_error("header", e))? {
                    HeaderParse::NeedMore(_) if buffered.len() as u64 > MAX_HEADER => {
                        return Err(invalid("the header is too large"));
                    }
                    HeaderParse::NeedMore(_) => {}
                    HeaderParse::Complete(parsed) => {
                        let len = parsed.len();
                        header_bytes = Some(buffered[..len].to_vec());
                        leftover = Bytes::copy_from_slice(&buffered[len..]);
                        break check_header(*parsed, &check.recording, &check.data_key)?;
                    }
                }
            }
        }
    };

    // Then whole frames, from the part's first sequence number.
    let mut run = FrameRun::new(&header, check.first_sequence);
    // Decrypted bytes are discarded at once. The buffer is wiped before it may grow
    // (a reallocation would leave plaintext behind) and when dropped.
    let mut scratch = Zeroizing::new(Vec::new());
    let limit = check.recording.plaintext_size;
    let mut seen = 0u64;
    let mut verify = |bytes: &[u8]| -> DomainResult<()> {
        if scratch.capacity() < bytes.len() {
            scratch.zeroize();
            scratch.reserve(bytes.len());
        }
        run.update(bytes, &mut scratch).map_err(|e| format_error("frames", e))?;
        seen += scratch.len() as u64;
        scratch.clear();
        if check.plaintext_before + seen > limit {
            return Err(invalid("the upload holds more plaintext than the recording's declared size"));
        }
        Ok(())
    };
    verify(&leftover)?;
    while let Some(chunk) = next_chunk(&mut stream).await? {
        verify(&chunk)?;
        send(chunk).await?;
    }
    let end = run.finish().map_err(|e| format_error("frames", e))?;
    let frames = end.next_sequence - check.first_sequence + u32::from(end.is_final);
    if !end.is_final && frames != part_frames {
        return Err(invalid(format!("every part but the last must hold exactly {part_frames} frames")));
    }
    if end.is_final && check.plaintext_before + end.plaintext_len != limit {
        return Err(invalid("the message's plaintext length differs from the recording's declared size"));
    }
    Ok(PartOutcome {
        header: header_bytes,
        next_sequence: end.next_sequence,
        is_final: end.is_final,
        plaintext_len: end.plaintext_len,
    })
}

/// Stores part `n` of a client-encrypted upload, `len` bytes with SHA-256 `sha256`,
/// verifying every frame on the way.
pub(crate) async fn put_part(
    s: &Services,
    m: &Member,
    id: &str,
    n: u32,
    sha256: [u8; 32],
    len: u64,
    body: ByteStream,
) -> DomainResult<PartRow> {
    if n == 0 {
        return Err(DomainError::invalid("part numbers start at 1"));
    }
    let (r, upload) = pending(s, m, id, Action::UploadPartStored).await?;
    let last = r.plan.part_count(r.plaintext_size);
    if u64::from(n) > last {
        return Err(DomainError::invalid(format!("this recording has {last} parts")));
    }
    // Parts may come at once (a client keeps several in flight), each part once.
    let _receiving = receive(s, &format!("{id}/{n}"))?;
    if r.encryption != Encryption::Client {
        return Err(DomainError::conflict("this recording is encrypted by the server: send its plaintext instead"));
    }
    let parts = s.db.parts(id).await?;
    if let Some(existing) = parts.iter().find(|p| p.part_number == n) {
        // A retry of a part that did arrive: fine if it is the same part. Its body is
        // read first: an answer before the body would close the connection under a
        // client still sending it, which then sees a broken pipe, not the answer.
        return if existing.sha256 == sha256 && existing.size == len {
            drain_matching(body, len, sha256).await?;
            Ok(existing.clone())
        } else {
            Err(DomainError::conflict(format!("part {n} is already stored with other content")))
        };
    }
    if let Some(last) = parts.iter().find(|p| p.is_final)
        && n > last.part_number
    {
        return Err(DomainError::conflict(format!("part {} is the final part; complete the upload", last.part_number)));
    }
    if n > 1 && upload.header.is_none() {
        return Err(DomainError::Conflict {
            code: ErrorCode::UploadBusy,
            detail: "part 1 (it carries the message header) must be stored before the others".into(),
        });
    }
    let max_len = r.plan.full_part_len(n, MAX_HEADER);
    if len > max_len {
        return Err(DomainError::TooLarge(format!("part {n} may hold at most {max_len} bytes").into()));
    }
    let data_key = data_key(s, &r, &m.family.key_id).await?;
    let header = match (&upload.header, n) {
        (_, 1) => None,
        (Some(bytes), _) => Some(stored_header(bytes, &r, &data_key)?),
        (None, _) => return Err(DomainError::internal("upload has parts but no header")),
    };
    let check = PartCheck {
        first_sequence: r.plan.first_sequence(n).ok_or_else(|| invalid("too many parts"))?,
        // Every part before the final one holds exactly its plan's frames, full: so
        // a part's place fixes what comes before it, whichever parts arrived yet.
        plaintext_before: u64::from(n - 1).saturating_mul(r.plan.part_plaintext()),
        data_key,
        header,
        recording: r.clone(),
    };
    let (tx, mut rx) = mpsc::channel(8);
    let stream: ByteStream = Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    s.metrics.uploads_in_flight.inc();
    // Where the part lies in the message: part 1 at its start; a later one after part 1
    // (the header and a full part's frames) and the full parts between.
    let offset = match &upload.header {
        Some(h) if n > 1 => {
            let first = r.plan.full_part_len(1, u64::try_from(h.len()).unwrap_or(u64::MAX));
            first.saturating_add(u64::from(n - 2).saturating_mul(r.plan.full_part_len(2, 0)))
        }
        _ => 0,
    };
    let (stored, fed) = tokio::join!(
        s.store.put_part(&r.object_key, &upload.store_upload_id, n, Some(offset), len, sha256, stream),
        feed(body, tx, check, r.plan.part_frames())
    );
    s.metrics.uploads_in_flight.dec();
    let outcome = fed?;
    if outcome.is_final && parts.iter().any(|p| p.part_number > n) {
        return Err(DomainError::conflict(format!("part {n} ends the message, but later parts are stored")));
    }
    let receipt = stored.map_err(|e| match e {
        StoreError::SizeMismatch => DomainError::invalid("the body's length does not match Content-Length"),
        other => other.into(),
    })?;
    s.metrics.upload_bytes.inc_by(receipt.size);
    let row = PartRow {
        part_number: n,
        size: receipt.size,
        sha256: receipt.sha256,
        etag: receipt.etag,
        next_sequence: outcome.next_sequence,
        is_final: outcome.is_final,
        plaintext_len: outcome.plaintext_len,
    };
    match s.db.insert_part(id, outcome.header.as_deref(), &row).await {
        // The same part arrived at once through another instance (a client's retry):
        // the same bytes are stored; other bytes are refused, retryably.
        Err(e) if crate::db::is_unique_violation(&e) => {
            let stored = s.db.parts(id).await?.into_iter().find(|p| p.part_number == n);
            return match stored {
                Some(p) if p.sha256 == row.sha256 => Ok(p),
                _ => Err(DomainError::Conflict {
                    code: ErrorCode::UploadBusy,
                    detail: format!("part {n} arrived twice at once; ask for the upload's status and go on").into(),
                }),
            };
        }
        other => other?,
    }
    Ok(row)
}

/// Commits the verified parts write-once.
pub(crate) async fn complete(s: &Services, m: &Member, id: &str) -> DomainResult<Recording> {
    let (r, upload) = pending(s, m, id, Action::RecordingCommitted).await?;
    commit(s, m, &r, &upload).await
}

/// Commits an upload whose parts are all stored and verified. Safe to repeat after a
/// crash between the store's commit and the database's: the object found in the
/// store is then adopted if it is the one these parts make.
async fn commit(s: &Services, m: &Member, r: &Recording, upload: &Upload) -> DomainResult<Recording> {
    let parts = s.db.parts(&r.id).await?;
    // Parts may have arrived in any order: they must now run from 1 without a gap,
    // and only the last may end the message.
    let joined = parts.iter().zip(1u32..).all(|(p, n)| p.part_number == n);
    let ends = parts.iter().filter(|p| p.is_final).count() == 1;
    if parts.is_empty() || !joined || !ends || !parts.last().is_some_and(|p| p.is_final) {
        return Err(DomainError::conflict("the upload is not complete: its final part is missing"));
    }
    if parts.iter().map(|p| p.plaintext_len).sum::<u64>() != r.plaintext_size {
        return Err(invalid("the message's plaintext length differs from the recording's declared size"));
    }
    let size: u64 = parts.iter().map(|p| p.size).sum();
    let receipts: Vec<PartReceipt> = parts
        .iter()
        .map(|p| PartReceipt { part_number: p.part_number, size: p.size, sha256: p.sha256, etag: p.etag.clone() })
        .collect();
    let info = match s.store.complete_upload(&r.object_key, &upload.store_upload_id, &receipts).await {
        Ok(info) => info,
        Err(StoreError::AlreadyExists | StoreError::UploadNotFound) => {
            let info = s.store.head(&r.object_key).await?;
            if info.size != size {
                return Err(DomainError::internal("a different object exists under this recording's key"));
            }
            info
        }
        Err(e) => return Err(e.into()),
    };
    let header_len = upload.header.as_ref().ok_or_else(|| DomainError::internal("committed upload without header"))?;
    let committed = Committed {
        ciphertext_size: info.size,
        sha256: info.sha256,
        header_len: header_len.len() as u64,
        version: &info.version,
        retain_until: i64::try_from(info.retain_until.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX),
    };
    if !s.db.commit_recording(&m.family.id, &r.id, &committed, s.replicator.is_some()).await? {
        return Err(DomainError::conflict("the recording changed meanwhile"));
    }
    if let Some(replicator) = &s.replicator {
        replicator.nudge();
    }
    s.db.delete_upload(&r.id).await?;
    s.metrics.uploads_committed.inc();
    let metadata = json!({ "ciphertext_size": info.size, "sha256": hex::encode(info.sha256), "parts": parts.len() });
    m.audit(s, Action::RecordingCommitted, &r.id, Outcome::Success, metadata).await?;
    s.db.recording(&m.family.id, &r.id).await?.ok_or(DomainError::NotFound)
}

/// The server encrypts a plaintext upload of `len` bytes on the fly, one part in
/// memory at a time, and commits it. A retry starts over.
pub(crate) async fn put_plaintext(
    s: &Services,
    m: &Member,
    id: &str,
    len: u64,
    body: ByteStream,
) -> DomainResult<Recording> {
    let (r, mut upload) = pending(s, m, id, Action::UploadPlaintextSent).await?;
    let _receiving = receive(s, id)?;
    if r.encryption != Encryption::Server {
        return Err(DomainError::conflict("this recording is encrypted by the client: upload its ciphertext parts"));
    }
    if len != r.plaintext_size {
        return Err(DomainError::invalid("Content-Length must equal the recording's plaintext_size"));
    }
    if !s.db.parts(id).await?.is_empty() || upload.header.is_some() {
        s.store.abort_upload(&r.object_key, &upload.store_upload_id).await?;
        let fresh = s.store.create_upload(&r.object_key, s.retain_until()).await?;
        s.db.restart_upload(id, &fresh).await?;
        upload = s.db.upload(&m.family.id, id).await?.ok_or(DomainError::NotFound)?;
    }
    let data_key = data_key(s, &r, &m.family.key_id).await?;
    let materials =
        EncryptionMaterials::new(EncryptionContext::for_vault_object(&r.family_id, &r.id), data_key, r.edks.clone())
            .map_err(DomainError::internal)?;
    let mut encryptor = Encryptor::new(&materials, r.plan.frame_length(), &mut OsRng).map_err(DomainError::internal)?;
    let header_len = encryptor.header_len() as u64;
    let mut writer = PartWriter { s, r: &r, upload_id: upload.store_upload_id.clone(), next_part: 1, header_len };
    let mut out = Vec::new();
    let mut stream = body;
    let mut received = 0u64;
    s.metrics.uploads_in_flight.inc();
    let result = async {
        // Whole parts are cut as they fill (part 1 carries the header too).
        let full = |writer: &PartWriter<'_>| usize::try_from(r.plan.full_part_len(writer.next_part, header_len));
        while let Some(chunk) = next_chunk(&mut stream).await? {
            received += chunk.len() as u64;
            if received > r.plaintext_size {
                return Err(DomainError::invalid("the body is longer than the recording's plaintext_size"));
            }
            encryptor.update(&chunk, &mut out).map_err(DomainError::internal)?;
            while out.len() >= full(&writer).map_err(DomainError::internal)? {
                let rest = out.split_off(full(&writer).map_err(DomainError::internal)?);
                writer.write(std::mem::replace(&mut out, rest), false).await?;
            }
        }
        if received != r.plaintext_size {
            return Err(DomainError::invalid("the body is shorter than the recording's plaintext_size"));
        }
        encryptor.finish(&mut out).map_err(DomainError::internal)?;
        // At most one whole part plus the final frame can remain.
        let want = full(&writer).map_err(DomainError::internal)?;
        if out.len() > want {
            let rest = out.split_off(want);
            writer.write(std::mem::replace(&mut out, rest), false).await?;
        }
        writer.write(out, true).await
    }
    .await;
    s.metrics.uploads_in_flight.dec();
    result?;
    let upload = s.db.upload(&m.family.id, id).await?.ok_or(DomainError::NotFound)?;
    commit(s, m, &r, &upload).await
}

/// Stores the server-encrypted message part by part.
struct PartWriter<'a> {
    s: &'a Services,
    r: &'a Recording,
    upload_id: String,
    next_part: u32,
    /// The message header's length (part 1 starts with it).
    header_len: u64,
}

impl PartWriter<'_> {
    async fn write(&mut self, bytes: Vec<u8>, is_final: bool) -> DomainResult<()> {
        let (n, plan) = (self.next_part, self.r.plan);
        let header_len = if n == 1 { self.header_len } else { 0 };
        let body_len = bytes.len() as u64 - header_len;
        let (frames, plaintext_len) = if is_final {
            let part =
                plan.final_part(body_len).ok_or_else(|| DomainError::internal("a final part that does not end"))?;
            (part.frames, part.plaintext_len)
        } else {
            (u64::from(plan.part_frames()), plan.part_plaintext())
        };
        let header = (n == 1).then(|| bytes[..usize::try_from(header_len).unwrap_or(0)].to_vec());
        let sha: [u8; 32] = Sha256::digest(&bytes).into();
        let len = bytes.len() as u64;
        let stream: ByteStream = Box::pin(futures_util::stream::iter([Ok(Bytes::from(bytes))]));
        let receipt = self.s.store.put_part(&self.r.object_key, &self.upload_id, n, None, len, sha, stream).await?;
        self.s.metrics.upload_bytes.inc_by(receipt.size);
        let first = u64::from(plan.first_sequence(n).ok_or_else(|| DomainError::internal("too many parts"))?);
        let row = PartRow {
            part_number: n,
            size: receipt.size,
            sha256: receipt.sha256,
            etag: receipt.etag,
            next_sequence: u32::try_from(first + frames - u64::from(is_final)).map_err(DomainError::internal)?,
            is_final,
            plaintext_len,
        };
        self.s.db.insert_part(&self.r.id, header.as_deref(), &row).await?;
        self.next_part += 1;
        Ok(())
    }
}
