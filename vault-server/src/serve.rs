//! `vault serve`: builds the backends from the configuration and runs the service
//! until SIGINT/SIGTERM, then drains in-flight requests (uploads included).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;
use tokio::net::TcpListener;

use crate::app::AppState;
use crate::audit::{AuditLog, Event, Outcome, RequestMeta};
use crate::auth::{AuthConfig, DevIssuer, DevSignIn, ExternalIssuer, Verifier};
use crate::config::Config;
use crate::db::{Db, RecordingStatus, now_ms};
use crate::metrics::Metrics;
use crate::middleware::rate_limit::RateLimits;
use crate::replication::Replicator;
use crate::store::ObjectKey;

/// Builds the application state from a configuration (embedded backends).
pub async fn state(config: Config) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let db = Db::connect(&config.database_url(), config.database_migrate).await?;
    let metrics = Arc::new(Metrics::default());
    let keys = crate::backends::keys(&config, &metrics).await?;
    let (store, replicated) = crate::backends::store(&config).await?;
    let audit = Arc::new(AuditLog::new(db.clone()));
    let signer = Arc::new(crate::signing::Signer::load_or_create(&config.signing_key_path())?);
    let replicator = replicated.clone().map(|store| {
        let poll = Duration::from_secs(config.aws.replication_poll_secs);
        Replicator::new(db.clone(), store, audit.clone(), metrics.clone(), poll)
    });
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
    // Members recorded before issuers were belong to the one issuer trusted now.
    let trusted = if dev_issuer.is_some() { Some(DevIssuer::ISSUER) } else { config.auth.issuer.as_deref() };
    if let Some(issuer) = trusted {
        let bound = db.bind_legacy_members(issuer).await?;
        if bound > 0 {
            tracing::info!(members = bound, issuer, "members recorded without an issuer now belong to this issuer");
        }
    }
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
    let (config_port, public_hosts) = (config.listen.port(), config.public_hosts());
    Ok(AppState {
        limits: Arc::new(RateLimits::new(
            config.limits.key_releases_per_minute,
            config.limits.auth_failures_per_minute,
        )),
        audit,
        config: Arc::new(config),
        db,
        keys,
        store,
        replicator,
        replicated,
        signer,
        exports: Arc::default(),
        reads: Arc::default(),
        receiving: Arc::default(),
        readiness: Arc::default(),
        verifier: Arc::new(verifier),
        dev_issuer,
        dev_sign_in: None,
        hosts: Arc::new(crate::middleware::host::AllowedHosts::new(config_port, public_hosts)),
        metrics,
    })
}

/// Runs the service until a shutdown signal.
pub async fn run(mut config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let listener = TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr()?;
    // The port actually bound (the configuration may say 0): loopback `Host`s name it.
    config.listen = local;
    let mut state = state(config).await?;
    if state.dev_issuer.is_some() && local.ip().is_loopback() {
        state.dev_sign_in = Some(Arc::new(DevSignIn::start(&state.config.data_dir)?));
    }
    tracing::info!(address = %local, data_dir = %state.config.data_dir.display(), "vault serving");
    // Scripts and tests read the bound address (the port may be 0 in the configuration).
    eprintln!("vault: listening on http://{local}");
    let sweeper = tokio::spawn(sweep_forever(state.clone()));
    let replicator = state.replicator.clone().map(|r| tokio::spawn(r.run()));
    let daily = tokio::spawn(daily_forever(state.clone()));
    let limits = crate::connections::ConnectionLimits::from_config(&state.config);
    let app = crate::router::app(state);
    crate::connections::serve(listener, app, limits, shutdown_signal()).await?;
    sweeper.abort();
    daily.abort();
    if let Some(task) = replicator {
        task.abort();
    }
    tracing::info!("vault stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return interrupt.await.unwrap_or(()),
    };
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down: finishing requests under way");
}

/// The daily jobs: the audit anchor and the integrity scrub, each run once its last
/// run is a whole interval old (so a restart neither skips nor repeats one). Looked at
/// every minute (or interval, if shorter).
async fn daily_forever(state: AppState) {
    let every = state.config.scrub.interval_secs;
    if every == 0 {
        return;
    }
    let started = now_ms();
    let look = Duration::from_secs(every.clamp(1, 60));
    loop {
        tokio::time::sleep(look).await;
        daily(&state, started).await;
    }
}

/// One look at the daily jobs: the audit anchor first (it is quick; the scrub may
/// read for hours), then the integrity scrub, each if due. The first anchor is due an
/// interval after the oldest audit row, the first scrub an interval after `started`.
/// Failures are counted and logged (`Metrics::job_round`).
pub async fn daily(state: &AppState, started: i64) {
    let every = i64::try_from(state.config.scrub.interval_secs).unwrap_or(i64::MAX).saturating_mul(1000);
    let now = now_ms();
    let regions = crate::anchors::regions(state);
    let anchor_due = async {
        Ok::<_, anyhow::Error>(match crate::anchors::newest_at(regions[0].1.as_ref()).await? {
            Some(last) => now - i64::try_from(last.unix_timestamp_nanos() / 1_000_000).unwrap_or(0) >= every,
            None => state.audit.oldest_at().await?.is_some_and(|oldest| now - oldest >= every),
        })
    };
    match anchor_due.await {
        Ok(false) => {}
        Ok(true) => {
            // Anchored, but over broken chains: a failure to look into, not a success.
            let result =
                crate::anchors::write_anchor(state).await.and_then(|(_, anchor)| match anchor.broken.as_slice() {
                    [] => Ok(()),
                    broken => {
                        Err(anyhow::anyhow!("audit chains broken (anchored as they stand): {}", broken.join(", ")))
                    }
                });
            state.metrics.job_round("anchor", &result);
        }
        Err(e) => state.metrics.job_round::<(), _>("anchor", &Err(e)),
    }
    match state.db.last_scrub_started().await {
        Ok(last) if now - last.unwrap_or(started) < every => {}
        Ok(_) => match crate::scrub::Scrubber::from_state(state, true).run().await {
            Err(crate::scrub::ScrubError::Claim(crate::db::ClaimError::Busy(_))) => {}
            result => state.metrics.job_round("scrub", &result),
        },
        Err(e) => state.metrics.job_round::<(), _>("scrub", &Err(e)),
    }
}

async fn sweep_forever(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(state.config.uploads.sweep_secs));
    loop {
        tick.tick().await;
        let swept = sweep(&state).await;
        if let Ok(n @ 1..) = swept {
            tracing::info!(expired = n, "removed abandoned uploads");
        }
        state.metrics.job_round("upload_sweep", &swept);
        // Erased recordings leave the store as soon as their retention allows.
        let purged = crate::erasure::purge(&state).await;
        if let Ok(n @ 1..) = purged {
            tracing::info!(purged = n, "purged erased recordings");
        }
        state.metrics.job_round("purge", &purged);
        state.limits.shrink();
        state.reads.shrink();
    }
}

/// Removes uploads whose time ran out: the store's parts, the database rows; the
/// recording becomes `expired` (never listed). Also aborts store-side uploads the
/// database does not know (a crash between the two).
pub async fn sweep(state: &AppState) -> anyhow::Result<usize> {
    let mut removed = 0;
    for upload in state.db.expired_uploads(now_ms(), 100).await? {
        let Some(r) = state.db.recording(&upload.family_id, &upload.recording_id).await? else { continue };
        let key = ObjectKey::new(r.object_key.clone()).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        state.store.abort_upload(&key, &upload.store_upload_id).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        state.db.set_recording_status(&r.family_id, &r.id, RecordingStatus::Pending, RecordingStatus::Expired).await?;
        state.db.delete_upload(&r.id).await?;
        let event = Event {
            tenant: r.family_id.clone(),
            actor: "system".into(),
            action: "upload.expired",
            target: r.id.clone(),
            outcome: Outcome::Success,
            metadata: json!({ "expired_at": upload.expires_at }),
        };
        state.audit.record(&event, &RequestMeta::default()).await?;
        state.metrics.uploads_expired.inc();
        removed += 1;
    }
    let known = state.db.store_upload_ids().await?;
    let ttl = time::Duration::seconds(i64::try_from(state.config.uploads.ttl_secs).unwrap_or(i64::MAX));
    for (key, id, started) in state.store.list_uploads().await.map_err(|e| anyhow::anyhow!("{e:?}"))? {
        if !known.contains(&id) && started + ttl < time::OffsetDateTime::now_utc() {
            state.store.abort_upload(&key, &id).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
            removed += 1;
        }
    }
    Ok(removed)
}
