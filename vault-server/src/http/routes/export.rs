//! Exports from the web page or API (`crate::domain::export`).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::api::Problem;
use crate::api::export::ExportStarted;
use crate::api::uploads::BinaryBody;
use crate::domain::audit::RequestMeta;
use crate::domain::export::{self, LINK_TTL, RECOVERY_NAMESPACE};
use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Path;
use crate::http::middleware::caller::MemberCall;
use crate::http::secret_json::SecretJson;

/// Starts an export (owners): the recovery key, shown once, and a one-time download link.
#[utoipa::path(post, path = "/v1/family/export", tag = "export", security(("bearer" = [])),
    responses((status = 200, body = ExportStarted), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn start(call: MemberCall) -> ApiResult<SecretJson<ExportStarted>> {
    let started = export::start(&call.services, &call.member).await?;
    Ok(SecretJson(ExportStarted {
        export_id: started.key.export_id.clone(),
        recovery_key: started.key.hex(),
        key_namespace: RECOVERY_NAMESPACE.to_owned(),
        key_name: started.key.key_name(),
        download: format!("/v1/exports/{}", started.token),
        expires_in_secs: LINK_TTL.as_secs(),
    }))
}

/// Downloads an export archive (the one-time link is the credential).
#[utoipa::path(get, path = "/v1/exports/{token}", tag = "export", params(("token" = String, Path)),
    responses((status = 200, body = BinaryBody, content_type = "application/x-tar"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn download(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let download = export::download(&state.services, &token, meta).await?;
    let mut response = Body::from_stream(tokio_util::io::ReaderStream::new(download.body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-tar"));
    let disposition = format!("attachment; filename=\"{}\"", download.file_name);
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).map_err(ApiError::internal)?);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
