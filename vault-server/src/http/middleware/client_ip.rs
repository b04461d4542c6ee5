//! The client's address: the TCP peer, or the `X-Forwarded-For` entry a trusted proxy added.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Walks `X-Forwarded-For` from the right while the hop is a trusted proxy: the first
/// untrusted address is the client. With no trusted proxies the header is ignored, so
/// a client cannot choose the address the audit log records.
pub(crate) fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut current = peer.ip();
    if !is_trusted(&current) {
        return current;
    }
    let hops = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
    for hop in hops.iter().rev().flat_map(|v| v.rsplit(',')) {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                current = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let proxy: SocketAddr = "10.0.0.5:443".parse().unwrap();
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(client_ip(proxy, &headers("203.0.113.7"), &trusted).to_string(), "203.0.113.7");
        // A client-supplied first entry is skipped: the proxy appended the real one.
        assert_eq!(client_ip(proxy, &headers("1.2.3.4, 203.0.113.7, 10.0.0.9"), &trusted).to_string(), "203.0.113.7");
        // Untrusted peer: header ignored.
        let direct: SocketAddr = "198.51.100.1:5555".parse().unwrap();
        assert_eq!(client_ip(direct, &headers("1.2.3.4"), &trusted).to_string(), "198.51.100.1");
        assert_eq!(client_ip(proxy, &headers("1.2.3.4"), &[]).to_string(), "10.0.0.5");
        assert_eq!(client_ip(proxy, &headers("garbage"), &trusted).to_string(), "10.0.0.5");
    }
}
