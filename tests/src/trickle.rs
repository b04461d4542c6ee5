//! A request body that trickles out and says how far it got, so a test can act (kill
//! the server, send a second request) while the server is provably mid-body.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::blocking::Body;

/// How much of a [`trickle`] body has been handed to the connection.
#[derive(Debug, Clone)]
pub struct Progress {
    sent: Arc<AtomicUsize>,
    len: usize,
}

impl Progress {
    pub fn sent(&self) -> usize {
        self.sent.load(Ordering::SeqCst)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Waits until at least `bytes` are out (and not yet all of them); panics after 10 s.
    pub fn wait_for(&self, bytes: usize) {
        let start = Instant::now();
        while self.sent() < bytes {
            assert!(start.elapsed() < Duration::from_secs(10), "the body stalled at {} bytes", self.sent());
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(self.sent() < self.len, "the whole body went out before the test could act");
    }
}

struct Trickle {
    bytes: Vec<u8>,
    at: usize,
    sent: Arc<AtomicUsize>,
}

impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.bytes.len() {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(50));
        let n = buf.len().min(64 * 1024).min(self.bytes.len() - self.at);
        buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
        self.at += n;
        self.sent.store(self.at, Ordering::SeqCst);
        Ok(n)
    }
}

/// `bytes` as a sized body that hands out 64 KiB per 50 ms (1.3 MB/s), and its progress.
pub fn trickle(bytes: Vec<u8>) -> (Body, Progress) {
    let len = bytes.len();
    let sent = Arc::new(AtomicUsize::new(0));
    let progress = Progress { sent: sent.clone(), len };
    (Body::sized(Trickle { bytes, at: 0, sent }, len as u64), progress)
}
