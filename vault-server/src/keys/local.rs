//! Embedded-mode customer keys: one random key per family, in its own file.
//!
//! A family's key is 32 random bytes, stored in `family-keys/<sha256(family id)>.key`
//! beside the master key file, wrapped under the master key (AES-256-GCM, bound to
//! the family id). Used as a raw AES keyring (namespace `vault-local`, name
//! `family/<id>`), so the official SDKs' raw AES keyrings can open the family's
//! objects with that key alone. Erasing a family overwrites and unlinks its key file:
//! the master key then opens nothing of that family through Vault. (On copy-on-write
//! filesystems, SSDs and backups an old copy of the file may survive: together with
//! the master key it would still open the family key. Production uses KMS.)
//!
//! Families created before per-family files (key id `local:<id>`) keep a key derived
//! from the master key (`HKDF-SHA256(master, salt "vault/local-family-key/v1", info
//! id)`); such a key cannot be destroyed on its own, so their erasure is refused.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use hkdf::Hkdf;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vault_core::keyring::unwrap_any;
use vault_core::{DataKey, EncryptedDataKey, EncryptionContext, EncryptionMaterials, Keyring, RawAesKeyring};
use zeroize::Zeroizing;

use super::{FamilyKeyId, KeyError, KeyService};
use crate::keyfile::{check_private, write_private};

/// Key namespace (ESDK provider id) of embedded-mode family keys.
pub(crate) const NAMESPACE: &str = "vault-local";
const SALT: &[u8] = b"vault/local-family-key/v1";
const DERIVED: &str = "local:";
const FILE: &str = "local-file:";

/// Family keys in files, wrapped under a master key file.
pub(crate) struct LocalKeys {
    master: RawAesKeyring,
    master_bytes: Zeroizing<[u8; 32]>,
    dir: PathBuf,
}

impl std::fmt::Debug for LocalKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKeys").field("dir", &self.dir).finish_non_exhaustive()
    }
}

/// A family key file: the family key wrapped under the master key.
#[derive(Serialize, Deserialize)]
struct KeyFile {
    family: String,
    provider_info: String,
    ciphertext: String,
}

impl LocalKeys {
    /// Loads the master key from `path`, creating it (mode 0600) on first run; family
    /// key files live in `family-keys/` beside it.
    pub(crate) fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        if !path.exists() {
            let mut key = Zeroizing::new([0u8; 32]);
            OsRng.fill_bytes(key.as_mut());
            write_private(path, hex::encode(key.as_ref()).as_bytes())?;
            tracing::info!(path = %path.display(), "created a new master key file");
        }
        check_private(path)?;
        let master_bytes = crate::keyfile::read_key(path)?;
        let master = RawAesKeyring::new("vault-local-master", "master", *master_bytes)?;
        let dir = path.parent().unwrap_or(Path::new(".")).join("family-keys");
        std::fs::create_dir_all(&dir)?;
        Ok(Self { master, master_bytes, dir })
    }

    fn key_path(&self, family_id: &str) -> PathBuf {
        self.dir.join(format!("{}.key", hex::encode(Sha256::digest(family_id.as_bytes()))))
    }

    fn wrap_context(family_id: &str) -> EncryptionContext {
        [("vault:family-key", family_id)].into_iter().collect()
    }

    /// The raw AES keyring of a family whose key lives in a file.
    fn file_keyring(&self, family_id: &str) -> Result<RawAesKeyring, KeyError> {
        let text = std::fs::read(self.key_path(family_id)).map_err(|_| KeyError::KeyGone)?;
        let file: KeyFile = serde_json::from_slice(&text).map_err(|e| KeyError::Other(format!("key file: {e}")))?;
        let bad = |_| KeyError::Other("key file is not hex".into());
        let edk = EncryptedDataKey {
            provider_id: "vault-local-master".into(),
            provider_info: hex::decode(&file.provider_info).map_err(bad)?,
            ciphertext: hex::decode(&file.ciphertext).map_err(bad)?,
        };
        let key = unwrap_any(&[&self.master as &dyn Keyring], &[edk], &Self::wrap_context(family_id))
            .map_err(|_| KeyError::Other("the family key file does not open with the master key".into()))?;
        RawAesKeyring::new(NAMESPACE, format!("family/{family_id}"), *key.expose())
            .map_err(|e| KeyError::Other(e.to_string()))
    }

    /// The key of a family created before key files: derived from the master key.
    fn derived_keyring(&self, family_id: &str) -> Result<RawAesKeyring, KeyError> {
        let mut key = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(Some(SALT), self.master_bytes.as_ref())
            .expand(family_id.as_bytes(), key.as_mut())
            .map_err(|_| KeyError::Other("HKDF output length".into()))?;
        RawAesKeyring::new(NAMESPACE, format!("family/{family_id}"), *key).map_err(|e| KeyError::Other(e.to_string()))
    }

    fn keyring_for(&self, key: &FamilyKeyId) -> Result<RawAesKeyring, KeyError> {
        if let Some(family) = key.0.strip_prefix(FILE) {
            self.file_keyring(family)
        } else if let Some(family) = key.0.strip_prefix(DERIVED) {
            self.derived_keyring(family)
        } else {
            Err(KeyError::KeyGone)
        }
    }
}

#[async_trait]
impl KeyService for LocalKeys {
    /// A new random key in a new file; a retried creation finds the file and keeps it.
    async fn create_family_key(&self, family_id: &str) -> Result<FamilyKeyId, KeyError> {
        let path = self.key_path(family_id);
        if !path.exists() {
            let key = DataKey::generate(&mut OsRng);
            let edk = self
                .master
                .wrap(&key, &Self::wrap_context(family_id), &mut OsRng)
                .map_err(|e| KeyError::Other(e.to_string()))?;
            let file = KeyFile {
                family: family_id.to_owned(),
                provider_info: hex::encode(&edk.provider_info),
                ciphertext: hex::encode(&edk.ciphertext),
            };
            let text = serde_json::to_vec(&file).map_err(|e| KeyError::Other(e.to_string()))?;
            // Written whole and synced under a temporary name, then linked into place
            // (fails if a concurrent creation won) and the directory synced: a crash
            // never leaves a truncated key file.
            let tmp = self.dir.join(format!(".{}.tmp", uuid::Uuid::new_v4()));
            write_private(&tmp, &text).map_err(|e| KeyError::Other(e.to_string()))?;
            let linked = std::fs::hard_link(&tmp, &path);
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => std::fs::File::open(&self.dir)
                    .and_then(|d| d.sync_all())
                    .map_err(|e| KeyError::Other(e.to_string()))?,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {} // a concurrent creation won
                Err(e) => return Err(KeyError::Other(e.to_string())),
            }
        }
        Ok(FamilyKeyId(format!("{FILE}{family_id}")))
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

    /// Overwrites the key file with zeros, syncs, and unlinks it.
    async fn destroy_family_key(&self, key: &FamilyKeyId) -> Result<serde_json::Value, KeyError> {
        let Some(family) = key.0.strip_prefix(FILE) else {
            return Err(KeyError::Other(
                "this family's key is derived from the master key and cannot be destroyed on its own".into(),
            ));
        };
        let path = self.key_path(family);
        let destroy = || -> std::io::Result<u64> {
            use std::io::Write;
            let len = std::fs::metadata(&path)?.len();
            let mut file = std::fs::OpenOptions::new().write(true).open(&path)?;
            file.write_all(&vec![0u8; usize::try_from(len).unwrap_or(0)])?;
            file.sync_all()?;
            std::fs::remove_file(&path)?;
            std::fs::File::open(&self.dir)?.sync_all()?;
            Ok(len)
        };
        match destroy() {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {} // a retried erasure
            Err(e) => return Err(KeyError::Other(format!("cannot destroy the family key file: {e}"))),
        }
        Ok(serde_json::json!({
            "service": "local",
            "operation": "key file overwritten and deleted",
            "key_file": path.file_name().map(|n| n.to_string_lossy().into_owned()),
            "destroyed_at": crate::db::now_ms(),
        }))
    }

    /// A key file has no region and nothing to reach.
    async fn check(&self) -> Vec<(String, Result<(), KeyError>)> {
        vec![("local".to_owned(), Ok(()))]
    }
}

/// Where the master key lives in a data directory.
pub(crate) fn master_key_path(data_dir: &Path) -> PathBuf {
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
        // A retried creation keeps the key.
        assert_eq!(keys.create_family_key("fam-a").await.unwrap(), a);
        assert!(keys.decrypt_data_key(&a, m.encrypted_data_keys(), &ctx).await.is_ok());
    }

    #[tokio::test]
    async fn a_destroyed_family_key_opens_nothing_and_other_families_are_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let keys = LocalKeys::load_or_create(&master_key_path(dir.path())).unwrap();
        let a = keys.create_family_key("fam-a").await.unwrap();
        let b = keys.create_family_key("fam-b").await.unwrap();
        let ctx_a: EncryptionContext = [("vault:tenant", "fam-a"), ("vault:object", "o1")].into_iter().collect();
        let ctx_b: EncryptionContext = [("vault:tenant", "fam-b"), ("vault:object", "o2")].into_iter().collect();
        let ma = keys.generate_data_key(&a, &ctx_a).await.unwrap();
        let mb = keys.generate_data_key(&b, &ctx_b).await.unwrap();
        let file = keys.key_path("fam-a");
        assert!(file.exists());
        let receipt = keys.destroy_family_key(&a).await.unwrap();
        assert_eq!(receipt["service"], "local");
        assert!(!file.exists());
        assert!(matches!(keys.decrypt_data_key(&a, ma.encrypted_data_keys(), &ctx_a).await, Err(KeyError::KeyGone)));
        assert!(matches!(keys.generate_data_key(&a, &ctx_a).await, Err(KeyError::KeyGone)));
        // A restart (a fresh service over the same directory) cannot open it either.
        let again = LocalKeys::load_or_create(&master_key_path(dir.path())).unwrap();
        assert!(again.decrypt_data_key(&a, ma.encrypted_data_keys(), &ctx_a).await.is_err());
        assert!(again.decrypt_data_key(&b, mb.encrypted_data_keys(), &ctx_b).await.is_ok());
        // Destroying again is a no-op; a derived (legacy) key cannot be destroyed alone.
        keys.destroy_family_key(&a).await.unwrap();
        assert!(keys.destroy_family_key(&FamilyKeyId("local:fam-c".into())).await.is_err());
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
