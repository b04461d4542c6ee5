//! The service's signing key (Ed25519): it signs integrity-scrub reports, erasure
//! receipts and audit anchors, so a family or an auditor can check them later and
//! offline (`vault verify-receipt`, or any Ed25519 verifier) without trusting the
//! database they came from.
//!
//! A signed document is a JSON envelope:
//! ```text
//! { "kind": "vault.erasure-receipt", "payload": "<the document as JSON text>",
//!   "key_id": "<hex SHA-256 of the public key, first 16 bytes>",
//!   "public_key": "<base64 Ed25519 public key>", "signature": "<base64>" }
//! ```
//! The signature covers `"vault-signed/v1\n" ‖ kind ‖ "\n" ‖ payload`: the payload is
//! signed as the exact text stored, so no JSON canonicalisation is involved, and the
//! kind is bound so a receipt cannot pass for an anchor. The envelope names its key for
//! convenience only: a verifier pins the service's key (`GET /v1/signing-key`).

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::keyfile::{check_private, write_private};

const DOMAIN: &str = "vault-signed/v1\n";

/// The key pair; the private half never leaves this struct.
pub(crate) struct Signer {
    pair: Ed25519KeyPair,
    key_id: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

/// A signed document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub(crate) struct Envelope {
    pub kind: String,
    pub payload: String,
    pub key_id: String,
    pub public_key: String,
    pub signature: String,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum VerifyError {
    #[error("not a signed Vault document: {0}")]
    Malformed(String),
    #[error("signed by another key ({0}) than the one given")]
    WrongKey(String),
    #[error("expected a {expected} document, got {got}")]
    WrongKind { expected: String, got: String },
    #[error("the signature does not match: the document was altered or not signed by this key")]
    BadSignature,
}

impl Signer {
    /// Loads the PKCS#8 key at `path` (mode 0600), creating it on first use.
    pub(crate) fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        if !path.exists() {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .map_err(|_| anyhow::anyhow!("cannot generate the signing key"))?;
            write_private(path, pkcs8.as_ref())?;
            tracing::info!(path = %path.display(), "created the service signing key");
        }
        check_private(path)?;
        let der = Zeroizing::new(std::fs::read(path)?);
        let pair = Ed25519KeyPair::from_pkcs8(&der)
            .map_err(|_| anyhow::anyhow!("{} is not an Ed25519 PKCS#8 key", path.display()))?;
        let key_id = key_id(pair.public_key().as_ref());
        Ok(Self { pair, key_id })
    }

    pub(crate) fn public_key(&self) -> String {
        B64.encode(self.pair.public_key().as_ref())
    }

    pub(crate) fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Signs `document` (serialised once, here) as a `kind` envelope.
    pub(crate) fn sign<T: Serialize>(&self, kind: &str, document: &T) -> serde_json::Result<Envelope> {
        let payload = serde_json::to_string(document)?;
        let signature = self.pair.sign(message(kind, &payload).as_bytes());
        Ok(Envelope {
            kind: kind.to_owned(),
            payload,
            key_id: self.key_id.clone(),
            public_key: self.public_key(),
            signature: B64.encode(signature.as_ref()),
        })
    }
}

fn message(kind: &str, payload: &str) -> String {
    format!("{DOMAIN}{kind}\n{payload}")
}

fn key_id(public: &[u8]) -> String {
    hex::encode(&Sha256::digest(public)[..16])
}

impl Envelope {
    /// Checks the signature against `public_key` (base64; None: the key the envelope
    /// names, which proves integrity but not origin) and, if given, the kind; returns
    /// the payload as JSON.
    pub(crate) fn verify(
        &self,
        public_key: Option<&str>,
        kind: Option<&str>,
    ) -> Result<serde_json::Value, VerifyError> {
        let pinned = public_key.unwrap_or(&self.public_key);
        let public = B64.decode(pinned.trim()).map_err(|e| VerifyError::Malformed(format!("public key: {e}")))?;
        if key_id(&public) != self.key_id {
            return Err(VerifyError::WrongKey(self.key_id.clone()));
        }
        if let Some(expected) = kind
            && expected != self.kind
        {
            return Err(VerifyError::WrongKind { expected: expected.to_owned(), got: self.kind.clone() });
        }
        let signature = B64.decode(&self.signature).map_err(|e| VerifyError::Malformed(format!("signature: {e}")))?;
        UnparsedPublicKey::new(&ED25519, &public)
            .verify(message(&self.kind, &self.payload).as_bytes(), &signature)
            .map_err(|_| VerifyError::BadSignature)?;
        serde_json::from_str(&self.payload).map_err(|e| VerifyError::Malformed(format!("payload: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signs_verifies_and_detects_any_change() {
        let dir = tempfile::tempdir().unwrap();
        let signer = Signer::load_or_create(&dir.path().join("signing.p8")).unwrap();
        let envelope = signer.sign("vault.test", &json!({ "objects": ["a"], "n": 1 })).unwrap();
        let key = signer.public_key();
        assert_eq!(envelope.verify(Some(&key), Some("vault.test")).unwrap()["n"], 1);

        let mut altered = envelope.clone();
        altered.payload = altered.payload.replace("\"n\":1", "\"n\":2");
        assert!(matches!(altered.verify(Some(&key), None), Err(VerifyError::BadSignature)));
        let mut relabelled = envelope.clone();
        relabelled.kind = "vault.other".into();
        assert!(matches!(relabelled.verify(Some(&key), None), Err(VerifyError::BadSignature)));
        assert!(matches!(envelope.verify(Some(&key), Some("vault.other")), Err(VerifyError::WrongKind { .. })));

        // A document signed by another key fails against the pinned key.
        let other = Signer::load_or_create(&dir.path().join("other.p8")).unwrap();
        let forged = other.sign("vault.test", &json!({ "n": 1 })).unwrap();
        assert!(matches!(forged.verify(Some(&key), None), Err(VerifyError::WrongKey(_))));
        // Reloading gives the same key.
        let again = Signer::load_or_create(&dir.path().join("signing.p8")).unwrap();
        assert_eq!(again.public_key(), key);
        assert!(!format!("{again:?}").contains(&key));
    }
}
