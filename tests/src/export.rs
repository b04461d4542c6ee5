//! Export archives, opened with strangers' tools: Python's tarfile and the archive's
//! own `recovery/decrypt.py` on the official Python SDK.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

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
    // decrypt.py names each file by its title and type, and prints `id: 'title' -> file`.
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    let files: std::collections::BTreeMap<String, Vec<u8>> = printed
        .lines()
        .filter_map(|line| {
            let (id, rest) = line.split_once(": ")?;
            let (_, file) = rest.rsplit_once(" -> ")?;
            Some((id.to_owned(), std::fs::read(file).unwrap()))
        })
        .collect();
    assert_eq!(files.len(), std::fs::read_dir(&plain).unwrap().count(), "one line per file: {printed}");
    files
}
