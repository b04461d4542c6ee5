//! The DNS-rebinding defence: every request must name this service in its `Host`.
//!
//! A web page on another site can make a browser send requests to 127.0.0.1 by
//! pointing its own name at that address (DNS rebinding); the browser then treats
//! the answers as that site's and lets its script read them. What such a request
//! cannot hide is the name it was sent to: the `Host` header (or HTTP/2's
//! `:authority`) still says `attacker.example`. So only a loopback name with the port
//! the service listens on, or a configured public origin, is answered.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header, uri::Authority};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::ErrorCode;
use crate::http::AppState;
use crate::http::error::ApiError;

/// The `Host` values the service answers to.
#[derive(Debug, Clone)]
pub(crate) struct AllowedHosts {
    /// The port the service listens on (loopback names must carry it).
    port: u16,
    /// `host:port` of each public origin, lowercase.
    public: Vec<String>,
}

impl AllowedHosts {
    pub(crate) fn new(port: u16, public: Vec<String>) -> Self {
        Self { port, public }
    }

    /// Whether a `Host` value names this service.
    pub(crate) fn allows(&self, host: &str) -> bool {
        let Ok(authority) = host.parse::<Authority>() else { return false };
        if authority.as_str().contains('@') {
            return false;
        }
        let name = authority.host().to_ascii_lowercase();
        if is_loopback_name(&name) {
            // A loopback name without a port means port 80. Another port is answered
            // only if it is a configured origin (a load balancer on this machine).
            let port = authority.port_u16().unwrap_or(80);
            return port == self.port || self.public.iter().any(|allowed| *allowed == format!("{name}:{port}"));
        }
        let Some(port) = authority.port_u16().or_else(|| self.default_port_of(&name)) else { return false };
        self.public.iter().any(|allowed| *allowed == format!("{name}:{port}"))
    }

    /// A `Host` without a port names a public origin on its scheme's default port.
    fn default_port_of(&self, name: &str) -> Option<u16> {
        [443, 80].into_iter().find(|port| self.public.iter().any(|a| *a == format!("{name}:{port}")))
    }
}

fn is_loopback_name(name: &str) -> bool {
    if name == "localhost" {
        return true;
    }
    let bare = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')).unwrap_or(name);
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Refuses requests that do not name this service (421, a problem document).
pub(crate) async fn check_host(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let header = request.headers().get(header::HOST).map(|v| v.to_str().unwrap_or(""));
    let authority = request.uri().authority().map(Authority::as_str);
    let named = [header, authority];
    let ok = named.iter().any(Option::is_some) && named.iter().flatten().all(|h| state.hosts.allows(h));
    if ok {
        return next.run(request).await;
    }
    tracing::debug!(host = ?header, authority = ?authority, "request for another host refused");
    ApiError::new(
        StatusCode::MISDIRECTED_REQUEST,
        ErrorCode::UnknownHost,
        "this service does not answer to that host name; use its own address",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_with_the_port_and_public_origins_only() {
        let hosts = AllowedHosts::new(8080, vec!["vault.example.com:443".into(), "10.0.0.5:8080".into()]);
        for ok in ["127.0.0.1:8080", "localhost:8080", "LOCALHOST:8080", "[::1]:8080", "127.0.0.2:8080"] {
            assert!(hosts.allows(ok), "{ok}");
        }
        for ok in ["vault.example.com", "Vault.Example.com:443", "10.0.0.5:8080"] {
            assert!(hosts.allows(ok), "{ok}");
        }
        for refused in [
            "rebind.attacker.example:8080",
            "127.0.0.1:8081",
            "localhost",
            "vault.example.com:8443",
            "vault.example.com.attacker.example",
            "user@127.0.0.1:8080",
            "10.0.0.5",
            "",
            "127.0.0.1:8080/x",
        ] {
            assert!(!hosts.allows(refused), "{refused}");
        }
        assert!(AllowedHosts::new(80, vec![]).allows("localhost"));
        // A load balancer on this machine: its loopback origin, when configured.
        let behind = AllowedHosts::new(8081, vec!["127.0.0.1:8080".into()]);
        assert!(behind.allows("127.0.0.1:8080") && behind.allows("127.0.0.1:8081"));
        assert!(!behind.allows("localhost:8080") && !behind.allows("127.0.0.1:8082"));
    }
}
