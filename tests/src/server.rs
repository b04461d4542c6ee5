//! A real `vault serve` on 127.0.0.1 with its own data directory, and helpers to talk to it.
#![allow(dead_code, unreachable_pub)]

pub mod aws;
pub mod fault_proxy;
pub mod idp;
pub mod tcp_proxy;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use vault_core::{DataKey, EncryptedDataKey, EncryptionContext, EncryptionMaterials, Encryptor};

use crate::common::vault_bin;

/// A running server; killed (by PID, the one we started) when dropped.
pub struct Server {
    child: Option<Child>,
    pub url: String,
    pub dir: PathBuf,
    env: Vec<(String, String)>,
    /// The AWS backends' database and buckets, when the server runs on them.
    pub aws: Option<aws::AwsEnv>,
    _tmp: Option<tempfile::TempDir>,
    pub http: Client,
    /// The server's last log lines, printed when a test fails.
    log: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<String>>>,
}

impl Server {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A server on the backends `VAULT_TEST_BACKEND` names (embedded by default; `aws`:
    /// PostgreSQL and the shared moto servers, with a database and buckets of its own).
    pub fn start_with(env: &[(&str, &str)]) -> Self {
        let aws = aws::aws_backend().then(aws::AwsEnv::shared);
        Self::start_on(aws, env)
    }

    /// A server on the given AWS environment (None: embedded backends).
    pub fn start_on(aws: Option<aws::AwsEnv>, env: &[(&str, &str)]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let vars = aws.as_ref().map(aws::AwsEnv::vars).unwrap_or_default();
        let mut server = Server {
            child: None,
            url: String::new(),
            dir,
            env: vars,
            aws,
            _tmp: Some(tmp),
            http: client(),
            log: std::sync::Arc::default(),
        };
        if server.aws.is_some() {
            // As the schema owner, before the test's own settings (which may name a
            // restricted database role).
            let out = server.vault(&["setup"]);
            assert!(out.status.success(), "vault setup: {}", String::from_utf8_lossy(&out.stderr));
        }
        server.env.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(vault_bin());
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("VAULT_LISTEN", "127.0.0.1:0")
            .env("VAULT_DATA_DIR", &self.dir)
            .env("VAULT_PART_SIZE", (5 << 20).to_string())
            .env("VAULT_FRAME_LENGTH", "4096")
            .env("VAULT_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start vault serve");
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let url = loop {
            let line = lines.next().expect("vault serve exited before listening").unwrap();
            if let Some(url) = line.strip_prefix("vault: listening on ") {
                break url.trim().to_owned();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe; the last
        // lines are kept for a failing test (all shown with VAULT_TEST_SERVER_LOG=1).
        let show = std::env::var_os("VAULT_TEST_SERVER_LOG").is_some();
        let log = self.log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if show {
                    eprintln!("[server] {line}");
                }
                let mut log = log.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if log.len() == 200 {
                    log.pop_front();
                }
                log.push_back(line);
            }
        });
        self.url = url;
        self.child = Some(child);
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// SIGKILL, then start again on the same data directory.
    pub fn kill_and_restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// SIGKILL, then start again on the same data directory with these settings too.
    pub fn restart_with(&mut self, env: &[(&str, &str)]) {
        self.kill();
        self.env.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        self.spawn();
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then the exit status if the process ends within `limit` (else it is
    /// killed and None).
    pub fn terminate_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take().unwrap();
        Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// SIGTERM: graceful shutdown.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
        child.wait().unwrap()
    }

    /// A token for `user` in `family` from the issuer this server trusts: the
    /// development issuer (`vault token`) on embedded backends, the test provider on AWS.
    pub fn token(&self, family: &str, user: &str) -> String {
        if self.aws.is_some() {
            return idp::shared().token(family, user);
        }
        let out = Command::new(vault_bin())
            .args(["token", "--family", family, "--user", user, "--ttl", "1h"])
            .env("VAULT_DATA_DIR", &self.dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// The `iss` and `aud` of the issuer this server trusts.
    pub fn issuer(&self) -> (&'static str, &'static str) {
        if self.aws.is_some() { (idp::ISSUER, idp::AUDIENCE) } else { ("vault-dev", "vault") }
    }

    /// The development sign-in's current one-time code (printed by `vault serve`, kept
    /// in its data directory).
    pub fn dev_code(&self) -> String {
        std::fs::read_to_string(self.dir.join("dev-sign-in-code")).unwrap().trim().to_owned()
    }

    /// Signs arbitrary claims with the trusted issuer's key (for expired/wrong-audience tokens).
    pub fn sign(&self, claims: &Value) -> String {
        if self.aws.is_some() {
            return idp::shared().sign(claims);
        }
        let der = std::fs::read(self.dir.join("dev-issuer.p8")).unwrap();
        let jwks: Value = self.http.get(format!("{}/.well-known/jwks.json", self.url)).send().unwrap().json().unwrap();
        let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(kid);
        jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_ec_der(&der)).unwrap()
    }

    pub fn as_user(&self, family: &str, user: &str) -> Api {
        Api { base: self.url.clone(), token: self.token(family, user), http: self.http.clone(), host: None }
    }

    /// Runs the `vault` binary with this server's data directory and backends.
    pub fn vault(&self, args: &[&str]) -> std::process::Output {
        self.vault_with(args, &[])
    }

    /// As [`Server::vault`], with more settings.
    pub fn vault_with(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        Command::new(vault_bin())
            .args(args)
            .env("VAULT_DATA_DIR", &self.dir)
            .envs(self.env.clone())
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    pub fn db(&self) -> PathBuf {
        self.dir.join("vault.db")
    }

    /// Runs SQL on the server's metadata database, behind its back.
    pub fn sql(&self, statement: &str) -> Result<String, String> {
        match &self.aws {
            Some(aws) => aws::psql(&aws.database, statement),
            None => sql(&self.db(), statement),
        }
    }

    /// Removes the database triggers that keep the audit log append-only (an operator
    /// with schema rights can; the hash chain must still catch the edit).
    pub fn drop_audit_triggers(&self) {
        match &self.aws {
            Some(_) => self.sql("DROP TRIGGER audit_log_no_update_delete ON audit_log").map(drop),
            None => self.sql("DROP TRIGGER audit_log_no_update").map(drop),
        }
        .unwrap();
    }

    /// Store-side multipart uploads under way.
    pub fn store_uploads(&self) -> usize {
        match &self.aws {
            Some(aws) => aws.primary_uploads(),
            None => std::fs::read_dir(self.dir.join("objects").join("uploads")).map(|d| d.count()).unwrap_or(0),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            eprintln!("--- the server's last {} log lines ({}):", log.len(), self.url);
            for line in log.iter() {
                eprintln!("[server] {line}");
            }
        }
        if let Some(aws) = &self.aws {
            aws.drop_database();
        }
    }
}

/// No pooled connections: a server that answers before reading a refused body closes
/// that connection, and a reused one would fail the next request.
pub fn client() -> Client {
    Client::builder().timeout(Duration::from_secs(120)).pool_max_idle_per_host(0).build().unwrap()
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// One user's view of the API.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: String,
    pub http: Client,
    /// The `Host` to send when `base` is a proxy (the server answers only to its own).
    pub host: Option<String>,
}

impl Api {
    /// The same user, through a TCP proxy at `addr` in front of the server.
    pub fn via(&self, addr: &str) -> Api {
        let host = self.base.trim_start_matches("http://").to_owned();
        Api { base: format!("http://{addr}"), host: Some(host), ..self.clone() }
    }

    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        match &self.host {
            Some(host) => request.header(reqwest::header::HOST, host),
            None => request,
        }
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

/// Encrypts with the data key and context the server granted at creation.
pub fn encrypt_for(created: &Value, plaintext: &[u8]) -> Vec<u8> {
    let key = &created["key"];
    let context: EncryptionContext = key["encryption_context"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    encrypt_with(key, &context, created["upload"]["frame_length"].as_u64().unwrap() as u32, plaintext)
}

pub fn encrypt_with(key: &Value, context: &EncryptionContext, frame_length: u32, plaintext: &[u8]) -> Vec<u8> {
    let dk = DataKey::try_from_slice(&B64.decode(key["data_key"].as_str().unwrap()).unwrap()).unwrap();
    let edks: Vec<EncryptedDataKey> = key["encrypted_data_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| EncryptedDataKey {
            provider_id: e["provider_id"].as_str().unwrap().to_owned(),
            provider_info: B64.decode(e["provider_info"].as_str().unwrap()).unwrap(),
            ciphertext: B64.decode(e["ciphertext"].as_str().unwrap()).unwrap(),
        })
        .collect();
    let materials = EncryptionMaterials::new(context.clone(), dk, edks).unwrap();
    let mut enc = Encryptor::new(&materials, frame_length, &mut rand_core::OsRng).unwrap();
    let mut out = Vec::new();
    enc.update(plaintext, &mut out).unwrap();
    enc.finish(&mut out).unwrap();
    out
}

/// Cuts a message into upload parts on the server's frame boundaries.
pub fn split_parts(created: &Value, message: &[u8]) -> Vec<Vec<u8>> {
    let frame = created["upload"]["frame_length"].as_u64().unwrap() as usize + 32;
    let per_part = created["upload"]["part_frames"].as_u64().unwrap() as usize * frame;
    let header_len = header_len(message);
    let mut parts = Vec::new();
    let mut start = 0;
    let mut end = header_len + per_part;
    while start < message.len() {
        let stop = end.min(message.len());
        parts.push(message[start..stop].to_vec());
        start = stop;
        end = start + per_part;
    }
    parts
}

pub fn header_len(message: &[u8]) -> usize {
    match vault_core::ParsedHeader::parse(message, &vault_core::DecryptPolicy::default()).unwrap() {
        vault_core::HeaderParse::Complete(h) => h.len(),
        vault_core::HeaderParse::NeedMore(_) => panic!("incomplete header"),
    }
}

/// Deterministic test media.
pub fn media(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_left(u32::from(seed) % 31) as u8 ^ seed).collect()
}

/// Prints rows as `psql -t -A` does: one line per row, columns joined by `|`.
const SQLITE_PY: &str = "import sqlite3,sys
c=sqlite3.connect(sys.argv[1])
r=c.execute(sys.argv[2]).fetchall()
c.commit()
print('\\n'.join('|'.join('' if v is None else str(v) for v in row) for row in r))";

/// Runs a SQL statement on the server's SQLite database (behind the server's back);
/// the rows as `psql -t -A` prints them, trimmed.
pub fn sql(db: &Path, statement: &str) -> Result<String, String> {
    let python = std::env::var("VAULT_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python).args(["-c", SQLITE_PY, db.to_str().unwrap(), statement]).output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

pub fn status(r: Response) -> (StatusCode, String) {
    let s = r.status();
    (s, r.text().unwrap_or_default())
}

/// Unpacks an export archive with Python's tarfile (a stranger's tool, not ours).
pub fn unpack_export(archive: &Path) -> tempfile::TempDir {
    let python = std::env::var("VAULT_PYTHON").unwrap_or_else(|_| "python3".into());
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(&python)
        .args(["-c", "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter='data')"])
        .arg(archive)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "not a tar archive: {}", String::from_utf8_lossy(&out.stderr));
    dir
}

/// Runs the unpacked archive's own `recovery/decrypt.py` (the official Python SDK).
pub fn run_decrypt_py(unpacked: &Path, key: &str, out_dir: &Path) -> std::process::Output {
    let python = std::env::var("VAULT_PYTHON").unwrap_or_else(|_| "python3".into());
    Command::new(&python)
        .arg(unpacked.join("recovery/decrypt.py"))
        .args(["--key", key, "--out"])
        .arg(out_dir)
        .arg(unpacked)
        .output()
        .unwrap()
}

/// Unpacks an export archive and decrypts it with the archive's own script on the
/// official SDK; returns the decrypted files by id.
pub fn decrypt_export(archive: &Path, key: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
    let dir = unpack_export(archive);
    let unpacked = dir.path();
    assert!(std::fs::read_to_string(unpacked.join("README.txt")).unwrap().contains("recovery key"));
    let plain = unpacked.join("plain");
    let out = run_decrypt_py(unpacked, key, &plain);
    assert!(
        out.status.success(),
        "decrypt.py: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: Value = serde_json::from_slice(&std::fs::read(unpacked.join("metadata.json")).unwrap()).unwrap();
    // The stored ciphertexts are in the archive byte for byte (their SHA-256 as recorded).
    for r in metadata["recordings"].as_array().unwrap() {
        let stored = std::fs::read(unpacked.join(r["object"].as_str().unwrap())).unwrap();
        assert_eq!(hex::encode(Sha256::digest(&stored)), r["ciphertext_sha256"].as_str().unwrap());
    }
    std::fs::read_dir(&plain)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            (name.split('.').next().unwrap().to_owned(), std::fs::read(e.path()).unwrap())
        })
        .collect()
}

/// A server whose objects have a replica in a second directory.
pub fn replicated_server(extra: &[(&str, &str)]) -> (Server, tempfile::TempDir) {
    let replica = tempfile::tempdir().unwrap();
    let dir = replica.path().to_str().unwrap().to_owned();
    let mut env = vec![("VAULT_LOCAL_REPLICA_DIR", dir.as_str()), ("VAULT_AWS_REPLICATION_POLL_SECS", "1")];
    env.extend_from_slice(extra);
    (Server::start_on(None, &env), replica)
}

/// Waits until the recording has a replica copy; returns its metadata then.
pub fn wait_replicated(api: &Api, id: &str, within: Duration) -> Value {
    let start = Instant::now();
    loop {
        let r = api.ok(api.get(&format!("/v1/recordings/{id}")));
        if r["replica"]["version"].is_string() {
            return r;
        }
        assert!(start.elapsed() < within, "not replicated within {within:?}: {r}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The store's key of a recording, read behind the server's back.
pub fn object_key(server: &Server, id: &str) -> String {
    let key = server.sql(&format!("SELECT object_key FROM recordings WHERE id = '{id}'")).unwrap();
    assert!(key.starts_with("families/"), "{key}");
    key
}

/// Decrypts a whole message with its data key, requiring its family and id in the context.
pub fn decrypt_all(message: &[u8], key: &DataKey, family: &str, id: &str) -> Vec<u8> {
    let mut required = EncryptionContext::new();
    required.insert("vault:tenant", family).insert("vault:object", id);
    let mut dec = vault_core::Decryptor::new(vault_core::DecryptPolicy::requiring(required));
    let mut out = Vec::new();
    let mut rest = message;
    while !rest.is_empty() {
        let n = dec.update(rest, &mut out).unwrap();
        rest = &rest[n..];
        if dec.header().is_some() && dec.verified_header().is_none() {
            dec.unlock(key).unwrap();
        }
    }
    dec.finish().unwrap();
    out
}

pub fn primary_file(server: &Server, id: &str) -> PathBuf {
    server.dir.join("objects/objects").join(format!("{}.data", object_key(server, id)))
}

pub fn replica_file(server: &Server, replica: &Path, id: &str) -> PathBuf {
    replica.join("objects").join(format!("{}.data", object_key(server, id)))
}

/// Flips one byte of a stored (read-only) object file, as a failing disk would.
pub fn corrupt(path: &Path, at: usize) {
    let mut perms = std::fs::metadata(path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false, reason = "the test plays a failing disk")]
    perms.set_readonly(false);
    std::fs::set_permissions(path, perms).unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x40;
    std::fs::write(path, bytes).unwrap();
}

/// Moves a recording's retention into the past behind the server's back (the
/// database and both local copies' metadata), as if its retention period had ended.
pub fn expire_retention(server: &Server, replica: &Path, id: &str) {
    let past = now() as i64 * 1000 - 1000;
    server.sql(&format!("UPDATE recordings SET retain_until = {past} WHERE id = '{id}'")).unwrap();
    for data in [primary_file(server, id), replica_file(server, replica, id)] {
        let meta = data.with_extension("meta.json");
        let mut m: Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
        m["retain_until"] = json!("2001-01-01T00:00:00Z");
        std::fs::write(&meta, m.to_string()).unwrap();
    }
}

/// Resident memory of a process, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}
