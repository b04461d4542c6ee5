//! A real `vault serve` on 127.0.0.1 with its own data directory and backends.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::blocking::Client;
use serde_json::Value;

use crate::api::Api;
use crate::aws::{self, AwsEnv};
use crate::idp;
use crate::workspace::vault_bin;

/// Where a server keeps its metadata, keys and objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, the local key file and the local object store (the README's defaults),
    /// with 4 KiB frames and 5 MiB parts so that small media span many frames and parts.
    Embedded,
    /// PostgreSQL, KMS and S3 in two regions (moto), a database and buckets of its own
    /// per server, with the shipped sizes (64 KiB frames, 8 MiB parts).
    Aws,
}

/// A running server; killed (by PID, the one we started) when dropped.
pub struct Server {
    child: Option<Child>,
    pub url: String,
    pub dir: PathBuf,
    env: Vec<(String, String)>,
    /// The AWS backends' database and buckets, when the server runs on them.
    pub aws: Option<AwsEnv>,
    /// The second region's directory, for an embedded server with a replica.
    pub replica: Option<tempfile::TempDir>,
    _tmp: tempfile::TempDir,
    pub http: Client,
    /// The server's last log lines, printed when a test fails.
    log: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<String>>>,
}

impl Server {
    pub fn start(backend: Backend) -> Self {
        Self::start_with(backend, &[])
    }

    /// A server on `backend` with these settings too.
    pub fn start_with(backend: Backend, env: &[(&str, &str)]) -> Self {
        match backend {
            Backend::Embedded => Self::start_on(None, env),
            Backend::Aws => Self::start_on(Some(AwsEnv::shared()), env),
        }
    }

    /// A server that keeps a copy of every object in a second region: S3 in a second
    /// region on AWS (always), a second local directory on embedded backends.
    pub fn replicated(backend: Backend, env: &[(&str, &str)]) -> Self {
        if backend == Backend::Aws {
            return Self::start_with(backend, env);
        }
        let replica = tempfile::tempdir().unwrap();
        let dir = replica.path().to_str().unwrap().to_owned();
        let mut all = vec![("VAULT_LOCAL_REPLICA_DIR", dir.as_str()), ("VAULT_AWS_REPLICATION_POLL_SECS", "1")];
        all.extend_from_slice(env);
        Self::launch(None, Some(replica), &all)
    }

    /// A server on the given AWS environment (None: embedded backends).
    pub fn start_on(aws: Option<AwsEnv>, env: &[(&str, &str)]) -> Self {
        Self::launch(aws, None, env)
    }

    fn launch(aws: Option<AwsEnv>, replica: Option<tempfile::TempDir>, env: &[(&str, &str)]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let vars = aws.as_ref().map(AwsEnv::vars).unwrap_or_default();
        let mut server = Server {
            child: None,
            url: String::new(),
            dir: tmp.path().to_path_buf(),
            env: vars,
            aws,
            replica,
            _tmp: tmp,
            http: client(),
            log: std::sync::Arc::default(),
        };
        if server.aws.is_some() {
            // As the schema owner, before the test's own settings (which may name a
            // restricted database role).
            let out = server.vault(&["setup"]);
            assert!(out.status.success(), "vault setup: {}", String::from_utf8_lossy(&out.stderr));
        } else {
            server.env.extend(
                [("VAULT_PART_SIZE", (5 << 20).to_string()), ("VAULT_FRAME_LENGTH", "4096".to_owned())]
                    .map(|(k, v)| (k.to_owned(), v)),
            );
        }
        server.env.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        server.spawn();
        server
    }

    /// The part plan this server grants (from its frame length and part size).
    pub fn plan(&self) -> vault_core::PartPlan {
        let setting = |name: &str, default: u64| {
            self.env.iter().rev().find(|(k, _)| k == name).map_or(default, |(_, v)| v.parse().unwrap())
        };
        let frame = u32::try_from(setting("VAULT_FRAME_LENGTH", 65_536)).unwrap();
        vault_core::PartPlan::with_min_part_size(frame, setting("VAULT_PART_SIZE", 8 << 20)).unwrap()
    }

    /// Which backends this server runs on.
    pub fn backend(&self) -> Backend {
        if self.aws.is_some() { Backend::Aws } else { Backend::Embedded }
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(vault_bin());
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("VAULT_LISTEN", "127.0.0.1:0")
            .env("VAULT_DATA_DIR", &self.dir)
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

    /// `/healthz` once a probe has found `dependency` (in `region`) up or down, waiting
    /// up to 30 s for it.
    pub fn health_when(&self, dependency: &str, region: Option<&str>, up: bool) -> Value {
        let started = Instant::now();
        loop {
            let health: Value = self.http.get(format!("{}/healthz", self.url)).send().unwrap().json().unwrap();
            let found = health["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|d| d["name"] == dependency && d["region"].as_str() == region && d["up"] == up);
            if found {
                return health;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "{dependency} {region:?} never up={up}: {health}");
            std::thread::sleep(Duration::from_millis(200));
        }
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

    /// The published keys of the issuer this server trusts.
    pub fn jwks(&self) -> Value {
        if self.aws.is_some() {
            return idp::shared().jwks();
        }
        self.http.get(format!("{}/.well-known/jwks.json", self.url)).send().unwrap().json().unwrap()
    }

    /// The claims of a valid token of the trusted issuer for `user` in `family`
    /// (`azp` included where the server requires one).
    pub fn claims(&self, family: &str, user: &str, exp: u64) -> Value {
        let (iss, aud) = self.issuer();
        let mut claims =
            serde_json::json!({ "iss": iss, "aud": aud, "sub": user, "org_id": family, "exp": exp, "iat": now() });
        if self.aws.is_some() {
            claims["azp"] = idp::AUTHORIZED_PARTY.into();
        }
        claims
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
        let jwks = self.jwks();
        let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(kid);
        jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_ec_der(&der)).unwrap()
    }

    pub fn as_user(&self, family: &str, user: &str) -> Api {
        Api {
            base: self.url.clone(),
            token: self.token(family, user),
            http: self.http.clone(),
            host: None,
            delivery: None,
        }
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
    /// with schema rights can; the hash chain and the anchors must still catch edits).
    pub fn drop_audit_triggers(&self) {
        let statements: &[&str] = match &self.aws {
            Some(_) => &["DROP TRIGGER audit_log_no_update_delete ON audit_log"],
            None => &["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"],
        };
        for statement in statements {
            self.sql(statement).unwrap();
        }
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

/// Resident memory of a process, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}
