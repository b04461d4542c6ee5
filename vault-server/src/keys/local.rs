//! Embedded-mode customer keys: a master key file and one derived key per family.
//!
//! `family key = HKDF-SHA256(ikm = master key, salt = "vault/local-family-key/v1",
//! info = family id)`, used as a raw AES keyring (namespace `vault-local`, name
//! `family/<id>`) so that the official SDKs' raw AES keyrings can open the objects
//! with the derived key alone. One derived key exposes one family; the master key
//! exposes all of them, so it lives in a file of mode 0600 in the data directory.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use hkdf::Hkdf;
use rand_core::{OsRng, RngCore};
use sha2::Sha256;
use vault_core::keyring::unwrap_any;
use vault_core::{DataKey, EncryptedDataKey, EncryptionContext, EncryptionMaterials, Keyring, RawAesKeyring};
use zeroize::Zeroizing;

use super::{FamilyKeyId, KeyError, KeyService};

/// Key namespace (ESDK provider id) of embedded-mode family keys.
pub const NAMESPACE: &str = "vault-local";
const SALT: &[u8] = b"vault/local-family-key/v1";
const PREFIX: &str = "local:";

/// Family keys derived from a master key file.
pub struct LocalKeys {
    master: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for LocalKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKeys").finish_non_exhaustive()
    }
}

impl LocalKeys {
    /// Loads the master key from `path`, creating it (mode 0600) on first run.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        if !path.exists() {
            let mut key = Zeroizing::new([0u8; 32]);
            OsRng.fill_bytes(key.as_mut());
            write_private(path, hex::encode(key.as_ref()).as_bytes())?;
            tracing::info!(path = %path.display(), "created a new master key file");
        }
        check_private(path)?;
        Ok(Self { master: crate::keyfile::read_key(path)? })
    }

    /// The raw AES keyring of one family.
    pub fn family_keyring(&self, family_id: &str) -> Result<RawAesKeyring, KeyError> {
        let mut key = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(Some(SALT), self.master.as_ref())
            .expand(family_id.as_bytes(), key.as_mut())
            .map_err(|_| KeyError::Other("HKDF output length".into()))?;
        RawAesKeyring::new(NAMESPACE, format!("family/{family_id}"), *key).map_err(|e| KeyError::Other(e.to_string()))
    }

    fn keyring_for(&self, key: &FamilyKeyId) -> Result<RawAesKeyring, KeyError> {
        let family = key.0.strip_prefix(PREFIX).ok_or(KeyError::KeyGone)?;
        self.family_keyring(family)
    }
}

#[async_trait]
impl KeyService for LocalKeys {
    async fn create_family_key(&self, family_id: &str) -> Result<FamilyKeyId, KeyError> {
        Ok(FamilyKeyId(format!("{PREFIX}{family_id}")))
    }

    async fn generate_data_key(
        &self,
        key: &FamilyKeyId,
        context: &EncryptionContext,
    ) -> Result<EncryptionMaterials, KeyError> {
        let keyring = self.keyring_for(key)?;
        EncryptionMaterials::generate(context.clone(), &[&keyring as &dyn Keyring], &mut OsRng)
            .map_err(|e| KeyError::Other(e.to_string()))
    }

    async fn decrypt_data_key(
        &self,
        key: &FamilyKeyId,
        edks: &[EncryptedDataKey],
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        let keyring = self.keyring_for(key)?;
        unwrap_any(&[&keyring as &dyn Keyring], edks, context).map_err(|_| KeyError::NoUsableKey)
    }

    async fn check(&self) -> Result<(), KeyError> {
        Ok(())
    }
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

/// Where the master key lives in a data directory.
pub fn master_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("master.key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn families_get_distinct_keys_and_keys_stay_in_their_family() {
        let dir = tempfile::tempdir().unwrap();
        let path = master_key_path(dir.path());
        let keys = LocalKeys::load_or_create(&path).unwrap();
        let a = keys.create_family_key("fam-a").await.unwrap();
        let b = keys.create_family_key("fam-b").await.unwrap();
        let ctx: EncryptionContext = [("vault:tenant", "fam-a"), ("vault:object", "o1")].into_iter().collect();
        let m = keys.generate_data_key(&a, &ctx).await.unwrap();
        let dk = keys.decrypt_data_key(&a, m.encrypted_data_keys(), &ctx).await.unwrap();
        assert_eq!(dk.expose(), m.data_key().expose());
        // Another family's key cannot open it, nor can the right key under another context.
        assert!(matches!(keys.decrypt_data_key(&b, m.encrypted_data_keys(), &ctx).await, Err(KeyError::NoUsableKey)));
        let other: EncryptionContext = [("vault:tenant", "fam-b"), ("vault:object", "o1")].into_iter().collect();
        assert!(keys.decrypt_data_key(&a, m.encrypted_data_keys(), &other).await.is_err());
        // Reloading the same master key file gives the same family keys.
        let again = LocalKeys::load_or_create(&path).unwrap();
        assert!(again.decrypt_data_key(&a, m.encrypted_data_keys(), &ctx).await.is_ok());
    }

    #[test]
    fn master_key_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = master_key_path(dir.path());
        LocalKeys::load_or_create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = LocalKeys::load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }
}
