//! Secret files: raw AES wrapping keys stored as 64 hex characters, and the rule
//! that every secret file is created and kept readable by its owner only.

use std::path::Path;

use anyhow::{Context, bail};
use vault_core::RawAesKeyring;
use vault_core::suite::KEY_LEN;
use zeroize::Zeroizing;

/// Reads a key file (64 hex characters, an optional trailing newline) into a keyring.
/// Errors name the file and the problem, never the file's content.
pub(crate) fn load_raw_aes(path: &Path, namespace: &str, name: &str) -> anyhow::Result<RawAesKeyring> {
    let key = read_key(path)?;
    Ok(RawAesKeyring::new(namespace, name, *key)?)
}

/// Reads a key file (64 hex characters, an optional trailing newline).
pub(crate) fn read_key(path: &Path) -> anyhow::Result<Zeroizing<[u8; KEY_LEN]>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("cannot read key file {}", path.display()))?,
    );
    let hex_key = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
    if hex_key.len() != 2 * KEY_LEN {
        bail!("key file {} must hold exactly 64 hex characters (a 32-byte AES key)", path.display());
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    hex::decode_to_slice(hex_key, key.as_mut())
        .map_err(|_| anyhow::anyhow!("key file {} holds characters that are not hex", path.display()))?;
    Ok(key)
}

/// Writes a new file readable by its owner only, failing if it exists.
pub(crate) fn write_private(path: &Path, content: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
    file.write_all(content)?;
    file.sync_all()?;
    Ok(())
}

/// Refuses a secret file that group or others can read.
pub(crate) fn check_private(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        anyhow::bail!(
            "{} is accessible to other users (mode {:o}); run: chmod 600 {}",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(content: &str) -> anyhow::Result<RawAesKeyring> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, content).unwrap();
        load_raw_aes(&path, "ns", "n")
    }

    #[test]
    fn accepts_hex_with_optional_newline() {
        let hex = "00".repeat(32);
        assert!(load(&hex).is_ok());
        assert!(load(&format!("{hex}\n")).is_ok());
        assert!(load(&format!("{hex}\r\n")).is_ok());
    }

    #[test]
    fn refuses_bad_keys_without_echoing_them() {
        let err = load(&"zz".repeat(32)).unwrap_err().to_string();
        assert!(err.contains("not hex") && !err.contains("zz"), "{err}");
        assert!(load(&"00".repeat(31)).is_err());
        assert!(load(&format!("{}\n\n", "00".repeat(32))).is_err());
    }
}
