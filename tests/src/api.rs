//! One user's view of the service's HTTP API.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use vault_core::DataKey;

use crate::messages::{encrypt_for, split_parts};

/// One user's view of the API.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: String,
    pub http: Client,
    /// The `Host` to send when `base` is a proxy (the server answers only to its own).
    pub host: Option<String>,
    /// The studio delivery this (studio staff) user works in (`x-vault-delivery`).
    pub delivery: Option<String>,
}

impl Api {
    /// The same user, through a TCP proxy at `addr` in front of the server.
    pub fn via(&self, addr: &str) -> Api {
        let host = self.base.trim_start_matches("http://").to_owned();
        Api { base: format!("http://{addr}"), host: Some(host), ..self.clone() }
    }

    /// The same studio staff member, working in delivery `id`.
    pub fn in_delivery(&self, id: &str) -> Api {
        Api { delivery: Some(id.to_owned()), ..self.clone() }
    }

    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(delivery) = &self.delivery {
            request = request.header("x-vault-delivery", delivery);
        }
        match &self.host {
            Some(host) => request.header(reqwest::header::HOST, host),
            None => request,
        }
    }

    /// Sends only a request's head over a fresh connection, announcing a body of
    /// `content_length` bytes and sending none, and reads the answer. For refusals the
    /// server makes before it reads a body: a client busy writing a large body may get
    /// a broken pipe instead of the answer.
    pub fn head_only(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        content_length: usize,
    ) -> (StatusCode, String) {
        let mut stream = self.raw_head(method, path, headers, Some(content_length));
        read_answer(&mut stream)
    }

    /// Sends a request with all of `body` but its last byte, waits `pause` for an answer
    /// (there should be none: the request is not whole), then the last byte, and reads
    /// the answer. Returns whether an answer (or the connection's end) came early, and
    /// the answer.
    pub fn all_but_the_last_byte(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        pause: std::time::Duration,
    ) -> (bool, StatusCode, String) {
        use std::io::Write;
        let mut stream = self.raw_head(method, path, headers, Some(body.len()));
        let (most, last) = body.split_at(body.len() - 1);
        stream.write_all(most).unwrap();
        stream.set_read_timeout(Some(pause)).unwrap();
        let early = match stream.peek(&mut [0; 1]) {
            Ok(n) => n > 0,
            Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
        };
        let _ = stream.write_all(last);
        let (status, text) = read_answer(&mut stream);
        (early, status, text)
    }

    /// Sends a request's head with `headers` (none added but host and authorization)
    /// and then `body` as it is, leaves the connection open, and waits up to `wait` for
    /// an answer: None if none came.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        wait: std::time::Duration,
    ) -> Option<(StatusCode, String)> {
        use std::io::Write;
        let mut stream = self.raw_head(method, path, headers, None);
        let _ = stream.write_all(body);
        stream.set_read_timeout(Some(wait)).unwrap();
        match stream.peek(&mut [0; 1]) {
            Ok(n) if n > 0 => Some(read_answer(&mut stream)),
            _ => None,
        }
    }

    /// A fresh connection with a request's head sent: host, authorization, `headers`,
    /// and the content length if given.
    fn raw_head(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        content_length: Option<usize>,
    ) -> std::net::TcpStream {
        use std::io::Write;
        let addr = self.base.trim_start_matches("http://");
        let host = self.host.as_deref().unwrap_or(addr);
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {}\r\n", self.token);
        if let Some(length) = content_length {
            head.push_str(&format!("content-length: {length}\r\n"));
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        stream
    }

    pub fn get(&self, path: &str) -> Response {
        self.req(Method::GET, path).send().unwrap()
    }

    pub fn post(&self, path: &str, body: Value) -> Response {
        self.req(Method::POST, path).json(&body).send().unwrap()
    }

    pub fn ok(&self, response: Response) -> Value {
        let status = response.status();
        let text = response.text().unwrap();
        assert!(status.is_success(), "{status}: {text}");
        if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() }
    }

    pub fn create_family(&self, name: &str) -> Value {
        self.ok(self.post("/v1/families", json!({ "name": name })))
    }

    pub fn invite(&self, user: &str, role: &str) -> Value {
        self.ok(self.post("/v1/family/members", json!({ "user_id": user, "role": role })))
    }

    pub fn create_recording(&self, title: &str, size: usize, encryption: &str) -> Value {
        self.ok(self.post(
            "/v1/recordings",
            json!({ "title": title, "kind": "video", "content_type": "video/mp4", "plaintext_size": size, "encryption": encryption }),
        ))
    }

    pub fn put_part(&self, id: &str, n: usize, bytes: &[u8]) -> Response {
        self.req(Method::PUT, &format!("/v1/recordings/{id}/parts/{n}"))
            .header("x-vault-sha256", hex::encode(Sha256::digest(bytes)))
            .body(bytes.to_vec())
            .send()
            .unwrap()
    }

    /// Creates, encrypts and uploads `plaintext`; returns (id, ciphertext).
    pub fn upload(&self, title: &str, plaintext: &[u8]) -> (String, Vec<u8>) {
        let created = self.create_recording(title, plaintext.len(), "client");
        let id = created["recording"]["id"].as_str().unwrap().to_owned();
        let message = encrypt_for(&created, plaintext);
        for (i, part) in split_parts(&created, &message).iter().enumerate() {
            self.ok(self.put_part(&id, i + 1, part));
        }
        let done = self.ok(self.post(&format!("/v1/recordings/{id}/complete"), json!({})));
        assert_eq!(done["status"], "committed");
        (id, message)
    }

    /// The whole stored ciphertext of a recording.
    pub fn content(&self, id: &str) -> Vec<u8> {
        let r = self.get(&format!("/v1/recordings/{id}/content"));
        assert_eq!(r.status(), StatusCode::OK);
        r.bytes().unwrap().to_vec()
    }

    pub fn data_key(&self, id: &str) -> DataKey {
        let release = self.ok(self.post(&format!("/v1/recordings/{id}/key"), json!({})));
        DataKey::try_from_slice(&B64.decode(release["data_key"].as_str().unwrap()).unwrap()).unwrap()
    }

    pub fn audit_count(&self) -> usize {
        self.ok(self.get("/v1/family/audit?limit=500"))["items"].as_array().unwrap().len()
    }
}

pub fn status(r: Response) -> (StatusCode, String) {
    let s = r.status();
    (s, r.text().unwrap_or_default())
}

/// Reads one HTTP/1.1 answer with a Content-Length body.
fn read_answer(stream: &mut std::net::TcpStream) -> (StatusCode, String) {
    use std::io::{BufRead, BufReader, Read};
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = StatusCode::from_u16(line.split(' ').nth(1).unwrap().parse().unwrap()).unwrap();
    let mut length = 0;
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}
