//! Paths of the workspace, the shared material beside it and the built binary.

use std::path::PathBuf;

/// The workspace root. Cargo names `tests/` at run time as well as at build time; the
/// run-time name wins, so a test binary built in another checkout that shares the
/// target directory still finds this checkout's files.
pub fn workspace() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.join("Cargo.toml").is_file())
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest.parent().expect("tests/ has a parent").to_path_buf()
}

/// `../shared` beside the checkout (or `$VAULT_SHARED_DIR`): official vectors and notes.
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("VAULT_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("..").join("shared"));
    assert!(dir.join("esdk-vectors").is_dir(), "shared material not found at {} (set VAULT_SHARED_DIR)", dir.display());
    dir
}

/// The `vault` binary Cargo built for this test run.
pub fn vault_bin() -> PathBuf {
    let path = std::env::var_os("VAULT_BIN").map(PathBuf::from).unwrap_or_else(|| {
        let target =
            std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("target"));
        let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
        target.join(profile).join("vault")
    });
    assert!(path.is_file(), "vault binary not found at {} (cargo build first, or set VAULT_BIN)", path.display());
    path
}

/// A slice split into pieces of pseudo-random sizes.
pub fn pieces(data: &[u8], seed: u64) -> Vec<&[u8]> {
    let mut state = seed | 1;
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let n = (state % 700) as usize + 1;
        let (a, b) = rest.split_at(n.min(rest.len()));
        out.push(a);
        rest = b;
    }
    out
}

/// A child process the test started, killed (by PID) when the test ends, even by a panic.
#[derive(Debug)]
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
