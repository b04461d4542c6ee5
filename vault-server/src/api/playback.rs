//! Playback: key release.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

/// `POST /v1/recordings/{id}/key`
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct KeyRelease {
    /// The plaintext data key, base64. Only ever sent to a member of the family.
    #[schema(value_type = String)]
    pub data_key: Zeroizing<String>,
    pub frame_length: u32,
    pub header_len: Option<u64>,
    pub ciphertext_size: Option<u64>,
    pub plaintext_size: u64,
    pub content_type: String,
}

impl std::fmt::Debug for KeyRelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRelease").field("content_type", &self.content_type).finish_non_exhaustive()
    }
}
