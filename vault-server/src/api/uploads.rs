//! Resumable uploads: parts and progress.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Request header carrying a part's SHA-256 (hex).
pub(crate) const PART_SHA256: &str = "x-vault-sha256";

/// A stored, verified part.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct PartView {
    pub part_number: u32,
    pub size: u64,
    /// SHA-256 (hex) of the part's bytes.
    pub sha256: String,
    pub is_final: bool,
}

/// `GET /v1/recordings/{id}/upload`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct UploadStatus {
    pub recording_id: String,
    pub parts: Vec<PartView>,
    /// The first part the server does not hold. After part 1 (it carries the
    /// header), parts may be sent in any order and several at once.
    pub next_part: u32,
    /// Whether the final frame is stored: `POST …/complete` will succeed.
    pub ready: bool,
    pub part_frames: u32,
    pub frame_length: u32,
    pub expires_at: i64,
    /// The message header (hex) once part 1 is stored: a client resuming after a
    /// reload continues this message (same message id) instead of starting over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
}

/// A binary body: ciphertext parts, plaintext for server-side encryption, archives.
#[derive(Debug, utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub(crate) struct BinaryBody(
    #[expect(dead_code, reason = "never built: it names the binary schema in the OpenAPI document")] Vec<u8>,
);
