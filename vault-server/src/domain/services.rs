//! The backends and shared state every capability works with, built once from the
//! configuration (by `vault serve` and by the operator commands alike).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::audit::AuditLog;
use super::limits::RateLimits;
use super::reads::AuditedReads;
use super::receiving::Receiving;
use super::replication::Replicator;
use crate::config::Config;
use crate::db::Db;
use crate::keys::KeyService;
use crate::metrics::Metrics;
use crate::signing::Signer;
use crate::store::ObjectStore;
use crate::store::replicated::ReplicatedStore;

/// Everything the domain needs. Cheap to share (`Arc`).
pub(crate) struct Services {
    pub config: Arc<Config>,
    pub db: Db,
    pub keys: Arc<dyn KeyService>,
    pub store: Arc<dyn ObjectStore>,
    /// The two regions behind `store`, when there is a replica.
    pub replicated: Option<Arc<ReplicatedStore>>,
    /// The cross-region copier, when there is a replica.
    pub replicator: Option<Arc<Replicator>>,
    pub audit: Arc<AuditLog>,
    /// Signs scrub reports, erasure receipts and audit anchors.
    pub signer: Arc<Signer>,
    pub metrics: Arc<Metrics>,
    pub limits: RateLimits,
    /// Ranged reads already audited (one row per user, recording and session).
    pub reads: AuditedReads,
    /// Uploads receiving data now (one request at a time per upload).
    pub receiving: Arc<Receiving>,
    /// This instance's name (`config.instance_id`, or generated): it holds job leases
    /// and claims replication copies under it, and says it in logs and metrics.
    pub instance: String,
    /// What the dependencies answered the last probe (`/healthz`).
    pub health: super::health::Health,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").field("db", &self.db).finish_non_exhaustive()
    }
}

impl Services {
    /// Opens the configured backends (creating the data directory, migrating when
    /// configured to), and binds members recorded before issuers were to the one
    /// issuer trusted now.
    pub(crate) async fn build(config: Config) -> anyhow::Result<Arc<Self>> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
        let db = Db::connect(&config.database_url(), config.database_migrate).await?;
        let metrics = Arc::new(Metrics::default());
        let keys = crate::backends::keys(&config, &metrics).await?;
        let (store, replicated) = crate::backends::store(&config).await?;
        let audit = Arc::new(AuditLog::new(db.clone()));
        let signer = Arc::new(Signer::load_or_create(&config.signing_key_path())?);
        let instance = match &config.instance_id {
            Some(id) => id.clone(),
            None => stored_instance_id(&config.data_dir)?,
        };
        let replicator = replicated.clone().map(|store| {
            let poll = Duration::from_secs(config.aws.replication_poll_secs);
            Replicator::new(db.clone(), store, audit.clone(), metrics.clone(), poll, instance.clone())
        });
        let trusted = if config.dev_issuer_enabled() {
            Some(crate::auth::DevIssuer::ISSUER)
        } else {
            config.auth.issuer.as_deref()
        };
        if let Some(issuer) = trusted {
            let bound = db.bind_legacy_members(issuer).await?;
            if bound > 0 {
                tracing::info!(members = bound, issuer, "members recorded without an issuer now belong to this issuer");
            }
        }
        Ok(Arc::new(Self {
            limits: RateLimits::new(config.limits.key_releases_per_minute, config.limits.auth_failures_per_minute),
            config: Arc::new(config),
            db,
            keys,
            store,
            replicated,
            replicator,
            audit,
            signer,
            metrics,
            reads: AuditedReads::default(),
            receiving: Arc::default(),
            instance,
            health: super::health::Health::default(),
        }))
    }

    /// When a commit made now may be deleted at the earliest.
    pub(crate) fn retain_until(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc() + self.config.retention()
    }
}

/// The instance id kept in the data directory (`instance-id`), made on first start as
/// `<host>-<6 random hex>`: unique among instances (each has its own data directory),
/// readable in logs, and the same after a restart, so that a restarted instance takes
/// its own job leases and replication claims back at once instead of waiting for them
/// to lapse.
fn stored_instance_id(data_dir: &std::path::Path) -> anyhow::Result<String> {
    use rand_core::{OsRng, RngCore};
    let file = data_dir.join("instance-id");
    if let Ok(id) = std::fs::read_to_string(&file)
        && crate::text::is_plain_id(id.trim())
    {
        return Ok(id.trim().to_owned());
    }
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let host: String = host.trim().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(40).collect();
    let host = host.trim_start_matches('-');
    let id = format!("{}-{:06x}", if host.is_empty() { "vault" } else { host }, OsRng.next_u32() & 0xff_ffff);
    std::fs::write(&file, format!("{id}\n")).with_context(|| format!("cannot write {}", file.display()))?;
    Ok(id)
}
