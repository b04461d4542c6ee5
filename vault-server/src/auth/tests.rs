//! The verifier against crafted tokens: every claim it checks, the algorithm-confusion
//! attacks it must refuse, and an external issuer's `azp` and key rules (its JWKS
//! served from 127.0.0.1).

#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Value, json};

use super::*;

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn config(issuer: Option<ExternalIssuer>) -> AuthConfig {
    AuthConfig {
        issuer,
        family_claim: "org_id".into(),
        role_claim: "org_role".into(),
        leeway_secs: 30,
        jwks_min_refresh_secs: 0,
    }
}

/// A P-256 key pair in `dir` (the development issuer's format) and its private key.
fn key_pair(dir: &Path) -> (DevIssuer, EncodingKey) {
    let issuer = DevIssuer::load_or_create(dir).unwrap();
    let der = std::fs::read(dir.join("dev-issuer.p8")).unwrap();
    (issuer, EncodingKey::from_ec_der(&der))
}

fn es256(key: &EncodingKey, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    encode(&header, claims, key).unwrap()
}

/// A development-issuer verifier, its key, and valid claims for alice in smiths.
struct Dev {
    _dir: tempfile::TempDir,
    issuer: Arc<DevIssuer>,
    key: EncodingKey,
    verifier: Verifier,
}

impl Dev {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (issuer, key) = key_pair(dir.path());
        let issuer = Arc::new(issuer);
        let verifier = Verifier::new(config(None), Some(issuer.clone()), reqwest::Client::new()).unwrap();
        Self { _dir: dir, issuer, key, verifier }
    }

    fn claims(&self) -> Value {
        json!({ "iss": DevIssuer::ISSUER, "aud": DevIssuer::AUDIENCE, "sub": "alice", "org_id": "smiths",
                "exp": now() + 600, "iat": now() })
    }

    fn edited(&self, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
        let mut claims = self.claims();
        edit(claims.as_object_mut().unwrap());
        es256(&self.key, self.issuer.kid(), &claims)
    }

    async fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        self.verifier.verify(token).await
    }
}

#[tokio::test]
async fn a_valid_token_names_its_subject_family_and_session() {
    let dev = Dev::new();
    let id = dev.verify(&dev.edited(|c| drop(c.insert("sid".into(), json!("s1"))))).await.unwrap();
    assert_eq!((id.issuer.as_str(), id.subject.as_str(), id.family.as_deref()), ("vault-dev", "alice", Some("smiths")));
    // The session is the `sid`'s digest: two tokens of one sign-in share it.
    let again = dev.verify(&dev.edited(|c| drop(c.insert("sid".into(), json!("s1"))))).await.unwrap();
    assert_eq!(id.session, again.session);
    assert_ne!(id.session, "s1");
    // Minted by the issuer itself, with a role.
    let minted = dev.issuer.mint("bob", Some("smiths"), Some("org:admin"), std::time::Duration::from_secs(60)).unwrap();
    let id = dev.verify(&minted).await.unwrap();
    assert_eq!((id.subject.as_str(), id.idp_role.as_deref()), ("bob", Some("org:admin")));
}

#[tokio::test]
async fn claims_out_of_bounds_are_refused_each_for_its_reason() {
    let dev = Dev::new();
    let cases: Vec<(&str, String, AuthError)> = vec![
        (
            "expired beyond the leeway",
            dev.edited(|c| drop(c.insert("exp".into(), json!(now() - 120)))),
            AuthError::Expired,
        ),
        ("not yet valid", dev.edited(|c| drop(c.insert("nbf".into(), json!(now() + 600)))), AuthError::NotYetValid),
        ("another audience", dev.edited(|c| drop(c.insert("aud".into(), json!("other")))), AuthError::WrongAudience),
        ("no audience", dev.edited(|c| drop(c.remove("aud"))), AuthError::Malformed),
        ("no expiry", dev.edited(|c| drop(c.remove("exp"))), AuthError::Malformed),
        (
            "another issuer",
            dev.edited(|c| drop(c.insert("iss".into(), json!("https://evil.example")))),
            AuthError::UnknownIssuer,
        ),
        ("no issuer", dev.edited(|c| drop(c.remove("iss"))), AuthError::MissingClaim("iss")),
        ("no subject", dev.edited(|c| drop(c.remove("sub"))), AuthError::MissingClaim("sub")),
        ("an empty subject", dev.edited(|c| drop(c.insert("sub".into(), json!("")))), AuthError::MissingClaim("sub")),
        (
            "a zero-width subject",
            dev.edited(|c| drop(c.insert("sub".into(), json!("ali\u{200b}ce")))),
            AuthError::UnusableSubject,
        ),
        ("an oversized token", "a".repeat(MAX_TOKEN_LEN + 1), AuthError::Malformed),
        ("not a JWT", "not.a.jwt".into(), AuthError::Malformed),
    ];
    for (what, token, want) in cases {
        assert_eq!(dev.verify(&token).await.err(), Some(want), "{what}");
    }
    // Within the leeway, an expired token still passes (clocks drift).
    assert!(dev.verify(&dev.edited(|c| drop(c.insert("exp".into(), json!(now() - 10))))).await.is_ok());
}

#[tokio::test]
async fn algorithm_confusion_and_foreign_keys_are_refused() {
    let dev = Dev::new();
    let claims = B64URL.encode(dev.claims().to_string());
    let header = |h: Value| B64URL.encode(h.to_string());
    let kid = dev.issuer.kid().to_owned();
    // `alg: none`, with and without a signature part.
    for token in [
        format!("{}.{claims}.", header(json!({ "alg": "none", "kid": kid }))),
        format!("{}.{claims}", header(json!({ "alg": "none", "kid": kid }))),
    ] {
        assert!(dev.verify(&token).await.is_err(), "{token}");
    }
    // HS256 keyed with the public key as published (the classic confusion).
    let public = dev.issuer.jwks()["keys"][0].to_string();
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(kid.clone());
    let token = encode(&hs, &dev.claims(), &EncodingKey::from_secret(public.as_bytes())).unwrap();
    assert_eq!(dev.verify(&token).await.err(), Some(AuthError::BadSignature));
    // ES384 is not accepted either.
    let token = format!("{}.{claims}.AAAA", header(json!({ "alg": "ES384", "kid": kid })));
    assert_eq!(dev.verify(&token).await.err(), Some(AuthError::BadSignature));
    // RS256 under the EC key's kid: the development issuer signs only ES256.
    let token = format!("{}.{claims}.AAAA", header(json!({ "alg": "RS256", "kid": kid })));
    assert_eq!(dev.verify(&token).await.err(), Some(AuthError::UnknownKey));
    // Another P-256 key claiming this issuer's kid; and this key under another kid.
    let other = tempfile::tempdir().unwrap();
    let (_, foreign) = key_pair(other.path());
    assert_eq!(dev.verify(&es256(&foreign, &kid, &dev.claims())).await.err(), Some(AuthError::BadSignature));
    assert_eq!(dev.verify(&es256(&dev.key, "other", &dev.claims())).await.err(), Some(AuthError::UnknownKey));
    // A valid signature over other claims: the payload swapped in.
    let good = es256(&dev.key, &kid, &dev.claims());
    let mut parts: Vec<&str> = good.split('.').collect();
    let evil = B64URL.encode(
        json!({ "iss": "vault-dev", "aud": "vault", "sub": "alice", "org_id": "evil", "exp": now() + 600 }).to_string(),
    );
    parts[1] = &evil;
    assert_eq!(dev.verify(&parts.join(".")).await.err(), Some(AuthError::BadSignature));
}

#[test]
fn only_a_bearer_authorization_header_carries_a_token() {
    assert_eq!(Verifier::bearer(None), Err(AuthError::Missing));
    assert_eq!(Verifier::bearer(Some("Basic YWxpY2U6cHc=")), Err(AuthError::Malformed));
    assert_eq!(Verifier::bearer(Some("Bearer ")), Err(AuthError::Malformed));
    assert_eq!(Verifier::bearer(Some("Bearer")), Err(AuthError::Malformed));
    assert_eq!(Verifier::bearer(Some("bearer abc")), Ok("abc"));
}

/// Serves `jwks` at `http://127.0.0.1:<port>/jwks.json` for the test's lifetime.
async fn serve_jwks(jwks: Value) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/jwks.json", axum::routing::get(move || async move { axum::Json(jwks) }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

const PROVIDER: &str = "https://clerk.vault.test";
const PAGE: &str = "https://vault.example.com";

#[tokio::test]
async fn an_external_issuer_needs_its_authorized_party_and_its_own_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (provider, key) = key_pair(dir.path());
    let jwks_url = serve_jwks(provider.jwks()).await;
    let issuer = ExternalIssuer {
        issuer: PROVIDER.into(),
        jwks_url,
        audiences: Vec::new(),
        authorized_parties: vec![PAGE.into()],
    };
    let verifier = Verifier::new(config(Some(issuer)), None, reqwest::Client::new()).unwrap();
    let claims = |azp: Option<&str>| {
        let mut c = json!({ "iss": PROVIDER, "sub": "user_1", "org_id": "org_1", "exp": now() + 600 });
        if let Some(azp) = azp {
            c["azp"] = json!(azp);
        }
        c
    };
    let id = verifier.verify(&es256(&key, provider.kid(), &claims(Some(PAGE)))).await.unwrap();
    assert_eq!((id.issuer.as_str(), id.family.as_deref()), (PROVIDER, Some("org_1")));
    for (what, azp) in [
        ("no azp", None),
        ("another page", Some("https://evil.example")),
        ("a prefix", Some("https://vault.example.co")),
    ] {
        let token = es256(&key, provider.kid(), &claims(azp));
        assert_eq!(verifier.verify(&token).await.err(), Some(AuthError::WrongAudience), "{what}");
    }
    // A kid the provider does not publish; no kid at all; the development issuer's
    // tokens when it is not enabled.
    assert_eq!(
        verifier.verify(&es256(&key, "rotated-away", &claims(Some(PAGE)))).await.err(),
        Some(AuthError::UnknownKey)
    );
    let no_kid = encode(&Header::new(Algorithm::ES256), &claims(Some(PAGE)), &key).unwrap();
    assert_eq!(verifier.verify(&no_kid).await.err(), Some(AuthError::UnknownKey));
    let dev = Dev::new();
    assert_eq!(
        verifier.verify(&es256(&dev.key, dev.issuer.kid(), &dev.claims())).await.err(),
        Some(AuthError::UnknownIssuer)
    );
    // RS256 claimed for the provider's EC key.
    let claims_b64 = B64URL.encode(claims(Some(PAGE)).to_string());
    let header = B64URL.encode(json!({ "alg": "RS256", "kid": provider.kid() }).to_string());
    assert_eq!(verifier.verify(&format!("{header}.{claims_b64}.AAAA")).await.err(), Some(AuthError::BadSignature));
}

#[tokio::test]
async fn an_unreachable_key_set_is_unavailable_not_unauthenticated() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let issuer = ExternalIssuer {
        issuer: PROVIDER.into(),
        jwks_url: format!("http://{closed}/jwks.json"),
        audiences: vec!["vault".into()],
        authorized_parties: Vec::new(),
    };
    let verifier = Verifier::new(config(Some(issuer)), None, reqwest::Client::new()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (provider, key) = key_pair(dir.path());
    let token =
        es256(&key, provider.kid(), &json!({ "iss": PROVIDER, "aud": "vault", "sub": "u", "exp": now() + 600 }));
    assert_eq!(verifier.verify(&token).await.err(), Some(AuthError::Unavailable));
}

#[test]
fn an_external_issuer_without_audiences_or_parties_is_a_configuration_error() {
    let issuer = ExternalIssuer {
        issuer: PROVIDER.into(),
        jwks_url: "http://127.0.0.1:1/jwks.json".into(),
        audiences: Vec::new(),
        authorized_parties: Vec::new(),
    };
    assert!(Verifier::new(config(Some(issuer)), None, reqwest::Client::new()).is_err());
}
