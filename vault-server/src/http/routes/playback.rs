//! Playback: ciphertext downloads with HTTP ranges, and key release
//! (`crate::domain::playback` decides and audits).

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

use crate::api::Problem;
use crate::api::playback::KeyRelease;
use crate::api::uploads::BinaryBody;
use crate::domain::playback::ReadRequest;
use crate::domain::{media_type, playback};
use crate::http::ciphertext;
use crate::http::error::ApiResult;
use crate::http::extract::Path;
use crate::http::middleware::caller::{ContributorCall, MemberCall};
use crate::http::secret_json::SecretJson;

/// Downloads the stored ciphertext, whole or one range (RFC 9110 `Range`, `If-Range`,
/// `If-None-Match`).
#[utoipa::path(get, path = "/v1/recordings/{id}/content", tag = "playback",
    params(("id" = String, Path), ("range" = Option<String>, Header, description = "bytes=start-end"),
        ("x-vault-purpose" = Option<String>, Header, description = "play or download: a label for the family's audit log")),
    security(("bearer" = [])),
    responses((status = 200, body = BinaryBody, content_type = "application/octet-stream"),
        (status = 206, body = BinaryBody, content_type = "application/octet-stream"),
        (status = 304, description = "Not modified (If-None-Match matched the ETag)"),
        (status = 416, body = Problem, content_type = "application/problem+json",
            description = "The range starts past the end; Content-Range says the length"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn content(call: MemberCall, Path(id): Path<String>, headers: HeaderMap) -> ApiResult<Response> {
    let header = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let request = ReadRequest {
        range: header(header::RANGE),
        if_none_match: header(header::IF_NONE_MATCH),
        if_range: header(header::IF_RANGE),
        purpose: header(HeaderName::from_static("x-vault-purpose")),
    };
    ciphertext::respond(playback::read(&call.services, &call.member, &id, &request).await?)
}

/// Releases the data key for playback (audited, rate-limited per user).
#[utoipa::path(post, path = "/v1/recordings/{id}/key", tag = "playback", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = KeyRelease), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn release_key(call: ContributorCall, Path(id): Path<String>) -> ApiResult<SecretJson<KeyRelease>> {
    let (r, key) = playback::release_key(&call.services, &call.member, &id).await?;
    Ok(SecretJson(KeyRelease {
        data_key: Zeroizing::new(B64.encode(key.expose())),
        frame_length: r.plan.frame_length(),
        header_len: r.header_len,
        ciphertext_size: r.ciphertext_size,
        plaintext_size: r.plaintext_size,
        // Normalised again: rows from before the allowlist may name an active type.
        content_type: media_type::stored(&r.content_type).unwrap_or_else(|| media_type::OPAQUE.into()),
    }))
}
