//! Liveness, readiness, metrics.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::app::AppState;

/// `GET /healthz`: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// A readiness answer and when it was made.
pub type Readiness = (std::time::Instant, (StatusCode, &'static str));

/// How long a readiness answer is reused: `/readyz` is unauthenticated, and each fresh
/// answer costs a database query and a KMS call (a flood must not use up KMS quota).
const READY_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// `GET /readyz`: the database and key service answer (checked at most every 5 s).
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    // One check at a time; callers meanwhile wait for its answer.
    let mut cached = state.readiness.lock().await;
    if let Some((at, answer)) = *cached {
        if at.elapsed() < READY_FOR {
            return answer;
        }
    }
    let answer = if let Err(e) = state.db.check().await {
        tracing::warn!(error = %e, "not ready: database");
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    } else if let Err(e) = state.keys.check().await {
        tracing::warn!(error = %e, "not ready: key service");
        (StatusCode::SERVICE_UNAVAILABLE, "key service unavailable")
    } else {
        (StatusCode::OK, "ready")
    };
    *cached = Some((std::time::Instant::now(), answer));
    answer
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
