//! Resumable uploads of ciphertext, part by part, verified as they arrive; and the
//! server-side encryption path for clients that send plaintext.
//!
//! The client cuts its message on frame boundaries: part 1 is the header plus
//! `part_frames` frames, every later part `part_frames` frames, the last part the
//! rest (ending with the final frame). So the server can authenticate each part alone
//! with vault-core's [`FrameRun`] before the store counts it: a bad, forged, reordered
//! or foreign part is refused and nothing of it stays. Parts go in order; a client
//! that lost its connection asks `GET …/upload` for the next part and goes on.
//! Completion only checks that the verified parts join up and end with the final
//! frame, then commits the object write-once.

use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use bytes::Bytes;
use futures_util::StreamExt;
use rand_core::OsRng;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use vault_core::{
    DataKey, DecryptPolicy, EncryptionMaterials, Encryptor, FrameRun, HeaderParse, ParsedHeader, VerifiedHeader,
};
use zeroize::Zeroizing;

use super::recordings::{RecordingView, context_for, find, stored_edks};
use crate::app::AppState;
use crate::audit::Outcome;
use crate::db::{PartRow, Recording, RecordingStatus, Upload, now_ms};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::keys::FamilyKeyId;
use crate::middleware::caller::Member;
use crate::store::{ObjectKey, PartReceipt, StoreError};

/// Request header carrying the part's SHA-256 (hex).
pub const PART_SHA256: &str = "x-vault-sha256";
/// A body that sends nothing for this long is dropped (slow-loris).
const IDLE: Duration = Duration::from_secs(60);
/// Headers larger than this are refused (Vault writes about 300 bytes per region).
const MAX_HEADER: usize = 64 * 1024;

#[derive(Debug, Serialize)]
pub struct PartView {
    pub part_number: i64,
    pub size: i64,
    pub sha256: String,
    pub is_final: bool,
}

#[derive(Debug, Serialize)]
pub struct UploadStatus {
    pub recording_id: String,
    pub parts: Vec<PartView>,
    pub next_part: i64,
    /// Whether the final frame is stored: `POST …/complete` will succeed.
    pub ready: bool,
    pub part_frames: i64,
    pub frame_length: i64,
    pub expires_at: i64,
    /// The message header (hex) once part 1 is stored: a client resuming after a
    /// reload continues this message (same message id) instead of starting over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
}

fn part_view(p: &PartRow) -> PartView {
    PartView { part_number: p.part_number, size: p.size, sha256: p.sha256.clone(), is_final: p.is_final }
}

/// The pending recording and its upload, or a clear refusal. Only the member who
/// created a recording uploads to it: another could otherwise replace a pending
/// server-encrypted recording's content, or complete someone else's upload.
async fn pending(state: &AppState, member: &Member, id: &str, action: &'static str) -> ApiResult<(Recording, Upload)> {
    let r = find(state, member, id, action).await?;
    if r.status != RecordingStatus::Pending {
        return Err(ApiError::conflict("the recording is already complete"));
    }
    if r.created_by != member.user {
        let why = json!({ "reason": "not the recording's creator" });
        member.audit(state, action, id, Outcome::Denied, why).await?;
        return Err(ApiError::forbidden("only the member who started this upload may continue it"));
    }
    let upload = state.db.upload(&member.family.id, id).await?.ok_or_else(ApiError::not_found)?;
    if upload.expires_at <= now_ms() {
        return Err(ApiError::new(StatusCode::GONE, "expired", "the upload expired; create the recording again"));
    }
    Ok((r, upload))
}

/// This request's claim on receiving the upload's data (`crate::receiving`).
fn receive(state: &AppState, id: &str) -> ApiResult<crate::receiving::Claim> {
    state.receiving.claim(id).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "upload-busy",
            "another request is sending this upload's data; try again when it has ended",
        )
    })
}

/// `GET /v1/recordings/{id}/upload`: what is stored, and which part comes next.
pub async fn status(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
) -> ApiResult<Json<UploadStatus>> {
    let (r, upload) = pending(&state, &member, &id, "upload.status").await?;
    let parts = state.db.parts(&id).await?;
    Ok(Json(UploadStatus {
        recording_id: id,
        next_part: parts.len() as i64 + 1,
        ready: parts.last().is_some_and(|p| p.is_final),
        parts: parts.iter().map(part_view).collect(),
        part_frames: r.part_frames,
        frame_length: r.frame_length,
        expires_at: upload.expires_at,
        header: upload.header.clone(),
    }))
}

/// Unwraps a recording's data key with the family's key.
pub async fn data_key(state: &AppState, r: &Recording, family_key: &str) -> ApiResult<DataKey> {
    let edks = stored_edks(r)?;
    Ok(state
        .keys
        .decrypt_data_key(&FamilyKeyId(family_key.to_owned()), &edks, &context_for(&r.family_id, &r.id))
        .await?)
}

/// What a part's bytes must be, decided before reading them.
struct PartCheck {
    recording: Recording,
    data_key: DataKey,
    /// The verified header (parts after the first).
    header: Option<VerifiedHeader>,
    first_sequence: u32,
    part_frames: u32,
    /// Plaintext bytes the earlier parts held.
    plaintext_before: u64,
}

/// What a verified part turned out to hold.
struct PartOutcome {
    header_hex: Option<String>,
    next_sequence: u32,
    is_final: bool,
    plaintext_len: u64,
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::unprocessable("invalid-ciphertext", detail)
}

/// Checks a message header against what the server issued for this recording.
fn check_header(parsed: ParsedHeader, r: &Recording, data_key: &DataKey) -> ApiResult<VerifiedHeader> {
    let issued = stored_edks(r)?;
    let carried = parsed.encrypted_data_keys();
    if carried.len() != issued.len() || !issued.iter().all(|e| carried.contains(e)) {
        return Err(invalid("the header must carry exactly the encrypted data keys issued for this recording"));
    }
    if i64::from(parsed.frame_length()) != r.frame_length {
        return Err(invalid(format!("the frame length must be {}", r.frame_length)));
    }
    // Exactly Vault's two pairs: the data key was wrapped under them alone, and the
    // official SDKs unwrap under the whole stored context, so any extra pair would
    // leave the object openable by Vault only.
    if *parsed.stored_context() != context_for(&r.family_id, &r.id) {
        return Err(invalid("the encryption context must hold exactly vault:tenant and vault:object, nothing more"));
    }
    parsed.verify(data_key).map_err(|e| invalid(format!("header: {e}")))
}

/// Reads the body, verifying frames as they pass to the store. Any failure is also
/// sent down `tx`, so the store discards the part.
async fn feed(body: Body, tx: mpsc::Sender<io::Result<Bytes>>, check: PartCheck) -> ApiResult<PartOutcome> {
    let result = verify_into(body, &tx, check).await;
    if let Err(e) = &result {
        // The store must not count this part; it may already be gone (then nothing to undo).
        let _ = tx.send(Err(io::Error::other(format!("rejected: {}", e.code())))).await;
    }
    result
}

async fn verify_into(body: Body, tx: &mpsc::Sender<io::Result<Bytes>>, check: PartCheck) -> ApiResult<PartOutcome> {
    let mut stream = body.into_data_stream();
    let mut next_chunk = async || match tokio::time::timeout(IDLE, stream.next()).await {
        Err(_) => Err(ApiError::new(StatusCode::REQUEST_TIMEOUT, "timeout", "the upload stalled")),
        Ok(None) => Ok(None),
        Ok(Some(Err(e))) => Err(ApiError::bad_request(format!("upload body failed: {e}"))),
        Ok(Some(Ok(chunk))) => Ok(Some(chunk)),
    };
    let send = async |chunk: Bytes| tx.send(Ok(chunk)).await.map_err(|_| ApiError::internal("store stopped reading"));

    // Part 1 starts with the header: read until it is whole, then check it.
    let mut header_hex = None;
    let mut leftover = Bytes::new();
    let header = match check.header {
        Some(h) => h,
        None => {
            let policy = DecryptPolicy::requiring(context_for(&check.recording.family_id, &check.recording.id));
            let mut buffered = Vec::new();
            loop {
                let Some(chunk) = next_chunk().await? else {
                    return Err(invalid("the part ends inside the message header"));
                };
                buffered.extend_from_slice(&chunk);
                send(chunk).await?;
                match ParsedHeader::parse(&buffered, &policy).map_err(|e| invalid(format!("header: {e}")))? {
                    HeaderParse::NeedMore(_) if buffered.len() > MAX_HEADER => {
                        return Err(invalid("the header is too large"));
                    }
                    HeaderParse::NeedMore(_) => {}
                    HeaderParse::Complete(parsed) => {
                        let len = parsed.len();
                        header_hex = Some(hex::encode(&buffered[..len]));
                        leftover = Bytes::copy_from_slice(&buffered[len..]);
                        break check_header(*parsed, &check.recording, &check.data_key)?;
                    }
                }
            }
        }
    };

    // Then whole frames, from the part's first sequence number.
    let mut run = FrameRun::new(&header, check.first_sequence);
    // Decrypted bytes are discarded at once; the buffer is wiped when dropped.
    let mut scratch = Zeroizing::new(Vec::new());
    let limit = check.recording.plaintext_size as u64;
    let mut seen = 0u64;
    let mut verify = |bytes: &[u8]| -> ApiResult<()> {
        run.update(bytes, &mut scratch).map_err(|e| invalid(format!("frames: {e}")))?;
        seen += scratch.len() as u64;
        scratch.clear();
        if check.plaintext_before + seen > limit {
            return Err(invalid("the upload holds more plaintext than the recording's declared size"));
        }
        Ok(())
    };
    verify(&leftover)?;
    while let Some(chunk) = next_chunk().await? {
        verify(&chunk)?;
        send(chunk).await?;
    }
    let end = run.finish().map_err(|e| invalid(format!("frames: {e}")))?;
    let frames = end.next_sequence - check.first_sequence + u32::from(end.is_final);
    if !end.is_final && frames != check.part_frames {
        return Err(invalid(format!("every part but the last must hold exactly {} frames", check.part_frames)));
    }
    if end.is_final && check.plaintext_before + end.plaintext_len != limit {
        return Err(invalid("the message's plaintext length differs from the recording's declared size"));
    }
    Ok(PartOutcome {
        header_hex,
        next_sequence: end.next_sequence,
        is_final: end.is_final,
        plaintext_len: end.plaintext_len,
    })
}

fn parse_sha256(headers: &HeaderMap) -> ApiResult<[u8; 32]> {
    let value = headers.get(PART_SHA256).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut sha = [0u8; 32];
    hex::decode_to_slice(value, &mut sha)
        .map_err(|_| ApiError::bad_request(format!("the {PART_SHA256} header must hold the part's SHA-256 in hex")))?;
    Ok(sha)
}

fn content_length(headers: &HeaderMap) -> ApiResult<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ApiError::new(StatusCode::LENGTH_REQUIRED, "length-required", "Content-Length is required"))
}

/// `PUT /v1/recordings/{id}/parts/{n}`
pub async fn put_part(
    State(state): State<AppState>,
    member: Member,
    Path((id, n)): Path<(String, u32)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<PartView>> {
    let (r, upload) = pending(&state, &member, &id, "upload.part").await?;
    let _receiving = receive(&state, &id)?;
    if r.encryption != "client" {
        return Err(ApiError::conflict("this recording is encrypted by the server: send its plaintext instead"));
    }
    let sha256 = parse_sha256(&headers)?;
    let parts = state.db.parts(&id).await?;
    if let Some(existing) = parts.iter().find(|p| p.part_number == i64::from(n)) {
        // A retry of a part that did arrive: fine if it is the same part.
        return if existing.sha256 == hex::encode(sha256) {
            Ok(Json(part_view(existing)))
        } else {
            Err(ApiError::conflict(format!("part {n} is already stored with other content")))
        };
    }
    if parts.last().is_some_and(|p| p.is_final) {
        return Err(ApiError::conflict("the final part is already stored; complete the upload"));
    }
    let next = u32::try_from(parts.len() + 1).map_err(|_| invalid("too many parts"))?;
    if n != next {
        return Err(ApiError::conflict(format!("parts go in order: the next part is {next}")));
    }
    let len = content_length(&headers)?;
    let frame_bytes = r.frame_length as u64 + 32;
    let part_frames = u32::try_from(r.part_frames).map_err(ApiError::internal)?;
    let max_len = u64::from(part_frames) * frame_bytes + if n == 1 { MAX_HEADER as u64 } else { 0 };
    if len > max_len {
        return Err(ApiError::payload_too_large(format!("part {n} may hold at most {max_len} bytes")));
    }
    let data_key = data_key(&state, &r, &member.family.key_id).await?;
    let header = match (&upload.header, n) {
        (_, 1) => None,
        (Some(hex_header), _) => Some(stored_header(hex_header, &r, &data_key)?),
        (None, _) => return Err(ApiError::internal("upload has parts but no header")),
    };
    let check = PartCheck {
        first_sequence: (n - 1)
            .checked_mul(part_frames)
            .and_then(|s| s.checked_add(1))
            .ok_or_else(|| invalid("too many parts"))?,
        plaintext_before: parts.iter().map(|p| p.plaintext_len as u64).sum(),
        recording: r.clone(),
        data_key,
        header,
        part_frames,
    };
    let key = ObjectKey::new(r.object_key.clone()).map_err(ApiError::internal)?;
    let (tx, rx) = mpsc::channel(8);
    let stream = tokio_stream_from(rx);
    state.metrics.uploads_in_flight.inc();
    let (stored, fed) = tokio::join!(
        state.store.put_part(&key, &upload.store_upload_id, n, len, sha256, stream),
        feed(body, tx, check)
    );
    state.metrics.uploads_in_flight.dec();
    let outcome = fed?;
    let receipt = stored.map_err(|e| match e {
        StoreError::SizeMismatch => ApiError::bad_request("the body's length does not match Content-Length"),
        other => other.into(),
    })?;
    state.metrics.upload_bytes.inc_by(receipt.size);
    let row = PartRow {
        part_number: i64::from(n),
        size: receipt.size as i64,
        sha256: hex::encode(receipt.sha256),
        etag: receipt.etag,
        next_sequence: i64::from(outcome.next_sequence),
        is_final: outcome.is_final,
        plaintext_len: outcome.plaintext_len as i64,
    };
    match state.db.insert_part(&id, outcome.header_hex.as_deref(), &row).await {
        Err(e) if crate::db::is_unique_violation(&e) => {
            return Err(ApiError::conflict(format!("part {n} arrived twice at once")));
        }
        other => other?,
    }
    Ok(Json(part_view(&row)))
}

fn stored_header(hex_header: &str, r: &Recording, data_key: &DataKey) -> ApiResult<VerifiedHeader> {
    let bytes = hex::decode(hex_header).map_err(ApiError::internal)?;
    let policy = DecryptPolicy::requiring(context_for(&r.family_id, &r.id));
    match ParsedHeader::parse(&bytes, &policy).map_err(ApiError::internal)? {
        HeaderParse::Complete(h) => (*h).verify(data_key).map_err(ApiError::internal),
        HeaderParse::NeedMore(_) => Err(ApiError::internal("stored header incomplete")),
    }
}

fn tokio_stream_from(mut rx: mpsc::Receiver<io::Result<Bytes>>) -> crate::store::ByteStream {
    Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

/// `POST /v1/recordings/{id}/complete`: commits the verified parts write-once.
pub async fn complete(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
) -> ApiResult<Json<RecordingView>> {
    let (r, upload) = pending(&state, &member, &id, "upload.complete").await?;
    commit(&state, &member, &r, &upload).await
}

/// Commits an upload whose parts are all stored and verified. Safe to repeat after a
/// crash between the store's commit and the database's: the object found in the
/// store is then adopted if it is the one these parts make.
async fn commit(state: &AppState, member: &Member, r: &Recording, upload: &Upload) -> ApiResult<Json<RecordingView>> {
    let parts = state.db.parts(&r.id).await?;
    let joined = parts.iter().enumerate().all(|(i, p)| p.part_number == i as i64 + 1);
    if parts.is_empty() || !joined || !parts.last().is_some_and(|p| p.is_final) {
        return Err(ApiError::conflict("the upload is not complete: its final part is missing"));
    }
    let plaintext: i64 = parts.iter().map(|p| p.plaintext_len).sum();
    if plaintext != r.plaintext_size {
        return Err(invalid("the message's plaintext length differs from the recording's declared size"));
    }
    let size: i64 = parts.iter().map(|p| p.size).sum();
    let receipts: Vec<PartReceipt> = parts
        .iter()
        .map(|p| {
            let mut sha = [0u8; 32];
            hex::decode_to_slice(&p.sha256, &mut sha).map_err(ApiError::internal)?;
            Ok(PartReceipt {
                part_number: u32::try_from(p.part_number).map_err(ApiError::internal)?,
                size: p.size as u64,
                sha256: sha,
                etag: p.etag.clone(),
            })
        })
        .collect::<ApiResult<_>>()?;
    let key = ObjectKey::new(r.object_key.clone()).map_err(ApiError::internal)?;
    let info = match state.store.complete_upload(&key, &upload.store_upload_id, &receipts).await {
        Ok(info) => info,
        Err(StoreError::AlreadyExists | StoreError::UploadNotFound) => {
            let info = state.store.head(&key).await?;
            if info.size != size as u64 {
                return Err(ApiError::internal("a different object exists under this recording's key"));
            }
            info
        }
        Err(e) => return Err(e.into()),
    };
    let header_len = upload
        .header
        .as_ref()
        .map(|h| h.len() as i64 / 2)
        .ok_or_else(|| ApiError::internal("committed upload without header"))?;
    let committed = crate::db::Committed {
        ciphertext_size: info.size as i64,
        sha256: &hex::encode(info.sha256),
        header_len,
        version: &info.version,
        retain_until: i64::try_from(info.retain_until.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX),
    };
    if !state.db.commit_recording(&member.family.id, &r.id, &committed, state.replicator.is_some()).await? {
        return Err(ApiError::conflict("the recording changed meanwhile"));
    }
    if let Some(replicator) = &state.replicator {
        replicator.nudge();
    }
    state.db.delete_upload(&r.id).await?;
    state.metrics.uploads_committed.inc();
    member
        .audit(
            state,
            "recording.committed",
            &r.id,
            Outcome::Success,
            json!({ "ciphertext_size": info.size, "sha256": hex::encode(info.sha256), "parts": parts.len() }),
        )
        .await?;
    let r = state.db.recording(&member.family.id, &r.id).await?.ok_or_else(ApiError::not_found)?;
    Ok(Json((&r).into()))
}

/// `PUT /v1/recordings/{id}/plaintext`: the server encrypts a plaintext upload on
/// the fly, one part in memory at a time, and commits it. A retry starts over.
pub async fn put_plaintext(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<RecordingView>> {
    let (r, mut upload) = pending(&state, &member, &id, "upload.plaintext").await?;
    let _receiving = receive(&state, &id)?;
    if r.encryption != "server" {
        return Err(ApiError::conflict("this recording is encrypted by the client: upload its ciphertext parts"));
    }
    if content_length(&headers)? != r.plaintext_size as u64 {
        return Err(ApiError::bad_request("Content-Length must equal the recording's plaintext_size"));
    }
    let key = ObjectKey::new(r.object_key.clone()).map_err(ApiError::internal)?;
    if !state.db.parts(&id).await?.is_empty() || upload.header.is_some() {
        state.store.abort_upload(&key, &upload.store_upload_id).await?;
        let fresh = state.store.create_upload(&key, super::recordings::retain_until(&state)).await?;
        state.db.restart_upload(&id, &fresh).await?;
        upload = state.db.upload(&member.family.id, &id).await?.ok_or_else(ApiError::not_found)?;
    }
    let data_key = data_key(&state, &r, &member.family.key_id).await?;
    let materials = EncryptionMaterials::new(context_for(&r.family_id, &r.id), data_key, stored_edks(&r)?)
        .map_err(ApiError::internal)?;
    let frame_length = u32::try_from(r.frame_length).map_err(ApiError::internal)?;
    let mut encryptor = Encryptor::new(&materials, frame_length, &mut OsRng).map_err(ApiError::internal)?;
    let part_bytes = usize::try_from(r.part_frames * (r.frame_length + 32)).map_err(ApiError::internal)?;
    let part_frames = r.part_frames as u64;
    let header_len = encryptor.header_len();
    let mut writer = PartWriter {
        state: &state,
        key: &key,
        upload_id: upload.store_upload_id.clone(),
        recording: &id,
        next_part: 1,
        part_frames,
        frame_length: r.frame_length as u64,
    };
    let mut out = Vec::new();
    let mut stream = body.into_data_stream();
    let mut received = 0u64;
    state.metrics.uploads_in_flight.inc();
    let result = async {
        loop {
            let chunk = match tokio::time::timeout(IDLE, stream.next()).await {
                Err(_) => return Err(ApiError::new(StatusCode::REQUEST_TIMEOUT, "timeout", "the upload stalled")),
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(ApiError::bad_request(format!("upload body failed: {e}"))),
                Ok(Some(Ok(chunk))) => chunk,
            };
            received += chunk.len() as u64;
            if received > r.plaintext_size as u64 {
                return Err(ApiError::bad_request("the body is longer than the recording's plaintext_size"));
            }
            encryptor.update(&chunk, &mut out).map_err(ApiError::internal)?;
            // Cut whole parts as they fill: part 1 carries the header too.
            loop {
                let want = part_bytes + if writer.next_part == 1 { header_len } else { 0 };
                if out.len() < want {
                    break;
                }
                let rest = out.split_off(want);
                writer.write(std::mem::replace(&mut out, rest), header_len, false).await?;
            }
        }
        if received != r.plaintext_size as u64 {
            return Err(ApiError::bad_request("the body is shorter than the recording's plaintext_size"));
        }
        encryptor.finish(&mut out).map_err(ApiError::internal)?;
        // At most one whole part plus the final frame can remain.
        let want = part_bytes + if writer.next_part == 1 { header_len } else { 0 };
        if out.len() > want {
            let rest = out.split_off(want);
            writer.write(std::mem::replace(&mut out, rest), header_len, false).await?;
        }
        writer.write(out, header_len, true).await
    }
    .await;
    state.metrics.uploads_in_flight.dec();
    result?;
    let upload = state.db.upload(&member.family.id, &id).await?.ok_or_else(ApiError::not_found)?;
    commit(&state, &member, &r, &upload).await
}

/// Stores the server-encrypted message part by part.
struct PartWriter<'a> {
    state: &'a AppState,
    key: &'a ObjectKey,
    upload_id: String,
    recording: &'a str,
    next_part: u32,
    part_frames: u64,
    frame_length: u64,
}

impl PartWriter<'_> {
    async fn write(&mut self, bytes: Vec<u8>, header_len: usize, is_final: bool) -> ApiResult<()> {
        let n = self.next_part;
        let header = if n == 1 { Some(hex::encode(&bytes[..header_len])) } else { None };
        let body_len = bytes.len() as u64 - if n == 1 { header_len as u64 } else { 0 };
        let frames = if is_final { (body_len - 40) / (self.frame_length + 32) + 1 } else { self.part_frames };
        let plaintext_len = body_len - frames * 32 - if is_final { 8 } else { 0 };
        let sha: [u8; 32] = Sha256::digest(&bytes).into();
        let len = bytes.len() as u64;
        let stream: crate::store::ByteStream = Box::pin(futures_util::stream::iter([Ok(Bytes::from(bytes))]));
        let receipt = self.state.store.put_part(self.key, &self.upload_id, n, len, sha, stream).await?;
        self.state.metrics.upload_bytes.inc_by(receipt.size);
        let first_sequence = u64::from(n - 1) * self.part_frames + 1;
        let row = PartRow {
            part_number: i64::from(n),
            size: receipt.size as i64,
            sha256: hex::encode(receipt.sha256),
            etag: receipt.etag,
            next_sequence: (first_sequence + frames - u64::from(is_final)) as i64,
            is_final,
            plaintext_len: plaintext_len as i64,
        };
        self.state.db.insert_part(self.recording, header.as_deref(), &row).await?;
        self.next_part += 1;
        Ok(())
    }
}
