//! Share links: view-only links to some recordings for people without an account.
//! The link's secret never reaches the server; what it stores opens nothing alone.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

/// One recording a new link shows.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SharedRecording {
    pub recording_id: String,
    /// Base64 of a small ESDK message (raw AES keyring, namespace `vault-link`, key name
    /// the link's id) holding the recording's data key, title and poster, sealed in the
    /// browser under a key derived from the link's secret. Opaque to the server.
    pub sealed: String,
}

/// The passphrase KDF's public parameters (Argon2id, run in the viewer's browser).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PassphraseKdf {
    /// `argon2id`.
    pub algorithm: String,
    /// 16 random bytes, base64.
    pub salt: String,
    /// Memory in KiB (19456 to 262144).
    pub memory_kib: u32,
    /// Passes (1 to 10).
    pub iterations: u32,
}

/// `POST /v1/family/links`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateShareLink {
    /// 16 random bytes, base64url, made by the page (its sealed keys name it).
    pub id: String,
    /// Who it is for ("for Grandpa Joe"): 1 to 100 visible characters.
    pub name: String,
    /// Days the link works, 1 to 30 (default 7).
    #[serde(default)]
    pub expires_in_days: Option<u32>,
    /// How many times it may be opened (1 to 10000); none: no limit.
    #[serde(default)]
    pub max_views: Option<u32>,
    /// Whether the viewer may save a decrypted copy.
    #[serde(default)]
    pub allow_download: bool,
    /// Present when the link also needs a passphrase.
    #[serde(default)]
    pub passphrase: Option<PassphraseKdf>,
    /// 1 to 50 of the family's stored recordings.
    pub recordings: Vec<SharedRecording>,
}

/// Where a link is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum ShareLinkState {
    Active,
    Revoked,
    Expired,
    /// Opened as many times as it allows.
    UsedUp,
    /// Everything it showed was erased.
    Empty,
}

/// A link as its family sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct ShareLinkView {
    pub id: String,
    pub name: String,
    pub state: ShareLinkState,
    pub created_by: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub views: i64,
    pub max_views: Option<i64>,
    pub allow_download: bool,
    pub passphrase: bool,
    /// How many recordings it shows.
    pub recordings: i64,
}

/// One opening of a link, from the family's audit log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct ShareLinkOpening {
    /// Unix milliseconds.
    pub at: i64,
    pub ip: String,
    pub user_agent: String,
    /// `success`, or `denied` (expired, revoked, used up).
    pub outcome: String,
}

/// A recording as an opened link shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct LinkedRecording {
    pub recording_id: String,
    pub family_id: String,
    /// As `SharedRecording::sealed`.
    pub sealed: String,
    pub content_type: String,
    pub frame_length: u32,
    pub header_len: u64,
    pub ciphertext_size: u64,
    pub plaintext_size: u64,
}

/// The answer to `POST /v1/links/{id}/open`: one counted view.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct OpenedLink {
    pub id: String,
    pub expires_at: i64,
    pub allow_download: bool,
    pub passphrase: Option<PassphraseKdf>,
    /// Sent as `x-vault-view` with every read of this view (valid for 12 hours at most).
    #[schema(value_type = String)]
    pub view: Zeroizing<String>,
    pub recordings: Vec<LinkedRecording>,
}

impl std::fmt::Debug for OpenedLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedLink").field("id", &self.id).finish_non_exhaustive()
    }
}
