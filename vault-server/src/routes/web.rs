//! What the web page needs before anyone signs in: how to sign in, and (embedded
//! mode only) a development sign-in that mints tokens with the local issuer.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::routes::families::valid_id;

/// `GET /web-config.json`.
pub async fn config(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "dev_sign_in": dev_sign_in_enabled(&state),
        "sign_in_url": state.config.auth.sign_in_url,
    }))
}

/// The development sign-in exists only with the development issuer trusted and the
/// server listening on loopback: it hands any token to anyone who can reach it.
pub fn dev_sign_in_enabled(state: &AppState) -> bool {
    state.dev_issuer.is_some() && state.config.listen.ip().is_loopback()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevToken {
    pub user_id: String,
    pub family_id: String,
    /// Token lifetime (default one hour; at most a day).
    pub ttl_secs: Option<u64>,
}

/// `POST /dev/token`: a development-issuer token for `user_id` in `family_id`.
pub async fn dev_token(State(state): State<AppState>, Json(req): Json<DevToken>) -> ApiResult<Json<Value>> {
    let Some(issuer) = state.dev_issuer.as_ref().filter(|_| dev_sign_in_enabled(&state)) else {
        return Err(ApiError::not_found());
    };
    if !valid_id(&req.user_id) || !valid_id(&req.family_id) {
        return Err(ApiError::bad_request("user and family ids are 1-64 letters, digits, '-' or '_'"));
    }
    let ttl = req.ttl_secs.unwrap_or(3600).clamp(1, 86_400);
    let token =
        issuer.mint(&req.user_id, Some(&req.family_id), None, Duration::from_secs(ttl)).map_err(ApiError::internal)?;
    Ok(Json(json!({ "token": token, "expires_in": ttl })))
}
