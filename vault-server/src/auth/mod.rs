//! Bearer-token authentication: JWTs from an OIDC provider (Clerk or any other,
//! verified against its JWKS) or from the local development issuer.
//!
//! Only RS256 and ES256 are accepted, and only with a key of the matching type:
//! `none`, HMAC and algorithm-confusion tokens fail. `iss`, `aud`/`azp`, `exp`,
//! `nbf` and `sub` are checked. What the token does *not* decide is membership or
//! role: the database does (`middleware::caller`).

mod dev_issuer;
mod dev_sign_in;
mod jwks;
#[cfg(test)]
mod tests;

pub(crate) use dev_issuer::DevIssuer;
pub(crate) use dev_sign_in::DevSignIn;

use std::collections::HashSet;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;

use jwks::JwksCache;

/// Who may issue tokens, and what they must say.
#[derive(Debug, Clone)]
pub(crate) struct AuthConfig {
    pub issuer: Option<ExternalIssuer>,
    /// The claim naming the family (Clerk: `org_id`).
    pub family_claim: String,
    /// The claim naming the caller's role at the identity provider (Clerk: `org_role`).
    pub role_claim: String,
    pub leeway_secs: u64,
    /// Least time between two JWKS fetches (unknown `kid`s cannot force more).
    pub jwks_min_refresh_secs: u64,
}

/// An external OIDC issuer.
#[derive(Debug, Clone)]
pub(crate) struct ExternalIssuer {
    pub issuer: String,
    pub jwks_url: String,
    /// If non-empty, `aud` must hold one of these.
    pub audiences: Vec<String>,
    /// If non-empty, `azp` must be one of these (Clerk sets `azp` to the page's origin).
    pub authorized_parties: Vec<String>,
}

/// What a verified token says about the caller.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub issuer: String,
    pub subject: String,
    pub family: Option<String>,
    /// The caller's role at the identity provider (`auth.role_claim`), if the token says.
    /// It decides nothing inside a family (the membership table does); it only gates
    /// who may create a family's vault.
    pub idp_role: Option<String>,
    /// The sign-in session: the token's `sid` (Clerk's session id; the development
    /// issuer sets one per token), else a digest of the token. Hashed, never the token.
    pub session: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("malformed token")]
    Malformed,
    #[error("token issuer is not trusted")]
    UnknownIssuer,
    #[error("token signed by an unknown key")]
    UnknownKey,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token audience is not accepted")]
    WrongAudience,
    #[error("token lacks the {0} claim")]
    MissingClaim(&'static str),
    #[error("token subject holds invisible or control characters")]
    UnusableSubject,
    #[error("identity provider keys unavailable")]
    Unavailable,
}

const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Verifies bearer tokens.
pub(crate) struct Verifier {
    config: AuthConfig,
    dev: Option<Arc<DevIssuer>>,
    jwks: Option<JwksCache>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.config.issuer.as_ref().map(|i| &i.issuer))
            .finish_non_exhaustive()
    }
}

/// Only the claims we read; the rest is ignored.
#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    azp: Option<String>,
    sid: Option<String>,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct UnverifiedIssuer {
    iss: Option<String>,
}

impl Verifier {
    pub(crate) fn new(config: AuthConfig, dev: Option<Arc<DevIssuer>>, http: reqwest::Client) -> anyhow::Result<Self> {
        if let Some(issuer) = &config.issuer
            && issuer.audiences.is_empty()
            && issuer.authorized_parties.is_empty()
        {
            anyhow::bail!("the external issuer needs audiences or authorized parties");
        }
        let jwks = config.issuer.as_ref().map(|i| {
            JwksCache::new(i.jwks_url.clone(), http, std::time::Duration::from_secs(config.jwks_min_refresh_secs))
        });
        Ok(Self { config, dev, jwks })
    }

    /// The token of an `Authorization: Bearer …` header value.
    pub(crate) fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
        let value = header.ok_or(AuthError::Missing)?;
        let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(AuthError::Malformed);
        }
        Ok(token.trim())
    }

    pub(crate) async fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::Malformed);
        }
        let header = decode_header(token).map_err(|_| AuthError::Malformed)?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(AuthError::BadSignature);
        }
        // The unverified `iss` only picks the keys; validation then requires it.
        let iss = unverified_issuer(token)?;
        let (key, audiences, parties): (DecodingKey, Vec<String>, Vec<String>) = match (&self.dev, &self.config.issuer)
        {
            (Some(dev), _) if iss == DevIssuer::ISSUER => {
                if header.alg != Algorithm::ES256 || header.kid.as_deref() != Some(dev.kid()) {
                    return Err(AuthError::UnknownKey);
                }
                (dev.decoding_key(), vec![DevIssuer::AUDIENCE.to_owned()], Vec::new())
            }
            (_, Some(ext)) if iss == ext.issuer => {
                let kid = header.kid.as_deref().ok_or(AuthError::UnknownKey)?;
                let jwks = self.jwks.as_ref().ok_or(AuthError::UnknownIssuer)?;
                let key = jwks.key(kid, header.alg).await?;
                (key, ext.audiences.clone(), ext.authorized_parties.clone())
            }
            _ => return Err(AuthError::UnknownIssuer),
        };
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.config.leeway_secs;
        validation.validate_nbf = true;
        validation.iss = Some(HashSet::from([iss.clone()]));
        if audiences.is_empty() {
            validation.set_required_spec_claims(&["exp", "iss"]);
            validation.validate_aud = false;
        } else {
            // Required, not only checked when present: jsonwebtoken skips the audience
            // check for a token that has none.
            validation.set_required_spec_claims(&["exp", "iss", "aud"]);
            validation.set_audience(&audiences);
        }
        let data = decode::<Claims>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::ExpiredSignature => AuthError::Expired,
                K::ImmatureSignature => AuthError::NotYetValid,
                K::InvalidAudience => AuthError::WrongAudience,
                K::InvalidIssuer => AuthError::UnknownIssuer,
                K::InvalidSignature | K::InvalidAlgorithm | K::InvalidKeyFormat => AuthError::BadSignature,
                K::MissingRequiredClaim(_) => AuthError::Malformed,
                _ => AuthError::Malformed,
            }
        })?;
        let claims = data.claims;
        if !parties.is_empty() && !claims.azp.as_ref().is_some_and(|azp| parties.contains(azp)) {
            return Err(AuthError::WrongAudience);
        }
        let subject = claims.sub.filter(|s| !s.is_empty()).ok_or(AuthError::MissingClaim("sub"))?;
        let claim = if iss == DevIssuer::ISSUER { DevIssuer::FAMILY_CLAIM } else { self.config.family_claim.as_str() };
        if !crate::text::is_visible_id(&subject) {
            // A subject with invisible or direction-changing characters could pass for
            // another member in the members list and the audit log.
            return Err(AuthError::UnusableSubject);
        }
        let family = claims.other.get(claim).and_then(|v| v.as_str()).map(str::to_owned);
        let role_claim = if iss == DevIssuer::ISSUER { "org_role" } else { self.config.role_claim.as_str() };
        let idp_role = claims.other.get(role_claim).and_then(|v| v.as_str()).map(str::to_owned);
        let session = {
            use sha2::{Digest, Sha256};
            let seed = claims.sid.as_deref().unwrap_or(token);
            hex::encode(&Sha256::digest(format!("{iss}\n{seed}").as_bytes())[..12])
        };
        Ok(Identity { issuer: iss, subject, family, idp_role, session })
    }
}

fn unverified_issuer(token: &str) -> Result<String, AuthError> {
    use base64::Engine;
    let payload = token.split('.').nth(1).ok_or(AuthError::Malformed)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).map_err(|_| AuthError::Malformed)?;
    let parsed: UnverifiedIssuer = serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)?;
    parsed.iss.ok_or(AuthError::MissingClaim("iss"))
}
