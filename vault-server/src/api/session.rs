//! Signing in: how the page does it, the development sign-in, the signing key.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /web-config.json`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct WebConfig {
    /// Whether `POST /dev/token` exists (embedded mode on loopback).
    pub dev_sign_in: bool,
    /// The identity provider's sign-in front end, if configured.
    pub sign_in_url: Option<String>,
    /// Where the page gets a fresh token before its own expires (`auth.refresh_url`),
    /// if configured; the development sign-in renews at `POST /dev/renew`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_url: Option<String>,
}

/// `POST /dev/renew`
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DevRenew {
    /// Lifetime of the new token (default one hour; at most a day).
    pub ttl_secs: Option<u64>,
}

/// `POST /dev/token`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DevToken {
    pub user_id: String,
    pub family_id: String,
    /// The one-time code `vault serve` printed.
    pub code: String,
    /// Token lifetime (default one hour; at most a day).
    pub ttl_secs: Option<u64>,
}

/// The answer to `POST /dev/token`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct DevTokenIssued {
    pub token: String,
    pub expires_in: u64,
}

/// `GET /v1/signing-key`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct SigningKey {
    /// Always `Ed25519`.
    pub algorithm: String,
    pub key_id: String,
    /// Base64.
    pub public_key: String,
}
