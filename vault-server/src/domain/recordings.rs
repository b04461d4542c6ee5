//! Recordings: created (with a fresh data key for the browser), listed, read,
//! erased at once (with a signed receipt); the trash is `super::trash`.

use serde_json::json;
use vault_core::{EncryptionContext, EncryptionMaterials, PartPlan};

use super::audit::{Action, Outcome};
use super::{DomainError, DomainResult, Member, Services};
use crate::api::recordings::{CreateRecording, Encryption, RecordingKind};
use crate::db::{NewRecording, Recording, RecordingStatus, now_ms};
use crate::keys::FamilyKeyId;
use crate::signing::Envelope;
use crate::store::ObjectKey;

/// A recording just created, and its upload.
#[derive(Debug)]
pub(crate) struct Created {
    pub recording: Recording,
    /// Unix milliseconds: the upload expires then.
    pub expires_at: i64,
    /// The data key and its wrapped copies, for a client that encrypts itself.
    pub materials: Option<EncryptionMaterials>,
}

/// Creates a recording and its upload; for client-side encryption, with the data key.
pub(crate) async fn create(s: &Services, m: &Member, request: &CreateRecording) -> DomainResult<Created> {
    // Empty: the title lives in the encrypted details (`super::library`), as the page keeps it.
    let title = request.title.trim();
    if !title.is_empty() && !crate::text::is_visible_text(title, 300) {
        return Err(DomainError::invalid(
            "title must be at most 300 visible characters (no control or invisible characters)",
        ));
    }
    let Some(content_type) = super::media_type::stored(&request.content_type) else {
        return Err(DomainError::invalid("content_type must be a media type such as video/mp4"));
    };
    if request.kind == RecordingKind::Photo && !content_type.starts_with("image/") {
        return Err(DomainError::invalid("a photo's content_type must be an image type such as image/jpeg"));
    }
    let max = s.config.limits.max_recording_bytes;
    if request.plaintext_size > max {
        return Err(DomainError::TooLarge(format!("recordings are limited to {max} bytes").into()));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let family = &m.family;
    let context = EncryptionContext::for_vault_object(&family.id, &id);
    let materials = s.keys.generate_data_key(&FamilyKeyId(family.key_id.clone()), &context).await?;
    let plan = PartPlan::with_min_part_size(s.config.uploads.frame_length, s.config.uploads.part_size)
        .map_err(DomainError::internal)?;
    let object_key = object_key(&family.id, &id)?;
    s.db.insert_recording(&NewRecording {
        id: &id,
        family_id: &family.id,
        title,
        kind: request.kind,
        content_type: &content_type,
        plaintext_size: request.plaintext_size,
        encryption: request.encryption,
        plan,
        object_key: &object_key,
        edks: materials.encrypted_data_keys(),
        created_by: &m.user,
        studio_id: m.studio.as_ref().map(|c| c.studio.as_str()),
        delivery_id: m.studio.as_ref().map(|c| c.delivery.as_str()),
    })
    .await?;
    let ttl_ms = i64::try_from(s.config.uploads.ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let expires_at = now_ms().saturating_add(ttl_ms);
    let upload_id = s.store.create_upload(&object_key, s.retain_until()).await?;
    s.db.insert_upload(&id, &family.id, &upload_id, expires_at).await?;
    let metadata = json!({
        "kind": request.kind, "plaintext_size": request.plaintext_size, "encryption": request.encryption,
    });
    m.audit(s, Action::RecordingCreated, &id, Outcome::Success, metadata).await?;
    let recording = s.db.recording(&family.id, &id).await?.ok_or_else(|| DomainError::internal("vanished"))?;
    let materials = (request.encryption == Encryption::Client).then_some(materials);
    Ok(Created { recording, expires_at, materials })
}

/// The store's name for a recording: tenant-scoped and opaque (a hash of the family
/// id, so any identity provider's ids fit the key alphabet; never a title).
pub(crate) fn object_key(family: &str, recording: &str) -> DomainResult<ObjectKey> {
    let tenant = crate::store::tenant_segment(family);
    ObjectKey::new(format!("families/{tenant}/recordings/{recording}"))
        .map_err(|e| DomainError::internal(format!("{e:?}")))
}

/// Committed recordings, newest first: a page of at most `limit` (1 to 200) after
/// `cursor` (the previous page's), and the next page's cursor.
pub(crate) async fn list(
    s: &Services,
    m: &Member,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> DomainResult<(Vec<Recording>, Option<String>)> {
    let limit = i64::from(limit.unwrap_or(50).clamp(1, 200));
    let cursor = match cursor {
        Some(c) => {
            let invalid = || DomainError::invalid("invalid cursor");
            let (at, id) = c.split_once('.').ok_or_else(invalid)?;
            Some((at.parse::<i64>().map_err(|_| invalid())?, id))
        }
        None => None,
    };
    let delivery = m.studio.as_ref().map(|c| c.delivery.as_str());
    let rows = s.db.list_recordings(&m.family.id, cursor, limit, false, delivery).await?;
    let next = (rows.len() == usize::try_from(limit).unwrap_or(0))
        .then(|| rows.last().map(|r| format!("{}.{}", r.created_at, r.id)))
        .flatten();
    Ok((rows, next))
}

/// A recording of the member's family that is neither deleted nor in the trash, or
/// the miss recorded under `action`.
pub(crate) async fn find(s: &Services, m: &Member, id: &str, action: Action) -> DomainResult<Recording> {
    match s.db.recording(&m.family.id, id).await? {
        Some(r)
            if r.trash.is_none()
                && matches!(r.status, RecordingStatus::Pending | RecordingStatus::Committed)
                && m.may_see(&r) =>
        {
            Ok(r)
        }
        _ => Err(m.not_found(s, action, id).await),
    }
}

/// A recording's metadata.
pub(crate) async fn get(s: &Services, m: &Member, id: &str) -> DomainResult<Recording> {
    find(s, m, id, Action::RecordingRead).await
}

/// Erases a recording at once, in the trash or not ("delete forever", or discarding
/// an upload): access revoked and wrapped data keys destroyed, objects purged when
/// retention allows (`super::erasure`). Members may erase their own recordings;
/// owners and admins any of the family's. Answers the signed receipt.
pub(crate) async fn erase(s: &Services, m: &Member, id: &str) -> DomainResult<Envelope> {
    const ACTION: Action = Action::RecordingDeleted;
    let r = match s.db.recording(&m.family.id, id).await? {
        Some(r) if matches!(r.status, RecordingStatus::Pending | RecordingStatus::Committed) && m.may_see(&r) => r,
        _ => return Err(m.not_found(s, ACTION, id).await),
    };
    m.require_creator_or_manager(s, ACTION, &r).await?;
    if m.studio.as_ref().is_some_and(|c| c.accepted) && r.status == RecordingStatus::Committed {
        // Accepted: what the studio delivered is the family's to keep or delete.
        let refusal = DomainError::forbidden("the parents accepted this delivery: its recordings are theirs");
        return Err(m.refuse(s, ACTION, id, refusal).await);
    }
    super::erasure::erase_recording(s, &r, &m.user, &m.meta)
        .await?
        .ok_or_else(|| DomainError::conflict("the recording changed meanwhile; try again"))
}

/// Unwraps a recording's data key with the family's key.
pub(crate) async fn data_key(s: &Services, r: &Recording, family_key: &str) -> DomainResult<vault_core::DataKey> {
    let context = EncryptionContext::for_vault_object(&r.family_id, &r.id);
    Ok(s.keys.decrypt_data_key(&FamilyKeyId(family_key.to_owned()), &r.edks, &context).await?)
}
