//! Share links: made, listed and revoked by owners and admins (and members, where the
//! family allows it: their own); opened and read by
//! anyone holding the link, without an account (`crate::domain::share_links` decides).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;

use crate::api::Problem;
use crate::api::share_links::{
    CreateShareLink, LinkedRecording, OpenedLink, PassphraseKdf, ShareLinkOpening, ShareLinkView,
};
use crate::api::uploads::BinaryBody;
use crate::db::{ShareLink, now_ms};
use crate::domain::audit::RequestMeta;
use crate::domain::playback::ReadRequest;
use crate::domain::{media_type, share_links};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::http::middleware::caller::MemberCall;
use crate::http::secret_json::SecretJson;
use crate::http::{AppState, ciphertext};

fn view(l: &ShareLink) -> ShareLinkView {
    ShareLinkView {
        id: l.id.clone(),
        name: l.name.clone(),
        state: share_links::state(l, now_ms()),
        created_by: l.created_by.clone(),
        created_at: l.created_at,
        expires_at: l.expires_at,
        revoked_at: l.revoked_at,
        views: l.views,
        max_views: l.max_views,
        allow_download: l.allow_download,
        passphrase: l.passphrase.is_some(),
        recordings: l.items,
    }
}

/// Makes a share link (owners and admins; members too if the family allows it). The link's secret is not in the request:
/// only keys sealed under it are.
#[utoipa::path(post, path = "/v1/family/links", tag = "sharing", request_body = CreateShareLink, security(("bearer" = [])),
    responses((status = 201, body = ShareLinkView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn create(
    call: MemberCall,
    Json(body): Json<CreateShareLink>,
) -> ApiResult<(StatusCode, Json<ShareLinkView>)> {
    let link = share_links::create(&call.services, &call.member, &body).await?;
    Ok((StatusCode::CREATED, Json(view(&link))))
}

/// The family's share links, newest first, with their views (a member: their own).
#[utoipa::path(get, path = "/v1/family/links", tag = "sharing", security(("bearer" = [])),
    responses((status = 200, body = Vec<ShareLinkView>), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn list(call: MemberCall) -> ApiResult<Json<Vec<ShareLinkView>>> {
    Ok(Json(share_links::list(&call.services, &call.member).await?.iter().map(view).collect()))
}

/// Revokes a share link at once (owners and admins; a member: their own).
#[utoipa::path(delete, path = "/v1/family/links/{id}", tag = "sharing", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn revoke(call: MemberCall, Path(id): Path<String>) -> ApiResult<StatusCode> {
    share_links::revoke(&call.services, &call.member, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every opening of a share link (time, address, browser), newest first.
#[utoipa::path(get, path = "/v1/family/links/{id}/openings", tag = "sharing", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Vec<ShareLinkOpening>), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn openings(call: MemberCall, Path(id): Path<String>) -> ApiResult<Json<Vec<ShareLinkOpening>>> {
    let rows = share_links::openings(&call.services, &call.member, &id).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| ShareLinkOpening { at: r.at, ip: r.ip, user_agent: r.user_agent, outcome: r.outcome })
            .collect(),
    ))
}

/// Opens a share link (no sign-in): counts one view and answers the sealed keys and a
/// token for this view's reads. Rate-limited per address.
#[utoipa::path(post, path = "/v1/links/{id}/open", tag = "sharing", params(("id" = String, Path)),
    responses((status = 200, body = OpenedLink), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn open(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> ApiResult<SecretJson<OpenedLink>> {
    let opened = share_links::open(&state.services, &id, &meta).await?;
    let passphrase = match &opened.link.passphrase {
        Some(p) => Some(serde_json::from_str::<PassphraseKdf>(p).map_err(ApiError::internal)?),
        None => None,
    };
    let recordings = opened
        .recordings
        .into_iter()
        .map(|(item, r)| LinkedRecording {
            recording_id: r.id.clone(),
            family_id: r.family_id.clone(),
            sealed: item.sealed,
            content_type: media_type::stored(&r.content_type).unwrap_or_else(|| media_type::OPAQUE.into()),
            frame_length: r.plan.frame_length(),
            header_len: r.header_len.unwrap_or(0),
            ciphertext_size: r.ciphertext_size.unwrap_or(0),
            plaintext_size: r.plaintext_size,
        })
        .collect();
    Ok(SecretJson(OpenedLink {
        id: opened.link.id,
        expires_at: opened.link.expires_at,
        allow_download: opened.link.allow_download,
        passphrase,
        view: opened.view,
        recordings,
    }))
}

/// Reads a shared recording's ciphertext, whole or one range, for one view of the
/// link (`x-vault-view`); the link is checked again on every read.
#[utoipa::path(get, path = "/v1/links/{id}/recordings/{recording}/content", tag = "sharing",
    params(("id" = String, Path), ("recording" = String, Path),
        ("x-vault-view" = String, Header, description = "the view token `open` answered"),
        ("range" = Option<String>, Header, description = "bytes=start-end")),
    responses((status = 200, body = BinaryBody, content_type = "application/octet-stream"),
        (status = 206, body = BinaryBody, content_type = "application/octet-stream"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn content(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path((id, recording)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let header = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let request = ReadRequest {
        range: header(header::RANGE),
        if_none_match: header(header::IF_NONE_MATCH),
        if_range: header(header::IF_RANGE),
        purpose: None,
    };
    let token = header(HeaderName::from_static("x-vault-view"));
    let read = share_links::read(&state.services, &id, &recording, token, &meta, &request).await?;
    ciphertext::respond(read)
}
