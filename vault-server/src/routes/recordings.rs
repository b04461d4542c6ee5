//! Recordings: create (with a fresh data key for the browser), list, get, delete.

use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::json;
use vault_core::{EncryptedDataKey, EncryptionContext};
use zeroize::Zeroizing;

use crate::app::AppState;
use crate::audit::Outcome;
use crate::db::{NewRecording, Recording, RecordingKind, RecordingStatus, now_ms};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::keys::FamilyKeyId;
use crate::middleware::caller::Member;
use crate::secret_json::SecretJson;
use crate::store::ObjectKey;

/// Context keys every Vault message carries, checked on upload and decryption.
pub const CONTEXT_TENANT: &str = "vault:tenant";
pub const CONTEXT_OBJECT: &str = "vault:object";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRecording {
    pub title: String,
    pub kind: RecordingKind,
    pub content_type: String,
    pub plaintext_size: u64,
    /// `client` (default): the caller encrypts with the returned data key; `server`:
    /// the caller sends plaintext to `PUT …/plaintext` and the server encrypts.
    #[serde(default)]
    pub encryption: Encryption,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encryption {
    #[default]
    Client,
    Server,
}

/// An encrypted data key as JSON (binary fields in base64).
#[derive(Debug, Serialize, Deserialize)]
pub struct EdkJson {
    pub provider_id: String,
    pub provider_info: String,
    pub ciphertext: String,
}

impl EdkJson {
    pub fn from_edk(e: &EncryptedDataKey) -> Self {
        Self {
            provider_id: e.provider_id.clone(),
            provider_info: B64.encode(&e.provider_info),
            ciphertext: B64.encode(&e.ciphertext),
        }
    }

    pub fn to_edk(&self) -> Option<EncryptedDataKey> {
        Some(EncryptedDataKey {
            provider_id: self.provider_id.clone(),
            provider_info: B64.decode(&self.provider_info).ok()?,
            ciphertext: B64.decode(&self.ciphertext).ok()?,
        })
    }
}

/// What a client needs to encrypt a recording itself.
#[derive(Serialize)]
pub struct DataKeyGrant {
    /// The plaintext data key, base64. Sent once, over TLS, to a member of the family.
    pub data_key: Zeroizing<String>,
    pub encrypted_data_keys: Vec<EdkJson>,
    pub encryption_context: std::collections::BTreeMap<String, String>,
}

/// How the ciphertext must be cut into upload parts.
#[derive(Debug, Serialize)]
pub struct UploadPlan {
    pub frame_length: u32,
    /// Frames per part: part `n` holds frames `(n-1)·part_frames + 1 …`, part 1 also the header.
    pub part_frames: u32,
    pub expires_at: i64,
}

#[derive(Debug, Serialize)]
pub struct RecordingView {
    pub id: String,
    pub title: String,
    pub kind: RecordingKind,
    pub content_type: String,
    pub plaintext_size: i64,
    pub status: RecordingStatus,
    pub encryption: String,
    pub created_by: String,
    pub created_at: i64,
    pub committed_at: Option<i64>,
    pub ciphertext_size: Option<i64>,
    pub sha256: Option<String>,
    pub frame_length: i64,
    pub retain_until: Option<i64>,
    /// The copy in the replica region, once made and verified (absent in embedded mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica: Option<ReplicaView>,
}

#[derive(Debug, Serialize)]
pub struct ReplicaView {
    pub version: String,
    pub sha256: Option<String>,
    pub replicated_at: Option<i64>,
}

impl From<&Recording> for RecordingView {
    fn from(r: &Recording) -> Self {
        Self {
            id: r.id.clone(),
            title: r.title.clone(),
            kind: r.kind,
            // Rows from before the allowlist may name an active type.
            content_type: crate::media_type::stored(&r.content_type)
                .unwrap_or_else(|| crate::media_type::OPAQUE.into()),
            plaintext_size: r.plaintext_size,
            status: r.status,
            encryption: r.encryption.clone(),
            created_by: r.created_by.clone(),
            created_at: r.created_at,
            committed_at: r.committed_at,
            ciphertext_size: r.ciphertext_size,
            sha256: r.sha256.clone(),
            frame_length: r.frame_length,
            retain_until: r.retain_until,
            replica: r.replica_version.as_ref().map(|version| ReplicaView {
                version: version.clone(),
                sha256: r.replica_sha256.clone(),
                replicated_at: r.replicated_at,
            }),
        }
    }
}

#[derive(Serialize)]
pub struct Created {
    pub recording: RecordingView,
    pub upload: UploadPlan,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<DataKeyGrant>,
}

/// The context bound into a recording's message.
pub fn context_for(family: &str, recording: &str) -> EncryptionContext {
    let mut ctx = EncryptionContext::new();
    ctx.insert(CONTEXT_TENANT, family).insert(CONTEXT_OBJECT, recording);
    ctx
}

/// The recording's stored encrypted data keys.
pub fn stored_edks(r: &Recording) -> ApiResult<Vec<EncryptedDataKey>> {
    let list: Vec<EdkJson> = serde_json::from_str(&r.edks).map_err(ApiError::internal)?;
    list.iter().map(EdkJson::to_edk).collect::<Option<_>>().ok_or_else(|| ApiError::internal("stored edk not base64"))
}

/// Frames per upload part: enough that every part but the last reaches `part_size`
/// (S3 refuses multipart parts under 5 MiB, except the last).
fn part_frames(part_size: u64, frame_length: u32) -> u32 {
    u32::try_from(part_size.div_ceil(u64::from(frame_length) + 32).max(1)).unwrap_or(u32::MAX)
}

/// `POST /v1/recordings`
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    Json(body): Json<CreateRecording>,
) -> ApiResult<(StatusCode, SecretJson<Created>)> {
    let title = body.title.trim();
    if !crate::text::is_visible_text(title, 300) {
        return Err(ApiError::bad_request(
            "title must be 1 to 300 visible characters (no control or invisible characters)",
        ));
    }
    let Some(content_type) = crate::media_type::stored(&body.content_type) else {
        return Err(ApiError::bad_request("content_type must be a media type such as video/mp4"));
    };
    if body.plaintext_size > state.config.limits.max_recording_bytes {
        return Err(ApiError::payload_too_large(format!(
            "recordings are limited to {} bytes",
            state.config.limits.max_recording_bytes
        )));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let family = &member.family;
    let context = context_for(&family.id, &id);
    let materials = state.keys.generate_data_key(&FamilyKeyId(family.key_id.clone()), &context).await?;
    let edks: Vec<EdkJson> = materials.encrypted_data_keys().iter().map(EdkJson::from_edk).collect();
    let frame_length = state.config.uploads.frame_length;
    let part_frames = part_frames(state.config.uploads.part_size, frame_length);
    let object_key = object_key(&family.id, &id)?;
    let plaintext_size = i64::try_from(body.plaintext_size).map_err(|_| ApiError::bad_request("size too large"))?;
    let encryption = match body.encryption {
        Encryption::Client => "client",
        Encryption::Server => "server",
    };
    state
        .db
        .insert_recording(&NewRecording {
            id: &id,
            family_id: &family.id,
            title,
            kind: body.kind,
            content_type: content_type.as_str(),
            plaintext_size,
            encryption,
            frame_length: i64::from(frame_length),
            part_frames: i64::from(part_frames),
            object_key: object_key.as_str(),
            edks: &serde_json::to_string(&edks).map_err(ApiError::internal)?,
            created_by: &member.user,
        })
        .await?;
    let expires_at = now_ms().saturating_add(i64::try_from(state.config.uploads.ttl_secs * 1000).unwrap_or(i64::MAX));
    let retain_until = retain_until(&state);
    let upload_id = state.store.create_upload(&object_key, retain_until).await?;
    state.db.insert_upload(&id, &family.id, &upload_id, expires_at).await?;
    member
        .audit(
            &state,
            "recording.created",
            &id,
            Outcome::Success,
            json!({ "kind": body.kind, "plaintext_size": body.plaintext_size, "encryption": encryption }),
        )
        .await?;
    let recording = state.db.recording(&family.id, &id).await?.ok_or_else(|| ApiError::internal("vanished"))?;
    let key = (body.encryption == Encryption::Client).then(|| DataKeyGrant {
        data_key: Zeroizing::new(B64.encode(materials.data_key().expose())),
        encrypted_data_keys: edks,
        encryption_context: context.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
    });
    Ok((
        StatusCode::CREATED,
        SecretJson(Created {
            recording: (&recording).into(),
            upload: UploadPlan { frame_length, part_frames, expires_at },
            key,
        }),
    ))
}

/// The store's name for a recording: tenant-scoped and opaque (a hash of the family
/// id, so any identity provider's ids fit the key alphabet; never a title).
pub fn object_key(family: &str, recording: &str) -> ApiResult<ObjectKey> {
    let tenant = crate::store::tenant_segment(family);
    ObjectKey::new(format!("families/{tenant}/recordings/{recording}")).map_err(ApiError::internal)
}

/// When a commit made now may be deleted at the earliest.
pub fn retain_until(state: &AppState) -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() + state.config.retention()
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Serialize)]
pub struct Page {
    pub items: Vec<RecordingView>,
    pub next_cursor: Option<String>,
}

/// `GET /v1/recordings`: committed recordings, newest first.
pub async fn list(State(state): State<AppState>, member: Member, Query(q): Query<ListQuery>) -> ApiResult<Json<Page>> {
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let cursor = match &q.cursor {
        Some(c) => {
            let (at, id) = c.split_once('.').ok_or_else(|| ApiError::bad_request("invalid cursor"))?;
            Some((at.parse::<i64>().map_err(|_| ApiError::bad_request("invalid cursor"))?, id.to_owned()))
        }
        None => None,
    };
    let rows =
        state.db.list_recordings(&member.family.id, cursor.as_ref().map(|(at, id)| (*at, id.as_str())), limit).await?;
    let next_cursor = (rows.len() == usize::try_from(limit).unwrap_or(0))
        .then(|| rows.last().map(|r| format!("{}.{}", r.created_at, r.id)))
        .flatten();
    Ok(Json(Page { items: rows.iter().map(RecordingView::from).collect(), next_cursor }))
}

/// Loads a recording of the member's family that is not deleted, or records the miss.
pub async fn find(state: &AppState, member: &Member, id: &str, action: &'static str) -> ApiResult<Recording> {
    match state.db.recording(&member.family.id, id).await? {
        Some(r) if r.status != RecordingStatus::Deleted && r.status != RecordingStatus::Expired => Ok(r),
        _ => Err(member.not_found(state, action, id).await),
    }
}

/// `GET /v1/recordings/{id}`
pub async fn get(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
) -> ApiResult<Json<RecordingView>> {
    let r = find(&state, &member, &id, "recording.read").await?;
    Ok(Json((&r).into()))
}

/// `DELETE /v1/recordings/{id}`: erases the recording: access revoked and wrapped
/// data keys destroyed at once, objects purged when retention allows
/// (`crate::erasure`). Members may delete their own recordings; owners and admins any
/// of the family's. Answers the signed erasure receipt.
pub async fn delete(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
) -> ApiResult<Json<crate::signing::Envelope>> {
    let r = find(&state, &member, &id, "recording.delete").await?;
    if r.created_by != member.user {
        member.require_manager(&state, "recording.delete", &id).await?;
    }
    match crate::erasure::erase_recording(&state, &r, &member.user, &member.meta).await {
        Ok(Some(receipt)) => Ok(Json(receipt)),
        Ok(None) => Err(ApiError::conflict("the recording changed meanwhile; try again")),
        Err(e) => Err(ApiError::internal(format!("erasure: {e:#}"))),
    }
}
