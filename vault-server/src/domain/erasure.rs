//! Erasure on request, and why it does not fight Object Lock.
//!
//! Objects are write-once under COMPLIANCE retention: nobody, Vault included, can
//! delete a version before its retain-until date. Erasure therefore works in two
//! steps (threat-model.md, "Erasure and Object Lock"):
//!
//! * **At once, cryptographically.** A recording: access is revoked and its wrapped
//!   data keys are destroyed in the database; Vault's own state refuses any key
//!   release for it. A family: its customer key is destroyed (the embedded key file
//!   overwritten and unlinked; KMS `ScheduleKeyDeletion` with the 7-day minimum, and
//!   Vault refuses the family at once by its own state, since KMS keeps serving a
//!   key until the deletion completes and moto never stops).
//! * **Physically, when retention allows.** The purge job deletes every version of
//!   a deleted recording's object in both regions once its retention has passed.
//!
//! Each erasure writes an audit row and returns a receipt signed by the service key,
//! also stored write-once under `receipts/` in the object store.

use bytes::Bytes;
use serde::Serialize;
use serde_json::json;

use super::Services;
use super::audit::{Action, Event, Outcome, RequestMeta, SYSTEM_ACTOR};
use crate::db::{Recording, RecordingStatus, now_ms};
use crate::signing::Envelope;
use crate::store::{ObjectKey, StoreError, put_small};

/// The kind of a signed erasure receipt.
pub(crate) const RECEIPT_KIND: &str = "vault.erasure-receipt";

/// One object named by a receipt.
#[derive(Debug, Serialize)]
pub(crate) struct ErasedObject {
    pub recording_id: String,
    pub object_key: String,
    pub ciphertext_sha256: Option<String>,
    pub ciphertext_size: Option<u64>,
    pub versions: Vec<String>,
    /// The earliest time the purge job may delete it (its Object Lock date), Unix ms.
    pub purge_after: Option<i64>,
    pub wrapped_keys_destroyed: usize,
}

impl ErasedObject {
    fn of(r: &Recording) -> Self {
        Self {
            recording_id: r.id.clone(),
            object_key: r.object_key.to_string(),
            ciphertext_sha256: r.sha256.map(hex::encode),
            ciphertext_size: r.ciphertext_size,
            versions: [r.version.clone(), r.replica.as_ref().map(|c| c.version.clone())]
                .into_iter()
                .flatten()
                .collect(),
            purge_after: r.retain_until,
            wrapped_keys_destroyed: r.edks.len(),
        }
    }
}

/// What a receipt says.
#[derive(Debug, Serialize)]
pub(crate) struct Receipt {
    pub receipt_id: String,
    pub scope: &'static str,
    pub family_id: String,
    pub erased_at: i64,
    pub requested_by: String,
    pub objects: Vec<ErasedObject>,
    /// What happened to the family's customer key (family erasure only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_key: Option<serde_json::Value>,
    pub note: &'static str,
}

/// Erases one recording (any status, in the trash or not): revokes access, destroys
/// its wrapped keys in the database, aborts an upload under way, audits, and signs a
/// receipt. None if it changed meanwhile (the caller retries).
pub(crate) async fn erase_recording(
    state: &Services,
    r: &Recording,
    actor: &str,
    meta: &RequestMeta,
) -> anyhow::Result<Option<Envelope>> {
    if !state.db.set_recording_status(&r.family_id, &r.id, r.status, RecordingStatus::Deleted).await? {
        return Ok(None);
    }
    let note = "Access revoked and wrapped data keys destroyed at erased_at; the stored object versions are deleted \
                by the purge job after purge_after (Object Lock retention).";
    Ok(Some(erased(state, r, actor, actor, note, meta).await?))
}

/// Erases a recording whose time in the trash ended by `now`, as its trasher asked;
/// None if it left the trash meanwhile (restored, or erased by its owner).
pub(crate) async fn erase_from_trash(state: &Services, r: &Recording, now: i64) -> anyhow::Result<Option<Envelope>> {
    let Some(trash) = &r.trash else { return Ok(None) };
    if !state.db.erase_due_trash(&r.family_id, &r.id, now).await? {
        return Ok(None);
    }
    let note = "Moved to the trash by requested_by and erased when its time there ended: access revoked and wrapped \
                data keys destroyed at erased_at; the stored object versions are deleted by the purge job after \
                purge_after (Object Lock retention).";
    Ok(Some(erased(state, r, SYSTEM_ACTOR, &trash.by, note, &RequestMeta::default()).await?))
}

/// What follows once a recording's row says deleted (its keys are gone): no more
/// copies, no upload, an audit row by `actor`, and the receipt.
async fn erased(
    state: &Services,
    r: &Recording,
    actor: &str,
    requested_by: &str,
    note: &'static str,
    meta: &RequestMeta,
) -> anyhow::Result<Envelope> {
    state.db.cancel_replication(&r.id).await?;
    abort_upload(state, r).await?;
    let receipt = Receipt {
        receipt_id: uuid::Uuid::new_v4().to_string(),
        scope: "recording",
        family_id: r.family_id.clone(),
        erased_at: now_ms(),
        requested_by: requested_by.to_owned(),
        objects: vec![ErasedObject::of(r)],
        customer_key: None,
        note,
    };
    // The audit row first: the irreversible step is done, and its record must not
    // depend on the store accepting the receipt's copy.
    let metadata = json!({
        "was": r.status, "receipt": receipt.receipt_id, "sha256": r.sha256.map(hex::encode),
        "purge_after": r.retain_until, "from_trash": r.trash.is_some(),
    });
    record(state, &r.family_id, actor, Action::RecordingDeleted, &r.id, metadata, meta).await?;
    sign_and_store(state, &receipt).await
}

/// Erases a whole family: every recording as above, then its customer key.
pub(crate) async fn erase_family(
    state: &Services,
    family_id: &str,
    actor: &str,
    meta: &RequestMeta,
) -> anyhow::Result<Envelope> {
    let family = state.db.family(family_id).await?.ok_or_else(|| anyhow::anyhow!("no family {family_id:?}"))?;
    super::deliveries::hand_off_due_in_family(state, family_id, now_ms()).await?;
    let recordings = state.db.all_recordings(family_id).await?;
    for r in recordings.iter().filter(|r| r.status == RecordingStatus::Pending) {
        abort_upload(state, r).await?;
    }
    let key_id = crate::keys::FamilyKeyId(family.key_id.clone());
    let destroyed = state.keys.destroy_family_key(&key_id).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let erased_at = state.db.erase_family(family_id, &destroyed.to_string()).await?;
    let receipt = Receipt {
        receipt_id: uuid::Uuid::new_v4().to_string(),
        scope: "family",
        family_id: family_id.to_owned(),
        erased_at,
        requested_by: actor.to_owned(),
        objects: recordings.iter().map(ErasedObject::of).collect(),
        customer_key: Some(destroyed),
        note: "Vault refuses the family from erased_at on. The customer key is destroyed (a local key file) or \
               scheduled for destruction (KMS, after its waiting period: see customer_key), after which nobody can \
               decrypt any object of the family. The ciphertext versions are deleted by the purge job after \
               purge_after.",
    };
    let metadata = json!({
        "receipt": receipt.receipt_id, "recordings": receipt.objects.len(), "customer_key": receipt.customer_key,
    });
    record(state, family_id, actor, Action::FamilyErased, family_id, metadata, meta).await?;
    sign_and_store(state, &receipt).await
}

/// Deletes the objects of deleted recordings whose retention has passed (both
/// regions, every version); returns how many were purged.
pub(crate) async fn purge(state: &Services) -> anyhow::Result<usize> {
    let mut purged = 0;
    for r in state.db.due_purges(now_ms(), 100).await? {
        // Always asked, even without a recorded version: a commit that raced the
        // erasure may have written the object without recording it.
        match state.store.delete(&r.object_key).await {
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(StoreError::Retained { until }) => {
                tracing::warn!(recording = %r.id, %until, "purge refused by the store's retention; will retry");
                continue;
            }
            Err(e) => return Err(anyhow::anyhow!("purge of {}: {e}", r.id)),
        }
        state.db.mark_purged(&r.id).await?;
        let metadata = json!({
            "object_key": r.object_key.as_str(), "sha256": r.sha256.map(hex::encode),
            "versions": [r.version, r.replica.map(|c| c.version)],
        });
        state.audit.system(&r.family_id, Action::RecordingPurged, &r.id, Outcome::Success, metadata).await?;
        purged += 1;
    }
    Ok(purged)
}

async fn abort_upload(state: &Services, r: &Recording) -> anyhow::Result<()> {
    if let Some(upload) = state.db.upload(&r.family_id, &r.id).await? {
        state.store.abort_upload(&r.object_key, &upload.store_upload_id).await?;
        state.db.delete_upload(&r.id).await?;
    }
    Ok(())
}

/// Signs the receipt and keeps a copy, write-once, beside the family's objects. The
/// copy is a convenience (the caller gets the receipt): a store failure is logged.
async fn sign_and_store(state: &Services, receipt: &Receipt) -> anyhow::Result<Envelope> {
    let signed = state.signer.sign(RECEIPT_KIND, receipt)?;
    let tenant = crate::store::tenant_segment(&receipt.family_id);
    let key = ObjectKey::new(format!("receipts/{tenant}/{}", receipt.receipt_id))?;
    let until = time::OffsetDateTime::now_utc() + state.config.retention();
    if let Err(e) = put_small(state.store.as_ref(), &key, Bytes::from(serde_json::to_vec(&signed)?), until).await {
        tracing::warn!(receipt = %receipt.receipt_id, error = %e, "cannot store the erasure receipt's copy");
    }
    Ok(signed)
}

async fn record(
    state: &Services,
    tenant: &str,
    actor: &str,
    action: Action,
    target: &str,
    metadata: serde_json::Value,
    meta: &RequestMeta,
) -> anyhow::Result<()> {
    let event = Event {
        tenant: tenant.to_owned(),
        actor: actor.to_owned(),
        action,
        target: target.to_owned(),
        outcome: Outcome::Success,
        metadata,
    };
    Ok(state.audit.record(&event, meta).await?)
}
