//! Accepting and serving connections, with the limits a public port needs.
//!
//! - **Header-read timeout**: a connection must send a whole request head within
//!   `limits.header_read_timeout_secs` of connecting or of its previous response, or it
//!   is closed. Idle and half-open connections cannot pile up (slowloris).
//! - **Connection caps**: at most `limits.max_connections` at once, and
//!   `limits.max_connections_per_ip` from one address (trusted proxies excepted); more
//!   are closed as they arrive, so one client cannot take every file descriptor. The
//!   soft file-descriptor limit is raised to the hard one, and the cap kept below it.
//! - **Shutdown**: connections with a request under way finish it (uploads drain);
//!   connections without one are closed at once, whatever they were sending.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// File descriptors kept for everything but client connections (database, store,
/// KMS and S3 connections, files).
const RESERVED_FDS: u64 = 256;

/// The limits on connections.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    pub max_per_ip: usize,
    /// Addresses exempt from the per-address cap (a proxy carries many clients).
    pub trusted_proxies: Vec<IpNet>,
}

impl ConnectionLimits {
    /// The configured limits, with the total cap kept below the process's file
    /// descriptor limit (raised to its hard limit first).
    pub(crate) fn from_config(config: &crate::config::Config) -> Self {
        let mut max = config.limits.max_connections;
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(fds) => {
                let room = usize::try_from(fds.saturating_sub(RESERVED_FDS).max(16)).unwrap_or(usize::MAX);
                if room < max {
                    tracing::warn!(fds, max_connections = room, "file descriptor limit caps the connections served");
                    max = room;
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the file descriptor limit"),
        }
        Self {
            header_read_timeout: Duration::from_secs(config.limits.header_read_timeout_secs),
            max_connections: max,
            max_per_ip: config.limits.max_connections_per_ip,
            trusted_proxies: config.trusted_proxies.clone(),
        }
    }
}

/// Open connections per client address.
#[derive(Default)]
struct PerIp(Mutex<HashMap<IpAddr, usize>>);

impl PerIp {
    fn enter(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let open = map.entry(ip).or_default();
        if *open >= max {
            return None;
        }
        *open += 1;
        Some(IpSlot { map: self.clone(), ip })
    }
}

/// One connection's place in its address's count; given back on drop.
struct IpSlot {
    map: Arc<PerIp>,
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut map = self.map.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(open) = map.get_mut(&self.ip) {
            *open -= 1;
            if *open == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Counts a connection's requests under way until their responses are sent.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn start(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    // HTTP/1.1 only (TLS and HTTP/2 end at the proxy in front, if any): an automatic
    // HTTP/2 sniffer would wait for a first byte with no timeout at all.
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder);
    let total = Arc::new(Semaphore::new(limits.max_connections));
    let per_ip = Arc::new(PerIp::default());
    let tasks = TaskTracker::new();
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, most likely: wait for some to free up.
                    tracing::error!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = total.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "connection limit reached: closed");
            continue;
        };
        let exempt = limits.trusted_proxies.iter().any(|net| net.contains(&peer.ip()));
        let slot = if exempt { None } else { per_ip.enter(peer.ip(), limits.max_per_ip) };
        if !exempt && slot.is_none() {
            tracing::debug!(%peer, "per-address connection limit reached: closed");
            continue;
        }
        let _ = stream.set_nodelay(true);
        let in_flight = Arc::new(AtomicUsize::new(0));
        let service = {
            let (app, in_flight) = (app.clone(), in_flight.clone());
            hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                let guard = InFlight::start(&in_flight);
                let app = app.clone();
                async move {
                    let response = app.oneshot(request.map(Body::new)).await?;
                    // The request counts as under way until its body is sent.
                    Ok::<_, std::convert::Infallible>(response.map(|body| {
                        Body::new(body.map_frame(move |frame| {
                            let _held = &guard;
                            frame
                        }))
                    }))
                }
            })
        };
        let (builder, mut stopping) = (builder.clone(), stopping.clone());
        tasks.spawn(async move {
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            let stopped = tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    false
                }
                _ = stopping.wait_for(|stop| *stop) => true,
            };
            // Nothing under way: close now (dropping the connection). Otherwise finish what is.
            if stopped && in_flight.load(Ordering::SeqCst) > 0 {
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
            }
            drop((permit, slot));
        });
    }
    drop(listener);
    let _ = stop.send(true);
    tasks.close();
    tasks.wait().await;
    Ok(())
}
