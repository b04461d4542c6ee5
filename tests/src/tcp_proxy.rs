//! A TCP proxy for connection faults: take the upstream "down" (every open connection
//! reset, new ones closed at once) and back "up", or cut a random share of
//! connections after a random number of client bytes (a flaky network).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Default)]
struct State {
    down: AtomicBool,
    open: Mutex<Vec<TcpStream>>,
    /// (rng, probability, most bytes before the cut) for new connections.
    flaky: Mutex<Option<(StdRng, f64, u64)>>,
}

pub struct TcpProxy {
    /// `host:port` to connect to instead of the upstream.
    pub addr: String,
    state: Arc<State>,
}

impl TcpProxy {
    pub fn start(upstream: &str) -> Self {
        let upstream = upstream.to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let state: Arc<State> = Arc::default();
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if shared.down.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream) else { continue };
                let limit = shared.flaky.lock().unwrap().as_mut().and_then(|(rng, p, max)| {
                    let cut = rng.gen_bool(*p);
                    cut.then(|| rng.gen_range(0..*max))
                });
                {
                    let mut open = shared.open.lock().unwrap();
                    open.retain(|s| s.peer_addr().is_ok());
                    open.push(client.try_clone().unwrap());
                    open.push(server.try_clone().unwrap());
                }
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || pump(client, server, limit));
                std::thread::spawn(move || pump(s2, c2, None));
            }
        });
        Self { addr, state }
    }

    /// Resets every open connection and refuses new ones until [`TcpProxy::up`].
    pub fn down(&self) {
        self.state.down.store(true, Ordering::SeqCst);
        for s in self.state.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    pub fn up(&self) {
        self.state.down.store(false, Ordering::SeqCst);
    }

    /// From now on, each new connection is cut with `probability` after a random
    /// number (below `max_bytes`) of bytes from the client; reproducible by `seed`.
    pub fn flaky(&self, seed: u64, probability: f64, max_bytes: u64) {
        *self.state.flaky.lock().unwrap() = Some((StdRng::seed_from_u64(seed), probability, max_bytes));
    }

    pub fn steady(&self) {
        *self.state.flaky.lock().unwrap() = None;
    }
}

/// Copies `from` to `to`; after `limit` bytes (if any), resets both directions.
fn pump(mut from: TcpStream, mut to: TcpStream, limit: Option<u64>) {
    let mut buf = [0u8; 16 * 1024];
    let mut sent = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let n = match limit {
            Some(limit) if sent + n as u64 >= limit => {
                let take = usize::try_from(limit - sent).unwrap_or(0);
                let _ = to.write_all(&buf[..take]);
                let _ = from.shutdown(Shutdown::Both);
                let _ = to.shutdown(Shutdown::Both);
                return;
            }
            _ => n,
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        sent += n as u64;
    }
    let _ = to.shutdown(Shutdown::Write);
}
