//! HAProxy from Debian in front of several `vault serve` instances, configured as the
//! README's several-instances example: round-robin per request, `/readyz` health
//! checks (naming the balancer's origin in `Host`, as every request must), and a
//! request whose instance refuses the connection sent to another.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::aws::AwsEnv;
use crate::server::Server;
use crate::workspace::KillOnDrop;

/// `count` instances of `vault serve` on one database and pair of buckets, named
/// `<name>-<i>`, answering to the balancer's `origins` (comma list) and believing its
/// `X-Forwarded-For`; `extra` settings on top.
pub fn instances(aws: &AwsEnv, origins: &str, name: &str, count: usize, extra: &[(&str, &str)]) -> Vec<Server> {
    (0..count)
        .map(|i| {
            let id = format!("{name}-{i}");
            let mut env = vec![
                ("VAULT_PUBLIC_ORIGINS", origins),
                ("VAULT_TRUSTED_PROXIES", "127.0.0.1/32"),
                ("VAULT_INSTANCE_ID", id.as_str()),
            ];
            env.extend_from_slice(extra);
            Server::start_on(Some(aws.clone()), &env)
        })
        .collect()
}

/// A running HAProxy; stopped (by its PID) when dropped.
pub struct Haproxy {
    /// `http://127.0.0.1:<port>`: what clients use.
    pub url: String,
    _process: KillOnDrop,
    _dir: tempfile::TempDir,
}

impl Haproxy {
    /// A free port to start on later (the instances must know the balancer's origin,
    /// `VAULT_PUBLIC_ORIGINS`, before it starts).
    pub fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    /// Listens on `port` and balances over `instances` (`http://127.0.0.1:port` each).
    pub fn start_on(port: u16, instances: &[&str]) -> Self {
        let servers: String = instances
            .iter()
            .enumerate()
            .map(|(i, url)| {
                format!("    server i{i} {} check inter 500ms fall 2 rise 2\n", url.trim_start_matches("http://"))
            })
            .collect();
        let config = format!(
            "global\n    maxconn 4000\n\
             defaults\n    mode http\n    timeout connect 2s\n    timeout client 60s\n    timeout server 60s\n    \
             retries 3\n    option redispatch 1\n\
             frontend vault\n    bind 127.0.0.1:{port}\n    option forwardfor\n    default_backend instances\n\
             backend instances\n    balance roundrobin\n    option httpchk\n    \
             http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host 127.0.0.1:{port}\n    \
             http-check expect status 200\n{servers}"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("haproxy.cfg");
        std::fs::write(&file, config).unwrap();
        let process = Command::new("haproxy")
            .args(["-db", "-f", file.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy (scripts/setup installs it)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "haproxy did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { url: format!("http://127.0.0.1:{port}"), _process: KillOnDrop(process), _dir: dir }
    }
}
