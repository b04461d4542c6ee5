//! The state every request handler shares.

use std::sync::Arc;

use crate::audit::AuditLog;
use crate::auth::{DevIssuer, DevSignIn, Verifier};
use crate::config::Config;
use crate::db::Db;
use crate::keys::KeyService;
use crate::metrics::Metrics;
use crate::middleware::rate_limit::RateLimits;
use crate::store::ObjectStore;

/// Backends and services behind the API. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub keys: Arc<dyn KeyService>,
    pub store: Arc<dyn ObjectStore>,
    pub audit: Arc<AuditLog>,
    pub verifier: Arc<Verifier>,
    pub dev_issuer: Option<Arc<DevIssuer>>,
    /// The development sign-in's one-time codes: only while `vault serve` runs on
    /// loopback with the development issuer.
    pub dev_sign_in: Option<Arc<DevSignIn>>,
    /// The `Host` names requests may carry (`middleware::host`).
    pub hosts: Arc<crate::middleware::host::AllowedHosts>,
    pub limits: Arc<RateLimits>,
    pub metrics: Arc<Metrics>,
    /// The cross-region copier, when the store has a replica region.
    pub replicator: Option<Arc<crate::replication::Replicator>>,
    /// The two regions behind `store`, when there is a replica.
    pub replicated: Option<Arc<crate::store::replicated::ReplicatedStore>>,
    /// Exports started and waiting for their one-time download.
    pub exports: Arc<crate::routes::export::PendingExports>,
    /// The last readiness answer and when it was made (`routes::health::readyz`).
    pub readiness: Arc<tokio::sync::Mutex<Option<crate::routes::health::Readiness>>>,
    /// Uploads receiving data now (one request at a time per upload).
    pub receiving: Arc<crate::receiving::Receiving>,
    /// Ranged reads already audited (one row per user, recording and session).
    pub reads: Arc<crate::reads::AuditedReads>,
    /// Signs scrub reports, erasure receipts and audit anchors.
    pub signer: Arc<crate::signing::Signer>,
}
