//! Liveness (with the dependencies' last answers), readiness, metrics, the public
//! signing key.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::api::session::SigningKey;
use crate::domain::health::Dependency;
use crate::http::AppState;
use crate::http::extract::Json;

/// A readiness answer and when it was made.
pub(crate) type Readiness = (std::time::Instant, (StatusCode, &'static str));

/// How long a readiness answer is reused: `/readyz` is unauthenticated, and a flood
/// of checks must not become a flood of database queries.
const READY_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// What `/healthz` says: the process answers, and what its dependencies answered the
/// last probe (every `health_check_secs`; none before the first).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct HealthReport {
    /// Always `ok`: this is liveness, whatever the dependencies say.
    status: &'static str,
    instance: String,
    /// When the last probe ended (Unix ms).
    checked_at: Option<i64>,
    dependencies: Vec<Dependency>,
}

/// Liveness, with the dependencies' last answers: a region's outage shows here and in
/// `vault_dependency_up`, never as a failed liveness or readiness check (every
/// instance shares the regions, and each fails over by itself).
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = HealthReport)))]
pub(crate) async fn healthz(State(state): State<AppState>) -> Json<HealthReport> {
    let s = &state.services;
    let (checked_at, dependencies) = s.health.last().map_or((None, Vec::new()), |(at, deps)| (Some(at), deps));
    Json(HealthReport { status: "ok", instance: s.instance.clone(), checked_at, dependencies })
}

/// Readiness: whether this instance can serve, that is whether its database answers
/// (checked at most every 5 s). The key service and the regions are shared by every
/// instance and fail over by themselves: they show in `/healthz`, not here.
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
    let answer = match state.services.db.check().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: database");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
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
