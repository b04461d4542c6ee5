//! The state every request handler shares: the domain's services, and what only the
//! HTTP side needs (token verification, the development sign-in, the allowed hosts).

use std::sync::Arc;
use std::time::Duration;

use crate::auth::{AuthConfig, DevIssuer, DevSignIn, ExternalIssuer, Verifier};
use crate::domain::Services;

/// Cheap to clone.
#[derive(Clone)]
pub(crate) struct AppState {
    pub services: Arc<Services>,
    pub verifier: Arc<Verifier>,
    pub dev_issuer: Option<Arc<DevIssuer>>,
    /// The development sign-in's one-time codes: only while `vault serve` runs on
    /// loopback with the development issuer.
    pub dev_sign_in: Option<Arc<DevSignIn>>,
    /// The `Host` names requests may carry (`middleware::host`).
    pub hosts: Arc<super::middleware::host::AllowedHosts>,
    /// The last readiness answer and when it was made (`routes::health::readyz`).
    pub readiness: Arc<tokio::sync::Mutex<Option<super::routes::health::Readiness>>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("verifier", &self.verifier).finish_non_exhaustive()
    }
}

impl AppState {
    /// The HTTP side over `services`: the token verifier (the development issuer's
    /// key, or the external issuer's JWKS) and the hosts to answer to. The
    /// development sign-in is added by `vault serve` when it listens on loopback.
    pub(crate) fn new(services: Arc<Services>) -> anyhow::Result<Self> {
        let config = &services.config;
        let dev_issuer = if config.dev_issuer_enabled() {
            tracing::warn!(
                issuer = DevIssuer::ISSUER,
                "trusting the local development issuer: anyone who can read the data directory can mint tokens; \
                 configure auth.issuer for production"
            );
            Some(Arc::new(DevIssuer::load_or_create(&config.data_dir)?))
        } else {
            None
        };
        let external = config.auth.issuer.as_ref().map(|issuer| ExternalIssuer {
            issuer: issuer.clone(),
            jwks_url: config
                .auth
                .jwks_url
                .clone()
                .unwrap_or_else(|| format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/'))),
            audiences: config.auth.audiences.clone(),
            authorized_parties: config.auth.authorized_parties.clone(),
        });
        let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
        let verifier = Verifier::new(
            AuthConfig {
                issuer: external,
                family_claim: config.auth.family_claim.clone(),
                role_claim: config.auth.role_claim.clone(),
                leeway_secs: config.auth.leeway_secs,
                jwks_min_refresh_secs: config.auth.jwks_min_refresh_secs,
            },
            dev_issuer.clone(),
            http,
        )?;
        let hosts = super::middleware::host::AllowedHosts::new(config.listen.port(), config.public_hosts());
        Ok(Self {
            verifier: Arc::new(verifier),
            dev_issuer,
            dev_sign_in: None,
            hosts: Arc::new(hosts),
            readiness: Arc::default(),
            services,
        })
    }
}
