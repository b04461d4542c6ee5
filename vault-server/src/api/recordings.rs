//! Recordings: creation (with a data key for client-side encryption), listing, views.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vault_core::{EncryptedDataKey, EncryptionMaterials};
use zeroize::Zeroizing;

/// What a recording is, which decides how the page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RecordingKind {
    Audio,
    Video,
    Letter,
    /// A still image (`image/*`), shown decrypted as a picture.
    Photo,
}

impl RecordingKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Letter => "letter",
            Self::Photo => "photo",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        [Self::Audio, Self::Video, Self::Letter, Self::Photo].into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a recording is in its life. Only `Committed` ones are listed or served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RecordingStatus {
    Pending,
    Committed,
    Expired,
    Deleted,
}

impl RecordingStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Committed => "committed",
            Self::Expired => "expired",
            Self::Deleted => "deleted",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Committed, Self::Expired, Self::Deleted].into_iter().find(|k| k.as_str() == s)
    }
}

/// Who encrypts a recording.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Encryption {
    /// The caller, with the data key the creation returns.
    #[default]
    Client,
    /// The server, from plaintext sent to `PUT …/plaintext`.
    Server,
}

impl Encryption {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Server => "server",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        [Self::Client, Self::Server].into_iter().find(|k| k.as_str() == s)
    }
}

/// `POST /v1/recordings`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRecording {
    /// At most 300 visible characters; empty when the title is kept in the encrypted
    /// details instead (the web page does so).
    pub title: String,
    pub kind: RecordingKind,
    /// Audio, video, raster images, text/plain and PDF are kept; anything else is
    /// stored as application/octet-stream.
    pub content_type: String,
    pub plaintext_size: u64,
    #[serde(default)]
    pub encryption: Encryption,
}

/// An encrypted data key (binary fields in base64), as the ESDK header holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EdkJson {
    pub provider_id: String,
    /// Base64.
    pub provider_info: String,
    /// Base64.
    pub ciphertext: String,
}

impl From<&EncryptedDataKey> for EdkJson {
    fn from(e: &EncryptedDataKey) -> Self {
        Self {
            provider_id: e.provider_id.clone(),
            provider_info: B64.encode(&e.provider_info),
            ciphertext: B64.encode(&e.ciphertext),
        }
    }
}

impl TryFrom<&EdkJson> for EncryptedDataKey {
    type Error = base64::DecodeError;

    fn try_from(e: &EdkJson) -> Result<Self, Self::Error> {
        Ok(EncryptedDataKey {
            provider_id: e.provider_id.clone(),
            provider_info: B64.decode(&e.provider_info)?,
            ciphertext: B64.decode(&e.ciphertext)?,
        })
    }
}

/// What a client needs to encrypt a recording itself.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct DataKeyGrant {
    /// The plaintext data key, base64. Sent once, over TLS, to a member of the family.
    #[schema(value_type = String)]
    pub data_key: Zeroizing<String>,
    pub encrypted_data_keys: Vec<EdkJson>,
    /// Exactly `{vault:tenant, vault:object}`.
    pub encryption_context: BTreeMap<String, String>,
}

impl From<&EncryptionMaterials> for DataKeyGrant {
    /// The grant of `m`: the data key (base64, in a wiped string), its wrapped copies
    /// and context, for a client that seals with them.
    fn from(m: &EncryptionMaterials) -> Self {
        Self {
            data_key: Zeroizing::new(B64.encode(m.data_key().expose())),
            encrypted_data_keys: m.encrypted_data_keys().iter().map(EdkJson::from).collect(),
            encryption_context: m.context().iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        }
    }
}

impl std::fmt::Debug for DataKeyGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKeyGrant").field("encryption_context", &self.encryption_context).finish_non_exhaustive()
    }
}

/// How the ciphertext must be cut into upload parts (`vault_core::PartPlan`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct UploadPlan {
    pub frame_length: u32,
    /// Frames per part: part n holds frames (n-1)·part_frames+1 …, part 1 also the header.
    pub part_frames: u32,
    /// Unix milliseconds: the upload expires then.
    pub expires_at: i64,
}

/// A recording's metadata.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct RecordingView {
    pub id: String,
    pub title: String,
    pub kind: RecordingKind,
    pub content_type: String,
    pub plaintext_size: u64,
    pub status: RecordingStatus,
    pub encryption: Encryption,
    pub created_by: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub committed_at: Option<i64>,
    pub ciphertext_size: Option<u64>,
    /// SHA-256 (hex) of the stored ciphertext.
    pub sha256: Option<String>,
    pub frame_length: u32,
    pub retain_until: Option<i64>,
    /// The copy in the replica region, once made and verified (absent in embedded mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<ReplicaView>,
    /// Set while the recording is in the trash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trash: Option<TrashView>,
    /// The encrypted details (title, "recorded on", note): base64 of an ESDK message
    /// under the family's library key (`POST /v1/family/library-key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Whether `GET …/poster` has an encrypted poster.
    #[serde(default)]
    pub has_poster: bool,
}

/// A recording's stay in the trash.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct TrashView {
    /// Unix milliseconds.
    pub trashed_at: i64,
    pub trashed_by: String,
    /// Unix milliseconds: erased then, unless restored before.
    pub erase_after: i64,
}

/// The copy of a recording in the replica region.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct ReplicaView {
    pub version: String,
    pub sha256: Option<String>,
    pub replicated_at: Option<i64>,
}

/// The answer to `POST /v1/recordings`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Created {
    pub recording: RecordingView,
    pub upload: UploadPlan,
    /// For client-side encryption only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<DataKeyGrant>,
}

/// `GET /v1/recordings?limit&cursor`
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of recordings, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct Page {
    pub items: Vec<RecordingView>,
    pub next_cursor: Option<String>,
}
