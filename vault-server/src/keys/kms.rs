//! AWS KMS customer keys: one symmetric key per family in each of two regions.
//!
//! Separate keys rather than one multi-Region key, so each object carries one
//! encrypted data key per region and either region's KMS opens it alone. Encrypted
//! data keys are written exactly as the AWS Encryption SDK's KMS keyring writes them
//! (provider id `aws-kms`, provider info = the key ARN, ciphertext = KMS's
//! `CiphertextBlob`), so the official SDKs decrypt Vault's objects with a KMS keyring.
//! KMS binds each data key to the message's encryption context (tenant, object):
//! `Decrypt` with another family's or object's context fails inside KMS.

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeySpec, KeyUsageType, Tag};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use vault_core::{DataKey, EncryptedDataKey, EncryptionContext, EncryptionMaterials};
use zeroize::Zeroizing;

use super::{FamilyKeyId, KeyError, KeyService};
use crate::aws::Failover;
use crate::metrics::KmsLabels;

/// The AWS Encryption SDK's provider id for KMS keys.
pub(crate) const PROVIDER_ID: &str = "aws-kms";

/// One region's KMS.
#[derive(Debug, Clone)]
pub(crate) struct KmsRegion {
    pub name: String,
    pub client: Client,
}

/// The KMS key service over a primary and a replica region.
pub(crate) struct KmsKeys {
    primary: KmsRegion,
    replica: KmsRegion,
    failover: Failover,
    calls: Family<KmsLabels, Counter>,
}

impl std::fmt::Debug for KmsKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsKeys").field("primary", &self.primary.name).field("replica", &self.replica.name).finish()
    }
}

/// The family's two key ARNs, stored as `<primary ARN> <replica ARN>`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyPair {
    primary: String,
    replica: String,
}

impl KeyPair {
    fn parse(id: &FamilyKeyId) -> Result<Self, KeyError> {
        let (primary, replica) = id.0.split_once(' ').ok_or(KeyError::KeyGone)?;
        if !primary.starts_with("arn:") || !replica.starts_with("arn:") {
            return Err(KeyError::KeyGone);
        }
        Ok(Self { primary: primary.into(), replica: replica.into() })
    }

    fn id(&self) -> FamilyKeyId {
        FamilyKeyId(format!("{} {}", self.primary, self.replica))
    }
}

impl KmsKeys {
    pub(crate) fn new(
        primary: KmsRegion,
        replica: KmsRegion,
        failover: Failover,
        calls: Family<KmsLabels, Counter>,
    ) -> Self {
        Self { primary, replica, failover, calls }
    }

    fn count(&self, region: &KmsRegion, op: &'static str) {
        self.calls.get_or_create(&KmsLabels { region: region.name.clone(), op }).inc();
    }

    /// The family's key in one region: found by alias (so a retried family creation
    /// reuses it), else created, tagged and aliased.
    async fn key_in(&self, region: &KmsRegion, family_id: &str) -> Result<String, KeyError> {
        let alias = alias_name(family_id);
        if let Some(arn) = self.find_alias(region, &alias).await? {
            return Ok(arn);
        }
        self.count(region, "CreateKey");
        let created = region
            .client
            .create_key()
            .key_spec(KeySpec::SymmetricDefault)
            .key_usage(KeyUsageType::EncryptDecrypt)
            .description(format!("Vault customer key of family {family_id}"))
            .tags(tag("vault:family", family_id)?)
            .tags(tag("vault:service", "vault")?)
            .send()
            .await
            .map_err(|e| service_error(&e))?;
        let arn = created.key_metadata().and_then(|m| m.arn()).ok_or_else(|| KeyError::Other("no key ARN".into()))?;
        self.count(region, "CreateAlias");
        match region.client.create_alias().alias_name(&alias).target_key_id(arn).send().await {
            Ok(_) => Ok(arn.to_owned()),
            Err(e) if e.code() == Some("AlreadyExistsException") => {
                // A concurrent creation won: use its key, retire ours.
                let winner = self.find_alias(region, &alias).await?.ok_or(KeyError::KeyGone)?;
                let _ = region.client.schedule_key_deletion().key_id(arn).pending_window_in_days(7).send().await;
                Ok(winner)
            }
            Err(e) => Err(service_error(&e)),
        }
    }

    async fn find_alias(&self, region: &KmsRegion, alias: &str) -> Result<Option<String>, KeyError> {
        self.count(region, "DescribeKey");
        match region.client.describe_key().key_id(alias).send().await {
            Ok(out) => Ok(out.key_metadata().and_then(|m| m.arn()).map(str::to_owned)),
            Err(e) if e.code() == Some("NotFoundException") => Ok(None),
            Err(e) => Err(service_error(&e)),
        }
    }

    /// `Decrypt` of one encrypted data key in one region, checking KMS answered
    /// with the key we asked for (as the AWS Encryption SDK does).
    async fn decrypt_in(
        &self,
        region: &KmsRegion,
        arn: &str,
        edk: &EncryptedDataKey,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        self.count(region, "Decrypt");
        let out = region
            .client
            .decrypt()
            .key_id(arn)
            .ciphertext_blob(Blob::new(edk.ciphertext.clone()))
            .set_encryption_context(Some(kms_context(context)))
            .send()
            .await
            .map_err(|e| service_error(&e))?;
        if out.key_id() != Some(arn) {
            return Err(KeyError::NoUsableKey);
        }
        let plaintext = Zeroizing::new(out.plaintext.map(Blob::into_inner).unwrap_or_default());
        DataKey::try_from_slice(&plaintext)
            .ok_or_else(|| KeyError::Other("KMS returned a key of the wrong length".into()))
    }
}

#[async_trait]
impl KeyService for KmsKeys {
    async fn create_family_key(&self, family_id: &str) -> Result<FamilyKeyId, KeyError> {
        let primary = self.key_in(&self.primary, family_id).await?;
        let replica = self.key_in(&self.replica, family_id).await?;
        Ok(KeyPair { primary, replica }.id())
    }

    /// `GenerateDataKey` under the primary region's key, then `Encrypt` of the same
    /// data key under the replica region's key: the AWS Encryption SDK's
    /// multi-keyring pattern (generator plus child keyring).
    async fn generate_data_key(
        &self,
        key: &FamilyKeyId,
        context: &EncryptionContext,
    ) -> Result<EncryptionMaterials, KeyError> {
        let keys = KeyPair::parse(key)?;
        // A new object needs both regions' keys; while the primary is marked down the
        // answer is known at once (503), without waiting out its budget again, except
        // for the one caller who checks whether it is back.
        if !self.failover.try_primary() {
            return Err(KeyError::Unavailable(format!("{} failed moments ago", self.primary.name)));
        }
        self.count(&self.primary, "GenerateDataKey");
        let generated = self
            .primary
            .client
            .generate_data_key()
            .key_id(&keys.primary)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(kms_context(context)))
            .send()
            .await
            .map_err(|e| {
                let err = service_error(&e);
                if matches!(err, KeyError::Unavailable(_)) {
                    self.failover.primary_failed();
                }
                err
            })?;
        self.failover.primary_ok();
        if generated.key_id() != Some(keys.primary.as_str()) {
            return Err(KeyError::Other("KMS answered for another key".into()));
        }
        let plaintext = Zeroizing::new(generated.plaintext.map(Blob::into_inner).unwrap_or_default());
        let data_key = DataKey::try_from_slice(&plaintext)
            .ok_or_else(|| KeyError::Other("KMS returned a key of the wrong length".into()))?;
        let primary_blob =
            generated.ciphertext_blob.ok_or_else(|| KeyError::Other("no ciphertext blob".into()))?.into_inner();
        self.count(&self.replica, "Encrypt");
        let replica_blob = self
            .replica
            .client
            .encrypt()
            .key_id(&keys.replica)
            .plaintext(Blob::new(plaintext.to_vec()))
            .set_encryption_context(Some(kms_context(context)))
            .send()
            .await
            .map_err(|e| service_error(&e))?
            .ciphertext_blob
            .ok_or_else(|| KeyError::Other("no ciphertext blob".into()))?
            .into_inner();
        let edks = vec![
            EncryptedDataKey {
                provider_id: PROVIDER_ID.into(),
                provider_info: keys.primary.into_bytes(),
                ciphertext: primary_blob,
            },
            EncryptedDataKey {
                provider_id: PROVIDER_ID.into(),
                provider_info: keys.replica.into_bytes(),
                ciphertext: replica_blob,
            },
        ];
        EncryptionMaterials::new(context.clone(), data_key, edks).map_err(|e| KeyError::Other(e.to_string()))
    }

    /// Tries the primary region's encrypted data key, then the replica's (or the
    /// other way round while the primary region is marked down). Only keys of this
    /// family are ever asked for, whatever the message's header lists.
    async fn decrypt_data_key(
        &self,
        key: &FamilyKeyId,
        edks: &[EncryptedDataKey],
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        let keys = KeyPair::parse(key)?;
        let mut order = [(&self.primary, keys.primary.as_str(), true), (&self.replica, keys.replica.as_str(), false)];
        if !self.failover.primary_first() {
            order.reverse();
        }
        let mut last = KeyError::NoUsableKey;
        for (region, arn, is_primary) in order {
            let Some(edk) = edks.iter().find(|e| e.provider_id == PROVIDER_ID && e.provider_info == arn.as_bytes())
            else {
                continue;
            };
            match self.decrypt_in(region, arn, edk, context).await {
                Ok(key) => {
                    if is_primary {
                        self.failover.primary_ok();
                    }
                    return Ok(key);
                }
                Err(e) => {
                    tracing::warn!(region = %region.name, error = %e, "KMS could not unwrap the data key; trying the other region");
                    if is_primary && matches!(e, KeyError::Unavailable(_)) {
                        self.failover.primary_failed();
                    }
                    last = e;
                }
            }
        }
        Err(last)
    }

    /// Schedules both regions' keys for deletion after KMS's minimum waiting period
    /// (7 days; KMS refuses to use a key pending deletion, and destroys its material
    /// at the end). Vault refuses the family at once by its own state.
    async fn destroy_family_key(&self, key: &FamilyKeyId) -> Result<serde_json::Value, KeyError> {
        let pair = KeyPair::parse(key)?;
        let mut scheduled = Vec::new();
        for (region, arn) in [(&self.primary, &pair.primary), (&self.replica, &pair.replica)] {
            self.count(region, "ScheduleKeyDeletion");
            // The bare key id (the ARN's last segment) names the key in its own region
            // and account as well as the ARN does; moto 5.2 answers 500 to an ARN here.
            let key_id = arn.rsplit('/').next().unwrap_or(arn);
            let out = match region.client.schedule_key_deletion().key_id(key_id).pending_window_in_days(7).send().await
            {
                Ok(out) => out,
                // Most likely already pending deletion (a retried erasure); said as KMS said it.
                Err(e) if e.code() == Some("KMSInvalidStateException") => {
                    let state = format!("not scheduled again: KMSInvalidStateException: {}", e.message().unwrap_or(""));
                    scheduled.push(serde_json::json!({ "region": region.name, "key_arn": arn, "state": state }));
                    continue;
                }
                Err(e) => return Err(service_error(&e)),
            };
            scheduled.push(serde_json::json!({
                "region": region.name,
                "key_arn": arn,
                "state": out.key_state().map(|s| s.as_str().to_owned()),
                "deletion_date": out.deletion_date().map(|d| d.secs()),
                "requested_pending_window_days": 7,
            }));
        }
        Ok(serde_json::json!({ "service": "aws-kms", "operation": "ScheduleKeyDeletion", "keys": scheduled }))
    }

    /// One `ListKeys` per region, both at once.
    async fn check(&self) -> Vec<(String, Result<(), KeyError>)> {
        async fn check(keys: &KmsKeys, region: &KmsRegion) -> (String, Result<(), KeyError>) {
            keys.count(region, "ListKeys");
            let answer = region.client.list_keys().limit(1).send().await;
            (region.name.clone(), answer.map(drop).map_err(|e| service_error(&e)))
        }
        let (primary, replica) = tokio::join!(check(self, &self.primary), check(self, &self.replica));
        vec![primary, replica]
    }
}

pub(crate) fn alias_name(family_id: &str) -> String {
    format!("alias/vault/{family_id}")
}

fn tag(key: &str, value: &str) -> Result<Tag, KeyError> {
    Tag::builder().tag_key(key).tag_value(value).build().map_err(|e| KeyError::Other(e.to_string()))
}

fn kms_context(context: &EncryptionContext) -> std::collections::HashMap<String, String> {
    context.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// Maps a KMS failure: a wrong key or context is not retryable; a missing, disabled
/// or deleted key means the key is gone; anything else is the service being away.
fn service_error<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> KeyError {
    match err.code() {
        Some("InvalidCiphertextException" | "IncorrectKeyException" | "AccessDeniedException") => KeyError::NoUsableKey,
        Some("NotFoundException" | "DisabledException" | "KMSInvalidStateException") => KeyError::KeyGone,
        Some(code) => KeyError::Unavailable(format!("{code}: {}", err.message().unwrap_or(""))),
        None => KeyError::Unavailable(match err {
            SdkError::TimeoutError(_) => "timeout".to_owned(),
            SdkError::DispatchFailure(_) => "cannot connect".to_owned(),
            _ => "no response".to_owned(),
        }),
    }
}
