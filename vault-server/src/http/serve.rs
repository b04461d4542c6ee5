//! `vault serve`: builds the backends from the configuration and runs the service
//! until SIGINT/SIGTERM, then drains in-flight requests (uploads included).

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use super::AppState;
use super::connections::ConnectionLimits;
use crate::auth::DevSignIn;
use crate::config::Config;
use crate::domain::{Services, jobs};

/// Runs the service until a shutdown signal.
pub(crate) async fn run(mut config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let listener = TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr()?;
    // The port actually bound (the configuration may say 0): loopback `Host`s name it.
    config.listen = local;
    let services = Services::build(config).await?;
    let mut state = AppState::new(services.clone())?;
    if state.dev_issuer.is_some() && local.ip().is_loopback() {
        state.dev_sign_in = Some(Arc::new(DevSignIn::start(&services.config.data_dir)?));
    }
    let instance = &services.instance;
    tracing::info!(address = %local, instance = %instance, data_dir = %services.config.data_dir.display(), "vault serving");
    eprintln!("vault: instance {instance}");
    // Scripts and tests read the bound address (the port may be 0 in the configuration).
    eprintln!("vault: listening on http://{local}");
    let jobs = jobs::spawn(&services);
    let limits = ConnectionLimits::from_config(&services.config);
    super::connections::serve(listener, super::app(state), limits, shutdown_signal()).await?;
    drop(jobs);
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
