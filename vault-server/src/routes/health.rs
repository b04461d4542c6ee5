//! Liveness, readiness, metrics.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::app::AppState;

/// `GET /healthz`: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: the database and key service answer.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if let Err(e) = state.db.check().await {
        tracing::warn!(error = %e, "not ready: database");
        return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable");
    }
    if let Err(e) = state.keys.check().await {
        tracing::warn!(error = %e, "not ready: key service");
        return (StatusCode::SERVICE_UNAVAILABLE, "key service unavailable");
    }
    (StatusCode::OK, "ready")
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], state.metrics.encode())
}

/// `GET /v1/signing-key`: public, so anyone holding a receipt can pin the key.
pub async fn signing_key(State(state): State<AppState>) -> impl IntoResponse {
    axum::Json(serde_json::json!({
        "algorithm": "Ed25519",
        "key_id": state.signer.key_id(),
        "public_key": state.signer.public_key(),
    }))
}
