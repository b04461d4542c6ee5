//! What the web page needs before anyone signs in: its files, how to sign in, and
//! (embedded mode only) a development sign-in that mints tokens with the local issuer
//! for the developer at this machine (a loopback peer who shows the printed one-time
//! code). Signing in is the HTTP side's business: the domain sees verified callers.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api::session::{DevRenew, DevToken, DevTokenIssued, WebConfig};
use crate::api::{ErrorCode, Problem};
use crate::auth::DevIssuer;
use crate::domain::audit::{Action, Event, Outcome, RequestMeta, SYSTEM_TENANT};
use crate::domain::families::valid_id;
use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Json;
use crate::http::middleware::caller::Caller;

/// Headers a proxy adds: a request that carries one did not come from this machine's
/// own user directly, whatever its TCP peer.
const FORWARDING: [&str; 6] =
    ["forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip", "via"];

/// The development sign-in answers only a loopback peer whose request no proxy forwarded.
fn this_machine_directly(meta: &RequestMeta, headers: &HeaderMap) -> ApiResult<()> {
    let direct =
        meta.peer.is_some_and(|p| p.ip().is_loopback()) && FORWARDING.iter().all(|h| !headers.contains_key(*h));
    if direct {
        Ok(())
    } else {
        Err(ApiError::forbidden("the development sign-in answers only this machine's own browser, directly"))
    }
}

/// The web page's files (`web_dir`), for any path no route matched. Paths that cannot
/// name one of its files (a leading `//`, which a directory redirect would turn into a
/// protocol-relative `Location`, or names longer than a file system allows) are not
/// found, and so is anything the file system refuses.
pub(crate) async fn static_file(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    use tower::ServiceExt;
    let path = request.uri().path();
    let nameable = !path.starts_with("//") && path.len() <= 1024 && path.split('/').all(|s| s.len() <= 255);
    let Some(dir) = state.services.config.web_dir.as_ref().filter(|_| nameable) else {
        return ApiError::not_found().into_response();
    };
    match tower_http::services::ServeDir::new(dir).oneshot(request).await {
        Ok(response) if !response.status().is_server_error() => response.into_response(),
        _ => ApiError::not_found().into_response(),
    }
}

/// How the web page signs in.
#[utoipa::path(get, path = "/web-config.json", tag = "session", responses((status = 200, body = WebConfig)))]
pub(crate) async fn config(State(state): State<AppState>) -> Json<WebConfig> {
    Json(WebConfig {
        dev_sign_in: state.dev_sign_in.is_some(),
        sign_in_url: state.services.config.auth.sign_in_url.clone(),
        refresh_url: state.services.config.auth.refresh_url.clone(),
    })
}

/// The development issuer's public key (embedded mode only).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "session",
    responses((status = 200, body = Object, description = "A JWKS document"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn jwks(State(state): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    state.dev_issuer.as_ref().map(|dev| Json(dev.jwks())).ok_or_else(ApiError::not_found)
}

/// Development sign-in (embedded mode on loopback only): a development-issuer token
/// for `user_id` in `family_id`, for a loopback peer without forwarding headers who
/// shows the current one-time code.
#[utoipa::path(post, path = "/dev/token", tag = "session", request_body = DevToken,
    responses((status = 200, body = DevTokenIssued), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn dev_token(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    Json(req): Json<DevToken>,
) -> ApiResult<Json<DevTokenIssued>> {
    let (Some(issuer), Some(codes)) = (state.dev_issuer.as_ref(), state.dev_sign_in.as_ref()) else {
        return Err(ApiError::not_found());
    };
    this_machine_directly(&meta, &headers)?;
    if !valid_id(&req.user_id) || !valid_id(&req.family_id) {
        return Err(ApiError::bad_request(
            "user and family ids are 1 to 64 letters, digits, '-' or '_', starting with a letter or digit",
        ));
    }
    let s = &state.services;
    if !s.limits.allow_auth_failure(&meta.ip) {
        return Err(ApiError::too_many_requests());
    }
    if !codes.redeem(&req.code).map_err(ApiError::internal)? {
        let event = Event {
            tenant: SYSTEM_TENANT.into(),
            actor: String::new(),
            action: Action::AuthFailed,
            target: "/dev/token".into(),
            outcome: Outcome::Denied,
            metadata: json!({ "reason": "wrong or used development sign-in code" }),
        };
        s.audit.record(&event, &meta).await?;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::SignInCode,
            "that sign-in code is wrong or already used: enter the newest code printed where vault serve runs",
        ));
    }
    issue(issuer, &req.user_id, &req.family_id, req.ttl_secs)
}

/// A fresh development token for the caller's own (user, family), so that a long
/// upload outlives the token it started with. Only for a valid token of the
/// development issuer, from this machine's own browser directly (as `/dev/token`).
#[utoipa::path(post, path = "/dev/renew", tag = "session", request_body = DevRenew, security(("bearer" = [])),
    responses((status = 200, body = DevTokenIssued), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn dev_renew(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Json(req): Json<DevRenew>,
) -> ApiResult<Json<DevTokenIssued>> {
    let Some(issuer) = state.dev_issuer.as_ref() else {
        return Err(ApiError::not_found());
    };
    this_machine_directly(&caller.meta, &headers)?;
    let identity = &caller.identity;
    let Some(family) = identity.family.as_deref().filter(|_| identity.issuer == DevIssuer::ISSUER) else {
        return Err(ApiError::forbidden("only a development sign-in's token is renewed here"));
    };
    issue(issuer, &identity.subject, family, req.ttl_secs)
}

/// A development token for `user` in `family`, living `ttl_secs` (default an hour, at
/// most a day): what both the sign-in and the renewal answer.
fn issue(issuer: &DevIssuer, user: &str, family: &str, ttl_secs: Option<u64>) -> ApiResult<Json<DevTokenIssued>> {
    let ttl = ttl_secs.unwrap_or(3600).clamp(1, 86_400);
    let token = issuer.mint(user, Some(family), None, Duration::from_secs(ttl)).map_err(ApiError::internal)?;
    Ok(Json(DevTokenIssued { token, expires_in: ttl }))
}
