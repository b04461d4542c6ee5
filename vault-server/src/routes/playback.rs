//! Playback: ciphertext downloads with HTTP ranges, and key release.
//!
//! The server serves ciphertext only; the client decrypts the frames it fetched with
//! the data key from key release (vault-core's random access). Key release is the
//! consequential act: every one is audited and rate-limited per user. Ranged reads
//! are audited once per playback (the read at offset 0, or a whole download), not
//! per range, so a seek-heavy session does not flood the log.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use serde_json::json;

use super::recordings::find;
use super::uploads::data_key;
use crate::app::AppState;
use crate::audit::Outcome;
use crate::db::RecordingStatus;
use crate::error::{ApiError, ApiResult};
use crate::extract::Path;
use crate::middleware::caller::Member;
use crate::ranges::{Ranged, interpret};
use crate::secret_json::SecretJson;
use crate::store::ObjectKey;

/// `GET /v1/recordings/{id}/content`: the stored ciphertext, whole or one range.
pub async fn content(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let r = find(&state, &member, &id, "recording.download").await?;
    if r.status != RecordingStatus::Committed {
        return Err(ApiError::conflict("the recording is still uploading"));
    }
    let size = r.ciphertext_size.unwrap_or(0) as u64;
    let etag = format!("\"{}\"", r.sha256.as_deref().unwrap_or(""));
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    // If-Range with another validator means: send the whole (new) object.
    let if_range_ok = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()).is_none_or(|v| v == etag);
    let asked = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).filter(|_| if_range_ok);
    let range = match interpret(asked, size) {
        Ranged::Whole => None,
        Ranged::Part(range) => Some(range),
        Ranged::Unsatisfiable => {
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, [(header::CONTENT_RANGE, format!("bytes */{size}"))])
                .into_response());
        }
    };
    // A whole read is always logged; ranged reads once per user, recording and
    // session (`crate::reads`), whatever their offset.
    let first =
        range.is_none() || state.reads.first(&member.family.id, &member.issuer, &member.user, &id, &member.session);
    if first {
        member
            .audit(
                &state,
                "recording.downloaded",
                &id,
                Outcome::Success,
                json!({ "range": range.as_ref().map(|r| [r.start, r.end]), "session": member.session }),
            )
            .await?;
    }
    let key = ObjectKey::new(r.object_key.clone()).map_err(ApiError::internal)?;
    let stream = state.store.get(&key, range.clone()).await?;
    let len = range.as_ref().map_or(size, |r| r.end - r.start);
    state.metrics.download_bytes.inc_by(len);
    let mut response = Response::new(Body::from_stream(stream));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ETAG, HeaderValue::from_str(&etag).map_err(ApiError::internal)?);
    if let Some(range) = range {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let value = format!("bytes {}-{}/{size}", range.start, range.end - 1);
        response
            .headers_mut()
            .insert(header::CONTENT_RANGE, HeaderValue::from_str(&value).map_err(ApiError::internal)?);
    }
    Ok(response)
}

#[derive(Serialize)]
pub struct KeyRelease {
    /// The plaintext data key, base64. Only ever sent to a member of the family.
    pub data_key: zeroize::Zeroizing<String>,
    pub frame_length: i64,
    pub header_len: Option<i64>,
    pub ciphertext_size: Option<i64>,
    pub plaintext_size: i64,
    pub content_type: String,
}

/// `POST /v1/recordings/{id}/key`: the data key for playback (or, for the member
/// who started it, to resume an upload).
pub async fn release_key(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
) -> ApiResult<SecretJson<KeyRelease>> {
    if !state.limits.allow_key_release(&format!("{}/{}", member.family.id, member.user)) {
        member.audit(&state, "key.release", &id, Outcome::Denied, json!({ "reason": "rate limited" })).await?;
        return Err(ApiError::too_many_requests());
    }
    let r = find(&state, &member, &id, "key.release").await?;
    if r.status == RecordingStatus::Pending && r.created_by != member.user {
        return Err(ApiError::conflict("the recording is still uploading"));
    }
    let key = data_key(&state, &r, &member.family.key_id).await?;
    state.metrics.key_releases.inc();
    member.audit(&state, "key.released", &id, Outcome::Success, json!({ "status": r.status })).await?;
    Ok(SecretJson(KeyRelease {
        data_key: zeroize::Zeroizing::new(B64.encode(key.expose())),
        frame_length: r.frame_length,
        header_len: r.header_len,
        ciphertext_size: r.ciphertext_size,
        plaintext_size: r.plaintext_size,
        // Normalised again: rows from before the allowlist may name an active type.
        content_type: crate::media_type::stored(&r.content_type).unwrap_or_else(|| crate::media_type::OPAQUE.into()),
    }))
}
