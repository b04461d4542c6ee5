//! Exports started from the web page or the API.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

/// `POST /v1/family/export`
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct ExportStarted {
    pub export_id: String,
    /// 64 hex characters: shown once, never stored by Vault.
    #[schema(value_type = String)]
    pub recovery_key: Zeroizing<String>,
    pub key_namespace: String,
    pub key_name: String,
    /// GET it within `expires_in_secs`, once.
    pub download: String,
    pub expires_in_secs: u64,
}

impl std::fmt::Debug for ExportStarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportStarted").field("export_id", &self.export_id).finish_non_exhaustive()
    }
}
