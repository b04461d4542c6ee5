//! The local development issuer of embedded mode: an ES256 key in the data directory
//! that `vault token` signs with and the server trusts only when configured to.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::json;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::keyfile::{check_private, write_private};

/// The development issuer's key pair.
pub(crate) struct DevIssuer {
    private_der: Zeroizing<Vec<u8>>,
    /// Uncompressed P-256 point: 0x04 ‖ x ‖ y.
    public: Vec<u8>,
    kid: String,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl DevIssuer {
    pub(crate) const ISSUER: &'static str = "vault-dev";
    pub(crate) const AUDIENCE: &'static str = "vault";
    /// Dev tokens name the family here, as Clerk organisation tokens do.
    pub(crate) const FAMILY_CLAIM: &'static str = "org_id";
    pub(crate) const FILE: &'static str = "dev-issuer.p8";

    /// Loads `<dir>/dev-issuer.p8` (PKCS#8, mode 0600), creating it on first use.
    pub(crate) fn load_or_create(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(Self::FILE);
        if !path.exists() {
            let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| anyhow::anyhow!("cannot generate the development issuer key"))?;
            write_private(&path, der.as_ref())?;
        }
        check_private(&path)?;
        let der = Zeroizing::new(std::fs::read(&path)?);
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &SystemRandom::new())
            .map_err(|_| anyhow::anyhow!("{} is not a P-256 PKCS#8 key", path.display()))?;
        let public = pair.public_key().as_ref().to_vec();
        let kid = hex::encode(&Sha256::digest(&public)[..8]);
        Ok(Self { private_der: der, public, kid })
    }

    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs a token for `user` in `family`, valid for `ttl`.
    pub(crate) fn mint(
        &self,
        user: &str,
        family: Option<&str>,
        role: Option<&str>,
        ttl: Duration,
    ) -> anyhow::Result<String> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let exp = now + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
        // `sid` names the sign-in session, as Clerk's tokens do (reads are audited per session).
        let sid = uuid::Uuid::new_v4().to_string();
        let mut claims = json!({
            "iss": Self::ISSUER, "aud": Self::AUDIENCE, "sub": user, "sid": sid, "iat": now, "nbf": now, "exp": exp,
        });
        if let Some(family) = family {
            claims[Self::FAMILY_CLAIM] = json!(family);
        }
        if let Some(role) = role {
            claims["org_role"] = json!(role);
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_der(&self.private_der))?)
    }

    pub(super) fn decoding_key(&self) -> DecodingKey {
        DecodingKey::from_ec_components(&B64URL.encode(&self.public[1..33]), &B64URL.encode(&self.public[33..65]))
            .expect("a P-256 public point has valid coordinates")
    }

    /// The public key as a JWKS document.
    pub(crate) fn jwks(&self) -> serde_json::Value {
        json!({ "keys": [{
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
            "x": B64URL.encode(&self.public[1..33]), "y": B64URL.encode(&self.public[33..65]),
        }]})
    }
}
