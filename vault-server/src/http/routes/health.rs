//! Liveness, readiness, metrics, the public signing key.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::api::session::SigningKey;
use crate::http::AppState;
use crate::http::extract::Json;

/// A readiness answer and when it was made.
pub(crate) type Readiness = (std::time::Instant, (StatusCode, &'static str));

/// How long a readiness answer is reused: `/readyz` is unauthenticated, and each fresh
/// answer costs a database query and a KMS call (a flood must not use up KMS quota).
const READY_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = String, content_type = "text/plain")))]
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database and key service answer (checked at most every 5 s).
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = String, content_type = "text/plain"), (status = 503, body = String, content_type = "text/plain")))]
pub(crate) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    // One check at a time; callers meanwhile wait for its answer.
    let mut cached = state.readiness.lock().await;
    if let Some((at, answer)) = *cached
        && at.elapsed() < READY_FOR
    {
        return answer;
    }
    let s = &state.services;
    let answer = if let Err(e) = s.db.check().await {
        tracing::warn!(error = %e, "not ready: database");
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    } else if let Err(e) = s.keys.check().await {
        tracing::warn!(error = %e, "not ready: key service");
        (StatusCode::SERVICE_UNAVAILABLE, "key service unavailable")
    } else {
        (StatusCode::OK, "ready")
    };
    *cached = Some((std::time::Instant::now(), answer));
    answer
}

/// Prometheus metrics (OpenMetrics text).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, body = String, content_type = "application/openmetrics-text")))]
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        // Which instance answered (behind a load balancer, each is scraped on its own).
        format!(
            "# HELP vault_instance_info This instance of vault serve.\n# TYPE vault_instance_info gauge\n\
             vault_instance_info{{instance=\"{}\"}} 1\n{}",
            state.services.instance,
            state.services.metrics.encode()
        ),
    )
}

/// The public key that signs erasure receipts, scrub reports and audit anchors: public,
/// so anyone holding a receipt can pin it.
#[utoipa::path(get, path = "/v1/signing-key", tag = "operations", responses((status = 200, body = SigningKey)))]
pub(crate) async fn signing_key(State(state): State<AppState>) -> Json<SigningKey> {
    let signer = &state.services.signer;
    Json(SigningKey {
        algorithm: "Ed25519".into(),
        key_id: signer.key_id().to_owned(),
        public_key: signer.public_key(),
    })
}
