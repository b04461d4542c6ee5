//! A test identity provider: an ES256 key whose JWKS is served over HTTP on 127.0.0.1,
//! for servers that must not trust the development issuer (the AWS backends). One per
//! test binary; tokens are minted here, as an OIDC provider would mint them.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

pub const ISSUER: &str = "https://idp.vault.test";
pub const AUDIENCE: &str = "vault-tests";
/// The page's origin, which Clerk puts in `azp`; the server accepts only this one.
pub const AUTHORIZED_PARTY: &str = "https://vault.test";
const KID: &str = "test-key-1";

pub struct TestIdp {
    pub jwks_url: String,
    pkcs8: Vec<u8>,
}

/// The binary's identity provider, started on first use.
pub fn shared() -> &'static TestIdp {
    static IDP: OnceLock<TestIdp> = OnceLock::new();
    IDP.get_or_init(TestIdp::start)
}

impl TestIdp {
    fn start() -> Self {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &SystemRandom::new()).unwrap();
        let point = pair.public_key().as_ref();
        let jwks = json!({ "keys": [{
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": KID,
            "x": B64URL.encode(&point[1..33]), "y": B64URL.encode(&point[33..65]),
        }]})
        .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let jwks_url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut head = [0u8; 4096];
                let _ = stream.read(&mut head);
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{jwks}",
                    jwks.len()
                );
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        Self { jwks_url, pkcs8: pkcs8.as_ref().to_vec() }
    }

    /// The server settings that trust this provider.
    pub fn vars(&self) -> Vec<(String, String)> {
        [
            ("VAULT_AUTH_ISSUER", ISSUER),
            ("VAULT_AUTH_JWKS_URL", self.jwks_url.as_str()),
            ("VAULT_AUTH_AUDIENCES", AUDIENCE),
            ("VAULT_AUTH_AUTHORIZED_PARTIES", AUTHORIZED_PARTY),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// The provider's published keys.
    pub fn jwks(&self) -> Value {
        reqwest::blocking::get(&self.jwks_url).unwrap().json().unwrap()
    }

    /// Signs arbitrary claims.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(KID.to_owned());
        jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_ec_der(&self.pkcs8)).unwrap()
    }

    /// A token for `user` in `family`, valid for an hour.
    pub fn token(&self, family: &str, user: &str) -> String {
        let now = crate::server::now();
        let sid = format!("sess_{:x}", rand::random::<u64>());
        self.sign(&json!({
            // An organisation administrator: the first to create a family becomes its owner.
            "iss": ISSUER, "aud": AUDIENCE, "azp": AUTHORIZED_PARTY, "sub": user, "org_id": family, "org_role": "org:admin", "sid": sid,
            "iat": now, "nbf": now, "exp": now + 3600,
        }))
    }
}
