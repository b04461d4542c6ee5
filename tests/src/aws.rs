//! The AWS backends' real protocol servers: PostgreSQL and moto (S3 + KMS), started by
//! `scripts/services` (shared, addresses in `VAULT_TEST_*`) or by a test for itself
//! (a moto it may stop and resume without disturbing other tests).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rand::RngCore;

fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: the AWS backend tests need PostgreSQL and moto; run scripts/test (it starts them with scripts/services)")
    })
}

pub fn postgres() -> String {
    required("VAULT_TEST_POSTGRES")
}

pub fn shared_moto() -> (String, String) {
    (required("VAULT_TEST_MOTO_PRIMARY"), required("VAULT_TEST_MOTO_REPLICA"))
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}{:016x}", rand::thread_rng().next_u64())
}

/// Runs SQL with psql; Ok(output) or Err(error text).
pub fn psql(url: &str, statement: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", url, "-c", statement])
        .output()
        .expect("psql (scripts/setup installs PostgreSQL)");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A fresh database and a fresh pair of buckets for one server.
#[derive(Debug, Clone)]
pub struct AwsEnv {
    pub database: String,
    pub primary: String,
    pub replica: String,
    pub primary_bucket: String,
    pub replica_bucket: String,
}

pub const PRIMARY_REGION: &str = "eu-west-1";
pub const REPLICA_REGION: &str = "eu-central-1";

impl AwsEnv {
    pub fn new(primary: &str, replica: &str) -> Self {
        let name = unique("vault_");
        psql(&format!("{}/postgres", postgres()), &format!("CREATE DATABASE {name}")).unwrap();
        let bucket = name.replace('_', "-");
        Self {
            database: format!("{}/{name}", postgres()),
            primary: primary.to_owned(),
            replica: replica.to_owned(),
            primary_bucket: format!("{bucket}-a"),
            replica_bucket: format!("{bucket}-b"),
        }
    }

    pub fn shared() -> Self {
        let (primary, replica) = shared_moto();
        Self::new(&primary, &replica)
    }

    pub fn vars(&self) -> Vec<(String, String)> {
        [
            ("VAULT_DATABASE_URL", self.database.as_str()),
            ("VAULT_KEYS", "aws-kms"),
            ("VAULT_STORE", "s3"),
            ("VAULT_AWS_PRIMARY_REGION", PRIMARY_REGION),
            ("VAULT_AWS_REPLICA_REGION", REPLICA_REGION),
            ("VAULT_AWS_PRIMARY_ENDPOINT", self.primary.as_str()),
            ("VAULT_AWS_REPLICA_ENDPOINT", self.replica.as_str()),
            ("VAULT_AWS_PRIMARY_BUCKET", self.primary_bucket.as_str()),
            ("VAULT_AWS_REPLICA_BUCKET", self.replica_bucket.as_str()),
            ("VAULT_AWS_REPLICATION_POLL_SECS", "1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        // The AWS backends never trust the development issuer: a test provider mints tokens.
        .chain(crate::idp::shared().vars())
        .collect()
    }

    /// Multipart uploads under way in the primary bucket (moto answers unsigned requests).
    pub fn primary_uploads(&self) -> usize {
        let xml = s3(&self.primary, reqwest::Method::GET, &format!("{}?uploads", self.primary_bucket)).1;
        xml.matches("<UploadId>").count()
    }

    pub fn drop_database(&self) {
        let (base, name) = self.database.rsplit_once('/').unwrap();
        let _ = psql(&format!("{base}/postgres"), &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}

/// An unsigned S3 request straight to a moto endpoint, behind the server's back.
pub fn s3(endpoint: &str, method: reqwest::Method, path: &str) -> (reqwest::StatusCode, String) {
    let (status, body) = s3_bytes(endpoint, method, path);
    (status, String::from_utf8_lossy(&body).into_owned())
}

pub fn s3_bytes(endpoint: &str, method: reqwest::Method, path: &str) -> (reqwest::StatusCode, Vec<u8>) {
    let r = reqwest::blocking::Client::new().request(method, format!("{endpoint}/{path}")).send().unwrap();
    (r.status(), r.bytes().unwrap().to_vec())
}

/// Object names under `prefix` in a bucket, listed straight from moto.
pub fn s3_keys(endpoint: &str, bucket: &str, prefix: &str) -> Vec<String> {
    let xml = s3(endpoint, reqwest::Method::GET, &format!("{bucket}?list-type=2&prefix={prefix}")).1;
    xml.split("<Key>").skip(1).filter_map(|k| k.split("</Key>").next()).map(str::to_owned).collect()
}

/// A moto server of a test's own, on a free loopback port; stopped (by PID) on drop.
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Moto {
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let venv = std::env::var("VAULT_VENV").unwrap_or_else(|_| "/var/tmp/vault-ci/venv".into());
        let mut child = Command::new(format!("{venv}/bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (scripts/setup installs it)");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
        // Python starting moto takes seconds, more while the other tests load both cores.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            if http.get(format!("{url}/moto-api/")).send().is_ok_and(|r| r.status().is_success()) {
                return Self { child, url };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("moto_server exited ({status}) before answering on {url}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("moto did not start on {url} within 60 s");
    }

    /// SIGSTOP: the region stops answering (connections hang, as in a network partition).
    pub fn pause(&self) {
        signal(self.child.id(), "-STOP");
    }

    pub fn resume(&self) {
        signal(self.child.id(), "-CONT");
    }
}

fn signal(pid: u32, sig: &str) {
    assert!(Command::new("kill").args([sig, &pid.to_string()]).status().unwrap().success());
}

impl Drop for Moto {
    fn drop(&mut self) {
        signal(self.child.id(), "-CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
