//! A short-lived cache of unwrapped data keys, so one playback session (a key
//! release, then many range requests, perhaps a reload) costs one KMS `Decrypt`.
//!
//! Entries are keyed by a hash of everything the unwrap depended on: the family's key
//! id, the encryption context (which names the tenant and the object) and the
//! encrypted data keys. A request for another family's object, or with another
//! context, therefore never hits an entry it could not have unwrapped itself. Keys
//! are zeroized when evicted or expired (`DataKey` zeroizes on drop); the cache is
//! bounded in size and time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use vault_core::{DataKey, EncryptedDataKey, EncryptionContext, EncryptionMaterials};

use super::{FamilyKeyId, KeyError, KeyService};

pub(crate) struct CachedKeys<K> {
    inner: K,
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<[u8; 32], (Instant, DataKey)>>,
}

impl<K> std::fmt::Debug for CachedKeys<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedKeys").field("ttl", &self.ttl).field("capacity", &self.capacity).finish_non_exhaustive()
    }
}

impl<K: KeyService> CachedKeys<K> {
    pub(crate) fn new(inner: K, ttl: Duration, capacity: usize) -> Self {
        Self { inner, ttl, capacity, entries: Mutex::new(HashMap::new()) }
    }

    fn lookup(&self, id: &[u8; 32]) -> Option<DataKey> {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match entries.get(id) {
            Some((at, key)) if at.elapsed() < self.ttl => Some(key.duplicate()),
            Some(_) => {
                entries.remove(id);
                None
            }
            None => None,
        }
    }

    fn insert(&self, id: [u8; 32], key: &DataKey) {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
        if entries.len() >= self.capacity
            && let Some(oldest) = entries.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| *k)
        {
            entries.remove(&oldest);
        }
        entries.insert(id, (Instant::now(), key.duplicate()));
    }
}

/// Hash of what an unwrap depends on; lengths prefix each field so no two inputs collide.
fn entry_id(key: &FamilyKeyId, edks: &[EncryptedDataKey], context: &EncryptionContext) -> [u8; 32] {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(key.0.as_bytes());
    for (k, v) in context.iter() {
        field(k.as_bytes());
        field(v.as_bytes());
    }
    for edk in edks {
        field(edk.provider_id.as_bytes());
        field(&edk.provider_info);
        field(&edk.ciphertext);
    }
    h.finalize().into()
}

#[async_trait]
impl<K: KeyService> KeyService for CachedKeys<K> {
    async fn create_family_key(&self, family_id: &str) -> Result<FamilyKeyId, KeyError> {
        self.inner.create_family_key(family_id).await
    }

    async fn generate_data_key(
        &self,
        key: &FamilyKeyId,
        context: &EncryptionContext,
    ) -> Result<EncryptionMaterials, KeyError> {
        self.inner.generate_data_key(key, context).await
    }

    async fn decrypt_data_key(
        &self,
        key: &FamilyKeyId,
        edks: &[EncryptedDataKey],
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        let id = entry_id(key, edks, context);
        if let Some(hit) = self.lookup(&id) {
            return Ok(hit);
        }
        let data_key = self.inner.decrypt_data_key(key, edks, context).await?;
        self.insert(id, &data_key);
        Ok(data_key)
    }

    /// Also forgets every cached data key (erasure is rare; a family's entries are
    /// not indexed separately).
    async fn destroy_family_key(&self, key: &FamilyKeyId) -> Result<serde_json::Value, KeyError> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        self.inner.destroy_family_key(key).await
    }

    async fn check(&self) -> Vec<(String, Result<(), KeyError>)> {
        self.inner.check().await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::keys::local::{LocalKeys, master_key_path};

    /// Counts unwraps that reach the wrapped service.
    struct Counting(LocalKeys, AtomicUsize);

    #[async_trait]
    impl KeyService for Counting {
        async fn create_family_key(&self, f: &str) -> Result<FamilyKeyId, KeyError> {
            self.0.create_family_key(f).await
        }
        async fn generate_data_key(
            &self,
            k: &FamilyKeyId,
            c: &EncryptionContext,
        ) -> Result<EncryptionMaterials, KeyError> {
            self.0.generate_data_key(k, c).await
        }
        async fn decrypt_data_key(
            &self,
            k: &FamilyKeyId,
            e: &[EncryptedDataKey],
            c: &EncryptionContext,
        ) -> Result<DataKey, KeyError> {
            self.1.fetch_add(1, Ordering::SeqCst);
            self.0.decrypt_data_key(k, e, c).await
        }
        async fn destroy_family_key(&self, k: &FamilyKeyId) -> Result<serde_json::Value, KeyError> {
            self.0.destroy_family_key(k).await
        }
        async fn check(&self) -> Vec<(String, Result<(), KeyError>)> {
            Vec::new()
        }
    }

    fn ctx(tenant: &str, object: &str) -> EncryptionContext {
        [("vault:tenant", tenant), ("vault:object", object)].into_iter().collect()
    }

    #[tokio::test]
    async fn one_unwrap_per_object_bounded_in_time_and_size_and_never_across_families() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalKeys::load_or_create(&master_key_path(dir.path())).unwrap();
        let cache = CachedKeys::new(Counting(local, AtomicUsize::new(0)), Duration::from_millis(300), 2);
        let calls = || cache.inner.1.load(Ordering::SeqCst);
        let a = cache.create_family_key("a").await.unwrap();
        let b = cache.create_family_key("b").await.unwrap();
        let m1 = cache.generate_data_key(&a, &ctx("a", "o1")).await.unwrap();
        for _ in 0..100 {
            let key = cache.decrypt_data_key(&a, m1.encrypted_data_keys(), &ctx("a", "o1")).await.unwrap();
            assert_eq!(key.expose(), m1.data_key().expose());
        }
        assert_eq!(calls(), 1);
        // Another family's key or another context misses the cache and fails at the keyring.
        assert!(cache.decrypt_data_key(&b, m1.encrypted_data_keys(), &ctx("a", "o1")).await.is_err());
        assert!(cache.decrypt_data_key(&a, m1.encrypted_data_keys(), &ctx("b", "o1")).await.is_err());
        assert_eq!(calls(), 3);
        // Bounded in size: two more objects push the first one out.
        for object in ["o2", "o3"] {
            let m = cache.generate_data_key(&a, &ctx("a", object)).await.unwrap();
            cache.decrypt_data_key(&a, m.encrypted_data_keys(), &ctx("a", object)).await.unwrap();
        }
        assert!(cache.entries.lock().unwrap().len() <= 2);
        cache.decrypt_data_key(&a, m1.encrypted_data_keys(), &ctx("a", "o1")).await.unwrap();
        assert_eq!(calls(), 6);
        // Bounded in time.
        tokio::time::sleep(Duration::from_millis(350)).await;
        cache.decrypt_data_key(&a, m1.encrypted_data_keys(), &ctx("a", "o1")).await.unwrap();
        assert_eq!(calls(), 7);
    }
}
