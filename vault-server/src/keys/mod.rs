//! Customer keys: the per-family key that wraps every data key of that family.
//!
//! Embedded mode derives each family's key from a master key file ([`local`]); the
//! AWS backend creates one KMS key per family and region. Both produce and consume
//! vault-core's materials (a plaintext data key plus its encrypted data keys) and keep
//! the network, if any, on this side of the boundary.

pub(crate) mod cache;
pub(crate) mod kms;
pub(crate) mod local;

use async_trait::async_trait;
use vault_core::{DataKey, EncryptedDataKey, EncryptionContext, EncryptionMaterials};

/// Which customer key a family uses, as recorded in the database: opaque to
/// everyone but the key service that made it (`local:<family>` or KMS key ARNs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FamilyKeyId(pub String);

#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyError {
    /// No encrypted data key of this message belongs to the family's key.
    #[error("no encrypted data key opens with the family's key")]
    NoUsableKey,
    /// The key is destroyed (erasure) or unknown.
    #[error("the family's key is not available")]
    KeyGone,
    /// The key service could not be reached (retry later).
    #[error("key service unavailable: {0}")]
    Unavailable(String),
    #[error("key service error: {0}")]
    Other(String),
}

/// Creates family keys and wraps/unwraps data keys with them.
#[async_trait]
pub(crate) trait KeyService: Send + Sync + 'static {
    /// Creates (or finds) the customer key of a new family and returns its id.
    async fn create_family_key(&self, family_id: &str) -> Result<FamilyKeyId, KeyError>;

    /// A fresh data key wrapped under the family's key (one encrypted data key per
    /// region), bound to `context`: the KMS `GenerateDataKey` pattern.
    async fn generate_data_key(
        &self,
        key: &FamilyKeyId,
        context: &EncryptionContext,
    ) -> Result<EncryptionMaterials, KeyError>;

    /// Unwraps the first of `edks` that the family's key opens under `context`.
    async fn decrypt_data_key(
        &self,
        key: &FamilyKeyId,
        edks: &[EncryptedDataKey],
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError>;

    /// Destroys the family's key (erasure on request): after this, nothing wrapped
    /// under it can be unwrapped by anyone. Returns what was done, for the receipt.
    async fn destroy_family_key(&self, key: &FamilyKeyId) -> Result<serde_json::Value, KeyError>;

    /// Whether the service answers, in each region it uses (`/healthz` details,
    /// `vault setup`): the region's name and its answer.
    async fn check(&self) -> Vec<(String, Result<(), KeyError>)>;
}
