//! The family library's encrypted pieces: the library key, and each recording's
//! encrypted details and poster (`crate::domain::library`).

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::api::Problem;
use crate::api::recordings::DataKeyGrant;
use crate::api::uploads::BinaryBody;
use crate::domain::library::{self, Piece};
use crate::http::error::ApiResult;
use crate::http::extract::Path;
use crate::http::middleware::caller::ContributorCall;
use crate::http::secret_json::SecretJson;

/// The family's library key (made on first use), to encrypt and decrypt recordings'
/// details and posters in the browser. Audited and rate-limited as a key release.
#[utoipa::path(post, path = "/v1/family/library-key", tag = "library", security(("bearer" = [])),
    responses((status = 200, body = DataKeyGrant), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn key(call: ContributorCall) -> ApiResult<SecretJson<DataKeyGrant>> {
    Ok(SecretJson(DataKeyGrant::from(&library::key(&call.services, &call.member).await?)))
}

/// Replaces a recording's encrypted details (an ESDK message under the library key,
/// at most 16 KiB; its creator, or an owner or admin).
#[utoipa::path(put, path = "/v1/recordings/{id}/details", tag = "library", params(("id" = String, Path)),
    request_body(content = BinaryBody, content_type = "application/octet-stream"), security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn set_details(call: ContributorCall, Path(id): Path<String>, body: Bytes) -> ApiResult<StatusCode> {
    library::set(&call.services, &call.member, &id, Piece::Details, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces a recording's encrypted poster (an ESDK message under the library key,
/// at most 256 KiB).
#[utoipa::path(put, path = "/v1/recordings/{id}/poster", tag = "library", params(("id" = String, Path)),
    request_body(content = BinaryBody, content_type = "application/octet-stream"), security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn set_poster(call: ContributorCall, Path(id): Path<String>, body: Bytes) -> ApiResult<StatusCode> {
    library::set(&call.services, &call.member, &id, Piece::Poster, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A recording's encrypted poster.
#[utoipa::path(get, path = "/v1/recordings/{id}/poster", tag = "library", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = BinaryBody, content_type = "application/octet-stream"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn poster(call: ContributorCall, Path(id): Path<String>) -> ApiResult<Response> {
    let bytes = library::poster(&call.services, &call.member, &id).await?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"))], bytes).into_response())
}
