//! The stored copies of objects, reached behind the server's back the same way on
//! both backends: a file in a local directory, or the latest version in an S3 bucket
//! (moto answers unsigned requests). The durability tests damage, remove and read
//! copies through these, so they run unchanged on either backend.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::Api;
use crate::aws::{PRIMARY_REGION, REPLICA_REGION, s3, s3_keys};
use crate::server::{Server, now};

/// One of the two regions that hold every object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    Primary,
    Replica,
}

/// Where a region's objects are: a directory, or an S3 endpoint, region and bucket.
enum Place<'a> {
    Dir(PathBuf),
    Bucket { endpoint: &'a str, region: &'a str, bucket: &'a str },
}

/// Runs `tests/interop/s3_tool.py` (boto3, signed requests to moto); the exit code
/// and standard output.
fn s3_tool(args: &[&str]) -> (Option<i32>, String) {
    let python = std::env::var("VAULT_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(python)
        .arg(crate::workspace::workspace().join("tests/interop/s3_tool.py"))
        .args(args)
        .output()
        .unwrap();
    let code = out.status.code();
    assert!(code == Some(0) || code == Some(4), "s3_tool {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    (code, String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Server {
    fn place(&self, region: Region) -> Place<'_> {
        match (&self.aws, region) {
            (Some(aws), Region::Primary) => {
                Place::Bucket { endpoint: &aws.primary, region: PRIMARY_REGION, bucket: &aws.primary_bucket }
            }
            (Some(aws), Region::Replica) => {
                Place::Bucket { endpoint: &aws.replica, region: REPLICA_REGION, bucket: &aws.replica_bucket }
            }
            (None, Region::Primary) => Place::Dir(self.dir.join("objects/objects")),
            (None, Region::Replica) => Place::Dir(
                self.replica.as_ref().expect("a server with a replica (Server::replicated)").path().join("objects"),
            ),
        }
    }

    /// The store's key of a recording, read behind the server's back.
    pub fn object_key(&self, id: &str) -> String {
        let key = self.sql(&format!("SELECT object_key FROM recordings WHERE id = '{id}'")).unwrap();
        assert!(key.starts_with("families/"), "{key}");
        key
    }

    /// The bytes a region holds for `key` now (its latest version), or None.
    pub fn stored(&self, region: Region, key: &str) -> Option<Vec<u8>> {
        match self.place(region) {
            Place::Dir(dir) => std::fs::read(data_file(&dir, key)).ok(),
            Place::Bucket { endpoint, region, bucket } => {
                let file = tempfile::NamedTempFile::new().unwrap();
                match s3_tool(&["get", endpoint, region, bucket, key, file.path().to_str().unwrap()]).0 {
                    Some(0) => Some(std::fs::read(file.path()).unwrap()),
                    _ => None,
                }
            }
        }
    }

    /// The bytes a region holds for a recording's object now, or None.
    pub fn stored_recording(&self, region: Region, id: &str) -> Option<Vec<u8>> {
        self.stored(region, &self.object_key(id))
    }

    /// Flips one byte of a stored copy, as a failing disk would; on S3 (where a locked
    /// version cannot change) the damaged bytes become a new latest version, as a
    /// careless writer with the bucket's credentials would leave it.
    pub fn damage(&self, region: Region, key: &str, at: usize) {
        let mut bytes = self.stored(region, key).expect("a copy to damage");
        bytes[at] ^= 0x40;
        match self.place(region) {
            Place::Dir(dir) => {
                let file = data_file(&dir, key);
                let mut perms = std::fs::metadata(&file).unwrap().permissions();
                #[allow(clippy::permissions_set_readonly_false, reason = "the test plays a failing disk")]
                perms.set_readonly(false);
                std::fs::set_permissions(&file, perms).unwrap();
                std::fs::write(file, bytes).unwrap();
            }
            Place::Bucket { endpoint, region, bucket } => {
                let file = tempfile::NamedTempFile::new().unwrap();
                std::fs::write(file.path(), bytes).unwrap();
                s3_tool(&["put", endpoint, region, bucket, key, file.path().to_str().unwrap()]);
            }
        }
    }

    /// Removes a copy: deletes its files, or hides the object behind a delete marker
    /// (Object Lock keeps its versions).
    pub fn remove(&self, region: Region, key: &str) {
        match self.place(region) {
            Place::Dir(dir) => {
                let data = data_file(&dir, key);
                std::fs::remove_file(data.with_extension("meta.json")).unwrap();
                std::fs::remove_file(data).unwrap();
            }
            Place::Bucket { endpoint, bucket, .. } => {
                let (status, body) = s3(endpoint, Method::DELETE, &format!("{bucket}/{key}"));
                assert!(status.is_success(), "{body}");
            }
        }
        assert!(self.stored(region, key).is_none());
    }

    /// Object names under `prefix` a plain listing shows (superseded local versions and
    /// objects behind delete markers are not listed).
    pub fn stored_keys(&self, region: Region, prefix: &str) -> Vec<String> {
        match self.place(region) {
            Place::Dir(dir) => {
                let mut keys = Vec::new();
                walk(&dir, &dir, &mut keys);
                keys.retain(|k| k.starts_with(prefix));
                keys.sort();
                keys
            }
            Place::Bucket { endpoint, bucket, .. } => s3_keys(endpoint, bucket, prefix),
        }
    }

    /// How many versions a region keeps of `key` (a local repair sets the damaged file
    /// aside as `<key>.data.superseded-<version>`).
    pub fn versions(&self, region: Region, key: &str) -> usize {
        match self.place(region) {
            Place::Dir(dir) => {
                let data = data_file(&dir, key);
                let name = format!("{}.superseded-", data.file_name().unwrap().to_string_lossy());
                let aside = std::fs::read_dir(data.parent().unwrap())
                    .unwrap()
                    .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(&name))
                    .count();
                aside + usize::from(data.exists())
            }
            Place::Bucket { endpoint, bucket, .. } => {
                s3(endpoint, Method::GET, &format!("{bucket}?versions&prefix={key}")).1.matches("<Version>").count()
            }
        }
    }

    /// Moves a recording's retention into the past behind the server's back (the
    /// database and the lock of every stored version in both regions), as if its
    /// retention period had ended.
    pub fn expire_retention(&self, id: &str) {
        let past = now() as i64 * 1000 - 1000;
        self.sql(&format!("UPDATE recordings SET retain_until = {past} WHERE id = '{id}'")).unwrap();
        let key = self.object_key(id);
        for region in [Region::Primary, Region::Replica] {
            match self.place(region) {
                Place::Dir(dir) => {
                    let meta = data_file(&dir, &key).with_extension("meta.json");
                    let mut m: Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
                    m["retain_until"] = json!("2001-01-01T00:00:00Z");
                    std::fs::write(&meta, m.to_string()).unwrap();
                }
                // moto lets a COMPLIANCE retention be shortened (AWS does not; see
                // ../shared/moto-notes.md): the stand-in for time passing.
                Place::Bucket { endpoint, region, bucket } => {
                    let (_, versions) = s3_tool(&["expire", endpoint, region, bucket, &key]);
                    assert_ne!(versions.trim(), "0", "no version of {key} in {bucket}");
                }
            }
        }
    }
}

fn data_file(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("{key}.data"))
}

fn walk(root: &Path, dir: &Path, keys: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, keys);
        } else if let Some(key) = path.strip_prefix(root).unwrap().to_str().and_then(|p| p.strip_suffix(".data")) {
            keys.push(key.to_owned());
        }
    }
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
