//! Resumable uploads (`crate::domain::uploads` verifies and commits): the body and its
//! headers parsed here.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use futures_util::TryStreamExt;

use crate::api::recordings::RecordingView;
use crate::api::uploads::{BinaryBody, PART_SHA256, PartView, UploadStatus};
use crate::api::{ErrorCode, Problem};
use crate::domain::uploads;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::http::middleware::caller::ContributorCall;
use crate::http::views;
use crate::store::ByteStream;

fn sha256_header(headers: &HeaderMap) -> ApiResult<[u8; 32]> {
    let value = headers.get(PART_SHA256).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut sha = [0u8; 32];
    hex::decode_to_slice(value, &mut sha)
        .map_err(|_| ApiError::bad_request(format!("the {PART_SHA256} header must hold the part's SHA-256 in hex")))?;
    Ok(sha)
}

fn content_length(headers: &HeaderMap) -> ApiResult<u64> {
    headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).ok_or_else(|| {
        ApiError::new(StatusCode::LENGTH_REQUIRED, ErrorCode::LengthRequired, "Content-Length is required")
    })
}

/// The request body as the store's byte stream.
fn stream(body: Body) -> ByteStream {
    Box::pin(body.into_data_stream().map_err(std::io::Error::other))
}

/// Upload progress: stored parts and the next one.
#[utoipa::path(get, path = "/v1/recordings/{id}/upload", tag = "uploads", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = UploadStatus), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn status(call: ContributorCall, Path(id): Path<String>) -> ApiResult<Json<UploadStatus>> {
    Ok(Json(views::upload_status(&uploads::status(&call.services, &call.member, &id).await?)))
}

/// Uploads one ciphertext part (its SHA-256 in `x-vault-sha256`); every frame is
/// verified before the store counts it.
#[utoipa::path(put, path = "/v1/recordings/{id}/parts/{part}", tag = "uploads",
    params(("id" = String, Path), ("part" = u32, Path, description = "From 1"),
        ("x-vault-sha256" = String, Header, description = "The part's SHA-256, hex")),
    request_body(content = BinaryBody, content_type = "application/octet-stream"), security(("bearer" = [])),
    responses((status = 200, body = PartView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn put_part(
    call: ContributorCall,
    Path((id, n)): Path<(String, u32)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<PartView>> {
    let sha256 = sha256_header(&headers)?;
    let len = content_length(&headers)?;
    let part = uploads::put_part(&call.services, &call.member, &id, n, sha256, len, stream(body)).await?;
    Ok(Json(views::part(&part)))
}

/// Commits the uploaded parts write-once.
#[utoipa::path(post, path = "/v1/recordings/{id}/complete", tag = "uploads", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = RecordingView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn complete(call: ContributorCall, Path(id): Path<String>) -> ApiResult<Json<RecordingView>> {
    Ok(Json(views::recording(&uploads::complete(&call.services, &call.member, &id).await?)))
}

/// Uploads plaintext for server-side encryption (Content-Length = the declared size).
#[utoipa::path(put, path = "/v1/recordings/{id}/plaintext", tag = "uploads", params(("id" = String, Path)),
    request_body(content = BinaryBody, content_type = "application/octet-stream"), security(("bearer" = [])),
    responses((status = 200, body = RecordingView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn put_plaintext(
    call: ContributorCall,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<RecordingView>> {
    let len = content_length(&headers)?;
    let r = uploads::put_plaintext(&call.services, &call.member, &id, len, stream(body)).await?;
    Ok(Json(views::recording(&r)))
}
