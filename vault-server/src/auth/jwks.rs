//! The external issuer's signing keys, fetched from its JWKS and cached by `kid`.
//!
//! An unknown `kid` triggers a refresh (the provider rotated keys), but at most one
//! per `min_refresh` (30 s by default), so tokens with made-up kids cannot make us hammer the
//! provider; a failed refresh keeps the keys we have.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::Mutex;

use super::AuthError;

const MAX_AGE: Duration = Duration::from_secs(3600);
const MAX_BODY: usize = 64 * 1024;

struct Cached {
    keys: HashMap<String, (Algorithm, DecodingKey)>,
    fetched: Option<Instant>,
}

pub(super) struct JwksCache {
    url: String,
    http: reqwest::Client,
    min_refresh: Duration,
    state: Mutex<Cached>,
}

impl JwksCache {
    pub(super) fn new(url: String, http: reqwest::Client, min_refresh: Duration) -> Self {
        Self { url, http, min_refresh, state: Mutex::new(Cached { keys: HashMap::new(), fetched: None }) }
    }

    /// The key for `kid`, refreshing when it is unknown or the cache is old.
    pub(super) async fn key(&self, kid: &str, alg: Algorithm) -> Result<DecodingKey, AuthError> {
        // One refresh at a time: waiters find the fresh keys when the lock frees.
        let mut state = self.state.lock().await;
        let stale = state.fetched.is_none_or(|t| t.elapsed() > MAX_AGE);
        let unknown = !state.keys.contains_key(kid);
        let may_refresh = state.fetched.is_none_or(|t| t.elapsed() >= self.min_refresh);
        if (stale || unknown) && may_refresh {
            match self.fetch().await {
                Ok(keys) => {
                    state.keys = keys;
                    state.fetched = Some(Instant::now());
                }
                Err(e) => {
                    tracing::warn!(url = %self.url, error = %e, "cannot refresh the identity provider's keys");
                    if state.keys.is_empty() {
                        return Err(AuthError::Unavailable);
                    }
                    // Try again no sooner than `min_refresh` from now.
                    state.fetched = Some(Instant::now());
                }
            }
        }
        match state.keys.get(kid) {
            Some((key_alg, key)) if *key_alg == alg => Ok(key.clone()),
            Some(_) => Err(AuthError::BadSignature),
            None => Err(AuthError::UnknownKey),
        }
    }

    async fn fetch(&self) -> anyhow::Result<HashMap<String, (Algorithm, DecodingKey)>> {
        let response = self.http.get(&self.url).timeout(Duration::from_secs(5)).send().await?.error_for_status()?;
        if response.content_length().is_some_and(|n| n > MAX_BODY as u64) {
            anyhow::bail!("JWKS larger than {MAX_BODY} bytes");
        }
        let body = response.bytes().await?;
        if body.len() > MAX_BODY {
            anyhow::bail!("JWKS larger than {MAX_BODY} bytes");
        }
        let set: JwkSet = serde_json::from_slice(&body)?;
        let mut keys = HashMap::new();
        for jwk in set.keys {
            let Some(kid) = jwk.common.key_id.clone() else { continue };
            if jwk.common.public_key_use.as_ref().is_some_and(|u| *u != PublicKeyUse::Signature) {
                continue;
            }
            let alg = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Algorithm::ES256,
                _ => continue,
            };
            if let Ok(key) = DecodingKey::from_jwk(&jwk) {
                keys.insert(kid, (alg, key));
            }
        }
        Ok(keys)
    }
}
