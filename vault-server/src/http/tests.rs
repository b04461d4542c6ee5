//! The router in-process (`tower::ServiceExt::oneshot`, no socket): every refusal of
//! the upload handlers, each with its status and problem code, and that a refused part
//! leaves the upload where it was. Embedded backends in a temporary directory; tokens
//! from the development issuer.

#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "test code: a panic is a failed test")]

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use vault_core::{DataKey, EncryptedDataKey, EncryptionContext, EncryptionMaterials, Encryptor, PartPlan};

use crate::api::recordings::DataKeyGrant;
use crate::config::Config;
use crate::domain::Services;
use crate::http::{AppState, router};

/// Small frames and parts, so a short message spans several of each.
const FRAME: u32 = 1024;
const PART: u64 = 64 * 1024;

struct App {
    _dir: tempfile::TempDir,
    router: Router,
    state: AppState,
}

impl App {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
        config.uploads.frame_length = FRAME;
        config.uploads.part_size = PART;
        let state = AppState::new(Services::build(config).await.unwrap()).unwrap();
        Self { _dir: dir, router: router::app(state.clone()), state }
    }

    fn token(&self, family: &str, user: &str) -> String {
        let issuer = self.state.dev_issuer.as_ref().unwrap();
        issuer.mint(user, Some(family), Some("org:admin"), Duration::from_secs(600)).unwrap()
    }

    /// Sends one request as `token` (None: no Authorization) from 127.0.0.1.
    async fn send(&self, token: Option<&str>, request: Request<Body>) -> (StatusCode, Value) {
        let (mut parts, body) = request.into_parts();
        parts.headers.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        if let Some(token) = token {
            parts.headers.insert(header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        }
        parts.extensions.insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        let response = self.router.clone().oneshot(Request::from_parts(parts, body)).await.unwrap();
        let status = response.status();
        let is_problem = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v == "application/problem+json");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert!(status.is_success() || is_problem, "{status}: not a problem document: {value}");
        (status, value)
    }

    async fn json(&self, token: &str, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(Some(token), request).await
    }

    async fn ok(&self, token: &str, method: Method, path: &str, body: Value) -> Value {
        let (status, value) = self.json(token, method, path, body).await;
        assert!(status.is_success(), "{path}: {status} {value}");
        value
    }

    /// A family of `user` with one pending client-encrypted recording of `len` bytes.
    async fn pending(&self, family: &str, user: &str, len: usize) -> (String, Upload) {
        let token = self.token(family, user);
        if self.json(&token, Method::GET, "/v1/family", Value::Null).await.0 != StatusCode::OK {
            self.ok(&token, Method::POST, "/v1/families", json!({ "name": family })).await;
        }
        let created = self
            .ok(
                &token,
                Method::POST,
                "/v1/recordings",
                json!({ "title": "scan", "kind": "video", "content_type": "video/mp4", "plaintext_size": len,
                        "encryption": "client" }),
            )
            .await;
        (token, Upload::new(&created, len))
    }
}

/// A client's upload: the grant it was given and the message it made with it.
struct Upload {
    id: String,
    parts: Vec<Vec<u8>>,
    grant: Value,
    plan: PartPlan,
}

impl Upload {
    fn new(created: &Value, len: usize) -> Self {
        let plan = PartPlan::new(
            created["upload"]["frame_length"].as_u64().unwrap() as u32,
            created["upload"]["part_frames"].as_u64().unwrap() as u32,
        )
        .unwrap();
        let context: EncryptionContext = created["key"]["encryption_context"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let message = encrypt(&created["key"], &context, plan.frame_length(), &plaintext(len));
        Self {
            id: created["recording"]["id"].as_str().unwrap().to_owned(),
            parts: split(&plan, &message),
            grant: created["key"].clone(),
            plan,
        }
    }

    fn put(&self, n: usize, bytes: &[u8]) -> Request<Body> {
        part_request(&self.id, &n.to_string(), Some(&hex::encode(Sha256::digest(bytes))), bytes.to_vec())
    }
}

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn encrypt(key: &Value, context: &EncryptionContext, frame_length: u32, plaintext: &[u8]) -> Vec<u8> {
    // The answer read as the wire type the client reads it as.
    let grant: DataKeyGrant = serde_json::from_value(key.clone()).unwrap();
    let data_key = DataKey::try_from_slice(&B64.decode(grant.data_key.as_bytes()).unwrap()).unwrap();
    let edks = grant.encrypted_data_keys.iter().map(|e| EncryptedDataKey::try_from(e).unwrap()).collect();
    let materials = EncryptionMaterials::new(context.clone(), data_key, edks).unwrap();
    let mut encryptor = Encryptor::new(&materials, frame_length, &mut rand_core::OsRng).unwrap();
    let mut out = Vec::new();
    encryptor.update(plaintext, &mut out).unwrap();
    encryptor.finish(&mut out).unwrap();
    out
}

fn split(plan: &PartPlan, message: &[u8]) -> Vec<Vec<u8>> {
    let header_len = match vault_core::ParsedHeader::parse(message, &vault_core::DecryptPolicy::default()).unwrap() {
        vault_core::HeaderParse::Complete(h) => h.len() as u64,
        vault_core::HeaderParse::NeedMore(_) => panic!("incomplete header"),
    };
    let ranges = plan.part_ranges(header_len, message.len() as u64);
    ranges.map(|r| message[r.start as usize..r.end as usize].to_vec()).collect()
}

fn part_request(id: &str, n: &str, sha256: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut request = Request::builder()
        .method(Method::PUT)
        .uri(format!("/v1/recordings/{id}/parts/{n}"))
        .header(header::CONTENT_LENGTH, body.len());
    if let Some(sha) = sha256 {
        request = request.header("x-vault-sha256", sha);
    }
    request.body(Body::from(body)).unwrap()
}

/// The problem code of an answer (`urn:vault:<code>`).
fn code(answer: &Value) -> &str {
    answer["type"].as_str().and_then(|t| t.strip_prefix("urn:vault:")).unwrap_or("")
}

async fn next_part(app: &App, token: &str, id: &str) -> u64 {
    let status = app.ok(token, Method::GET, &format!("/v1/recordings/{id}/upload"), Value::Null).await;
    status["next_part"].as_u64().unwrap()
}

#[tokio::test]
async fn every_refusal_of_a_part_has_its_status_and_code_and_changes_nothing() {
    let app = App::start().await;
    let len = 3 * PART as usize + 100;
    let (token, up) = app.pending("smiths", "alice", len).await;
    assert!(up.parts.len() >= 4, "{}", up.parts.len());
    let id = up.id.as_str();
    let sha = |b: &[u8]| hex::encode(Sha256::digest(b));

    let mut flipped = up.parts[0].clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let foreign = {
        let context = EncryptionContext::for_vault_object("evil", id);
        split(&up.plan, &encrypt(&up.grant, &context, FRAME, &plaintext(len)))[0].clone()
    };
    let wrong_frames = {
        let context = EncryptionContext::for_vault_object("smiths", id);
        split(&up.plan, &encrypt(&up.grant, &context, FRAME / 2, &plaintext(len)))[0].clone()
    };
    let too_long = up.parts[..3].concat();
    let mut no_length = part_request(id, "1", Some(&sha(&up.parts[0])), up.parts[0].clone());
    no_length.headers_mut().remove(header::CONTENT_LENGTH);
    // A body that ends early: inside a frame, or after a whole frame.
    let short = |len: usize| {
        let mut request = part_request(id, "1", Some(&sha(&up.parts[0])), up.parts[0][..len].to_vec());
        request.headers_mut().insert(header::CONTENT_LENGTH, up.parts[0].len().into());
        request
    };
    let (mid_frame, on_boundary) = (up.parts[0].len() - 100, up.parts[0].len() - up.plan.frame_bytes() as usize);
    let cases: Vec<(&str, Request<Body>, StatusCode, &str)> = vec![
        ("no checksum", part_request(id, "1", None, up.parts[0].clone()), StatusCode::BAD_REQUEST, "bad-request"),
        (
            "a checksum that is not hex",
            part_request(id, "1", Some("zz"), up.parts[0].clone()),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            "a checksum of other bytes",
            part_request(id, "1", Some(&sha(b"x")), up.parts[0].clone()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "checksum-mismatch",
        ),
        ("no Content-Length", no_length, StatusCode::LENGTH_REQUIRED, "length-required"),
        ("a body that ends inside a frame", short(mid_frame), StatusCode::UNPROCESSABLE_ENTITY, "invalid-ciphertext"),
        ("a body that ends between frames", short(on_boundary), StatusCode::UNPROCESSABLE_ENTITY, "invalid-ciphertext"),
        (
            "part 0",
            part_request(id, "0", Some(&sha(&up.parts[0])), up.parts[0].clone()),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            "a part number that is not a number",
            part_request(id, "one", Some(&sha(&up.parts[0])), up.parts[0].clone()),
            StatusCode::BAD_REQUEST,
            "invalid-path",
        ),
        (
            "a part number past u32",
            part_request(id, "4294967296", Some(&sha(&up.parts[0])), up.parts[0].clone()),
            StatusCode::BAD_REQUEST,
            "invalid-path",
        ),
        ("part 2 before part 1 (retried once it is in)", up.put(2, &up.parts[1]), StatusCode::CONFLICT, "upload-busy"),
        ("more bytes than a part holds", up.put(1, &too_long), StatusCode::PAYLOAD_TOO_LARGE, "too-large"),
        ("one bit flipped", up.put(1, &flipped), StatusCode::UNPROCESSABLE_ENTITY, "invalid-ciphertext"),
        ("another family's context", up.put(1, &foreign), StatusCode::UNPROCESSABLE_ENTITY, "invalid-ciphertext"),
        ("frames of another length", up.put(1, &wrong_frames), StatusCode::UNPROCESSABLE_ENTITY, "invalid-ciphertext"),
        (
            "random bytes",
            up.put(1, &plaintext(up.parts[0].len())),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-ciphertext",
        ),
        (
            "an unknown recording",
            part_request(&uuid::Uuid::new_v4().to_string(), "1", Some(&sha(&up.parts[0])), up.parts[0].clone()),
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        (
            "a recording id that is not an id",
            part_request("..%2f..", "1", Some(&sha(&up.parts[0])), up.parts[0].clone()),
            StatusCode::NOT_FOUND,
            "not-found",
        ),
    ];
    for (what, request, status, want) in cases {
        let (got, answer) = app.send(Some(&token), request).await;
        assert_eq!((got, code(&answer)), (status, want), "{what}: {answer}");
        assert_eq!(next_part(&app, &token, id).await, 1, "{what} changed the upload");
    }
    // No token, and a token of someone else.
    let (got, answer) = app.send(None, up.put(1, &up.parts[0])).await;
    assert_eq!((got, code(&answer)), (StatusCode::UNAUTHORIZED, "unauthenticated"));
    let (jones, _) = app.pending("jones", "carol", 10).await;
    let (got, answer) = app.send(Some(&jones), up.put(1, &up.parts[0])).await;
    assert_eq!((got, code(&answer)), (StatusCode::NOT_FOUND, "not-found"), "another family's member: {answer}");
    // Another member of the same family, who did not create the recording.
    app.ok(&token, Method::POST, "/v1/family/members", json!({ "user_id": "bob", "role": "admin" })).await;
    let bob = app.token("smiths", "bob");
    let (got, answer) = app.send(Some(&bob), up.put(1, &up.parts[0])).await;
    assert_eq!((got, code(&answer)), (StatusCode::FORBIDDEN, "forbidden"), "not its creator: {answer}");
    assert_eq!(next_part(&app, &token, id).await, 1);

    // The right parts still go in (part 1 first); then the refusals of a stored part.
    let (got, _) = app.send(Some(&token), up.put(1, &up.parts[0])).await;
    assert_eq!(got, StatusCode::OK);
    let (got, _) = app.send(Some(&token), up.put(1, &up.parts[0])).await;
    assert_eq!(got, StatusCode::OK, "the same part again is accepted once more (a retry)");
    let mut other = up.parts[0].clone();
    other[10] ^= 1;
    let (got, answer) = app.send(Some(&token), up.put(1, &other)).await;
    assert_eq!((got, code(&answer)), (StatusCode::CONFLICT, "conflict"), "part 1 with other content: {answer}");
    for (n, part) in up.parts.iter().enumerate().skip(1) {
        let (got, answer) = app.send(Some(&token), up.put(n + 1, part)).await;
        assert_eq!(got, StatusCode::OK, "part {}: {answer}", n + 1);
    }
    let extra = up.parts.len() + 1;
    let (got, answer) = app.send(Some(&token), up.put(extra, &up.parts[1])).await;
    assert_eq!((got, code(&answer)), (StatusCode::BAD_REQUEST, "bad-request"), "a part after the final one: {answer}");
    let done = app.ok(&token, Method::POST, &format!("/v1/recordings/{id}/complete"), json!({})).await;
    assert_eq!(done["status"], "committed");
    let (got, answer) = app.send(Some(&token), up.put(1, &up.parts[0])).await;
    assert_eq!((got, code(&answer)), (StatusCode::CONFLICT, "conflict"), "a part of a committed recording: {answer}");
}

#[tokio::test]
async fn refusals_of_status_complete_and_plaintext() {
    let app = App::start().await;
    let (token, up) = app.pending("smiths", "alice", 2 * PART as usize).await;
    let id = up.id.as_str();
    // Completing with no parts, or with the final part missing.
    let (got, answer) = app.json(&token, Method::POST, &format!("/v1/recordings/{id}/complete"), json!({})).await;
    assert_eq!((got, code(&answer)), (StatusCode::CONFLICT, "conflict"), "nothing uploaded: {answer}");
    app.send(Some(&token), up.put(1, &up.parts[0])).await;
    let (got, answer) = app.json(&token, Method::POST, &format!("/v1/recordings/{id}/complete"), json!({})).await;
    assert_eq!((got, code(&answer)), (StatusCode::CONFLICT, "conflict"), "final part missing: {answer}");
    // Plaintext for a recording the client encrypts.
    let plain = Request::builder()
        .method(Method::PUT)
        .uri(format!("/v1/recordings/{id}/plaintext"))
        .header(header::CONTENT_LENGTH, 10)
        .body(Body::from(vec![0u8; 10]))
        .unwrap();
    let (got, answer) = app.send(Some(&token), plain).await;
    assert_eq!((got, code(&answer)), (StatusCode::CONFLICT, "conflict"), "plaintext for a client upload: {answer}");
    // Parts for a recording the server encrypts; plaintext of the wrong length.
    let created = app
        .ok(
            &token,
            Method::POST,
            "/v1/recordings",
            json!({ "title": "letter", "kind": "letter", "content_type": "text/plain", "plaintext_size": 20, "encryption": "server" }),
        )
        .await;
    let server_id = created["recording"]["id"].as_str().unwrap();
    let (got, answer) = app.send(Some(&token), part_request(server_id, "1", Some(&"00".repeat(32)), vec![1; 10])).await;
    assert_eq!((got, code(&answer)), (StatusCode::CONFLICT, "conflict"), "a part for a server upload: {answer}");
    let wrong_length = Request::builder()
        .method(Method::PUT)
        .uri(format!("/v1/recordings/{server_id}/plaintext"))
        .header(header::CONTENT_LENGTH, 19)
        .body(Body::from(vec![0u8; 19]))
        .unwrap();
    let (got, answer) = app.send(Some(&token), wrong_length).await;
    assert!(got == StatusCode::BAD_REQUEST || got == StatusCode::UNPROCESSABLE_ENTITY, "{got}: {answer}");
    // Another family cannot read the upload's status.
    let (jones, _) = app.pending("jones", "carol", 10).await;
    let (got, answer) = app.json(&jones, Method::GET, &format!("/v1/recordings/{id}/upload"), Value::Null).await;
    assert_eq!((got, code(&answer)), (StatusCode::NOT_FOUND, "not-found"), "another family's recording: {answer}");
}
