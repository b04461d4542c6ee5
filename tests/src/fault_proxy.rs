//! A fault-injecting HTTP proxy between the server and one moto endpoint: answers
//! chosen requests with throttling or 5xx errors (before forwarding them, or after,
//! losing moto's answer), and forwards everything else untouched.
//!
//! One request per connection: the forwarded request says `Connection: close`, so
//! moto closes after answering, and the client opens a new connection for the next
//! request; every request is therefore seen by the rules.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// S3 `503 SlowDown`, without forwarding.
    S3SlowDown,
    /// KMS `ThrottlingException`, without forwarding.
    KmsThrottling,
    /// KMS `500 KMSInternalException`, without forwarding.
    KmsInternal,
    /// Forward, let moto act, then answer S3 `500 InternalError` (the answer is lost).
    S3InternalAfterForward,
}

#[derive(Debug)]
struct Rule {
    /// Every one of these must occur in the request head (request line and headers).
    needles: Vec<String>,
    remaining: usize,
    fault: Fault,
}

pub struct FaultProxy {
    pub url: String,
    rules: Arc<Mutex<Vec<Rule>>>,
}

impl FaultProxy {
    pub fn start(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let rules: Arc<Mutex<Vec<Rule>>> = Arc::default();
        let shared = rules.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (rules, upstream) = (shared.clone(), upstream.clone());
                std::thread::spawn(move || {
                    let _ = serve(client, &upstream, &rules);
                });
            }
        });
        Self { url, rules }
    }

    /// Injects `fault` into the next `times` requests whose head contains all `needles`.
    pub fn inject(&self, needles: &[&str], times: usize, fault: Fault) {
        self.rules.lock().unwrap().push(Rule {
            needles: needles.iter().map(|s| (*s).to_owned()).collect(),
            remaining: times,
            fault,
        });
    }

    /// Faults not yet injected (0 when every rule fired as often as asked).
    pub fn pending(&self) -> usize {
        self.rules.lock().unwrap().iter().map(|r| r.remaining).sum()
    }
}

fn serve(client: TcpStream, upstream: &str, rules: &Mutex<Vec<Rule>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let end = line == "\r\n";
        if !end && !line.to_ascii_lowercase().starts_with("connection:") {
            head.push_str(&line);
        }
        if end {
            break;
        }
    }
    let fault = {
        let mut rules = rules.lock().unwrap();
        rules.iter_mut().find(|r| r.remaining > 0 && r.needles.iter().all(|n| head.contains(n.as_str()))).map(|r| {
            r.remaining -= 1;
            r.fault
        })
    };
    let mut client_out = client.try_clone()?;
    if let Some(fault) = fault.filter(|f| *f != Fault::S3InternalAfterForward) {
        // Read the body first, so the client sees the answer rather than a reset.
        let len = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
            .unwrap_or(0u64);
        std::io::copy(&mut (&mut reader).take(len), &mut std::io::sink())?;
        let (status, kind, body) = match fault {
            Fault::S3SlowDown => ("503 Slow Down", "application/xml", s3_error("SlowDown")),
            Fault::KmsThrottling => (
                "400 Bad Request",
                "application/x-amz-json-1.1",
                r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_owned(),
            ),
            Fault::KmsInternal => (
                "500 Internal Server Error",
                "application/x-amz-json-1.1",
                r#"{"__type":"KMSInternalException","message":"injected"}"#.to_owned(),
            ),
            Fault::S3InternalAfterForward => unreachable!(),
        };
        write!(
            client_out,
            "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )?;
        return client_out.shutdown(Shutdown::Both);
    }
    let mut server = TcpStream::connect(upstream)?;
    server.write_all(head.as_bytes())?;
    server.write_all(b"Connection: close\r\n\r\n")?;
    // The body (whatever its framing) follows in the background; moto answers after it.
    let mut server_in = server.try_clone()?;
    let body = std::thread::spawn(move || {
        let _ = std::io::copy(&mut reader, &mut server_in);
    });
    if fault == Some(Fault::S3InternalAfterForward) {
        std::io::copy(&mut server, &mut std::io::sink())?;
        let body = s3_error("InternalError");
        write!(
            client_out,
            "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )?;
    } else {
        std::io::copy(&mut server, &mut client_out)?;
    }
    let _ = client_out.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
    let _ = body.join();
    Ok(())
}

fn s3_error(code: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected</Message></Error>")
}
