#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "test code: a panic is a failed test")]
//! The service end to end: a real `vault serve` on 127.0.0.1, real HTTP.

mod common;
mod harness;

use std::process::Command;

use harness::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use vault_core::{BodyLayout, DecryptPolicy, HeaderParse, ParsedHeader, RangeDecryptor};

fn verified(message: &[u8], key: &vault_core::DataKey) -> vault_core::VerifiedHeader {
    match ParsedHeader::parse(message, &DecryptPolicy::default()).unwrap() {
        HeaderParse::Complete(h) => h.verify(key).unwrap(),
        HeaderParse::NeedMore(_) => panic!("incomplete header"),
    }
}

#[test]
fn client_side_upload_list_and_ranged_playback() {
    let server = Server::start();
    let alice = server.as_user("smiths", "alice");
    alice.create_family("The Smiths");
    let video = media(12 * 1024 * 1024 + 123, 7);
    let (id, message) = alice.upload("First scan", &video);

    let list = alice.ok(alice.get("/v1/recordings"));
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["title"], "First scan");
    let meta = alice.ok(alice.get(&format!("/v1/recordings/{id}")));
    assert_eq!(meta["ciphertext_size"], message.len());
    assert_eq!(meta["sha256"], hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&message)));

    // Whole download: the stored bytes are exactly what the browser sent.
    let whole = alice.get(&format!("/v1/recordings/{id}/content"));
    assert_eq!(whole.status(), StatusCode::OK);
    let etag = whole.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(whole.bytes().unwrap().as_ref(), message.as_slice());
    let key = alice.data_key(&id);
    assert_eq!(decrypt_all(&message, &key, "smiths", &id), video);

    // Seeking: fetch only the frames of a plaintext range, decrypt them alone.
    let header = verified(&message, &key);
    let layout = BodyLayout::new(&header, message.len() as u64).unwrap();
    for range in [0..1, 4095..4097, 5_000_000..5_300_000, video.len() as u64 - 10..video.len() as u64] {
        let span = layout.locate(range.clone()).unwrap();
        let response = alice
            .req(Method::GET, &format!("/v1/recordings/{id}/content"))
            .header("range", format!("bytes={}-{}", span.ciphertext.start, span.ciphertext.end - 1))
            .send()
            .unwrap();
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            response.headers()["content-range"].to_str().unwrap(),
            format!("bytes {}-{}/{}", span.ciphertext.start, span.ciphertext.end - 1, message.len())
        );
        let bytes = response.bytes().unwrap();
        let mut rd = RangeDecryptor::new(&header, &layout, span);
        let mut out = Vec::new();
        rd.update(&bytes, &mut out).unwrap();
        rd.finish().unwrap();
        assert_eq!(out, video[range.start as usize..range.end as usize]);
    }
    // Suffix range, unsatisfiable range, conditional requests.
    let tail =
        alice.req(Method::GET, &format!("/v1/recordings/{id}/content")).header("range", "bytes=-16").send().unwrap();
    assert_eq!(tail.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(tail.bytes().unwrap().as_ref(), &message[message.len() - 16..]);
    let bad = alice
        .req(Method::GET, &format!("/v1/recordings/{id}/content"))
        .header("range", format!("bytes={}-", message.len()))
        .send()
        .unwrap();
    assert_eq!(bad.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(bad.headers()["content-range"].to_str().unwrap(), format!("bytes */{}", message.len()));
    let cached =
        alice.req(Method::GET, &format!("/v1/recordings/{id}/content")).header("if-none-match", &etag).send().unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);

    // Audit: creation, commit, download and key release are on record.
    let audit = alice.ok(alice.get("/v1/family/audit"));
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    for expected in
        ["family.created", "recording.created", "recording.committed", "recording.downloaded", "key.released"]
    {
        assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
    }
    let row = &audit["items"][0];
    assert_eq!(row["actor"], "alice");
    assert_eq!(row["ip"], "127.0.0.1");
    assert!(!row["request_id"].as_str().unwrap().is_empty());
}

#[test]
fn server_side_encryption_streams_plaintext_in() {
    let server = Server::start();
    let bob = server.as_user("jones", "bob");
    bob.create_family("Joneses");
    let audio = media(11 * 1024 * 1024 + 5, 3);
    let created = bob.create_recording("Grandpa's story", audio.len(), "server");
    assert!(created.get("key").is_none(), "no data key for server-side encryption");
    let id = created["recording"]["id"].as_str().unwrap();
    // Wrong length refused up front.
    let short =
        bob.req(Method::PUT, &format!("/v1/recordings/{id}/plaintext")).body(audio[..10].to_vec()).send().unwrap();
    assert_eq!(short.status(), StatusCode::BAD_REQUEST);
    let done =
        bob.ok(bob.req(Method::PUT, &format!("/v1/recordings/{id}/plaintext")).body(audio.clone()).send().unwrap());
    assert_eq!(done["status"], "committed");
    let message = bob.get(&format!("/v1/recordings/{id}/content")).bytes().unwrap();
    assert!(!message.windows(64).any(|w| w == &audio[1000..1064]), "the stored object holds plaintext");
    assert_eq!(decrypt_all(&message, &bob.data_key(id), "jones", id), audio);
}

#[test]
fn cli_walkthrough_matches_the_readme() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let vault = |token: &str, args: &[&str]| {
        let out = Command::new(common::vault_bin())
            .args(["client", "--server", &server.url])
            .args(args)
            .env("VAULT_TOKEN", token)
            .output()
            .unwrap();
        assert!(out.status.success(), "vault client {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let owner = server.token("garcia", "maria");
    assert_eq!(vault(&owner, &["create-family", "--name", "Garcías"]).trim(), "garcia");
    let file = dir.path().join("letter.txt");
    let letter = media(6 * 1024 * 1024 + 17, 9);
    std::fs::write(&file, &letter).unwrap();
    let id = vault(&owner, &["upload", file.to_str().unwrap(), "--title", "Letter to Ana"]).trim().to_owned();
    assert_eq!(id.len(), 36, "the upload prints only the id: {id:?}");
    let listed: Value = serde_json::from_str(&vault(&owner, &["list", "--json"])).unwrap();
    assert_eq!(listed[0]["id"], id.as_str());
    let out = dir.path().join("back.txt");
    vault(&owner, &["download", &id, "-o", out.to_str().unwrap()]);
    assert_eq!(std::fs::read(&out).unwrap(), letter);
    vault(&owner, &["invite", "--user", "ana", "--role", "member"]);
    let ana = server.token("garcia", "ana");
    let out2 = dir.path().join("ana.txt");
    vault(&ana, &["download", &id, "-o", out2.to_str().unwrap()]);
    assert_eq!(std::fs::read(&out2).unwrap(), letter);
    // Server-side path from the CLI too.
    let id2 = vault(&ana, &["upload", file.to_str().unwrap(), "--server-side"]).trim().to_owned();
    let out3 = dir.path().join("ana2.txt");
    vault(&owner, &["download", &id2, "-o", out3.to_str().unwrap()]);
    assert_eq!(std::fs::read(&out3).unwrap(), letter);
}

/// Every family route, called with another family's ids.
fn routes(id: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, format!("/v1/recordings/{id}"), None),
        (Method::DELETE, format!("/v1/recordings/{id}"), None),
        (Method::GET, format!("/v1/recordings/{id}/upload"), None),
        (Method::POST, format!("/v1/recordings/{id}/complete"), Some(json!({}))),
        (Method::POST, format!("/v1/recordings/{id}/key"), Some(json!({}))),
        (Method::GET, format!("/v1/recordings/{id}/content"), None),
        (Method::PUT, format!("/v1/recordings/{id}/parts/1"), None),
        (Method::PUT, format!("/v1/recordings/{id}/plaintext"), None),
        (Method::PATCH, "/v1/family/members/alice".to_owned(), Some(json!({ "role": "member" }))),
        (Method::DELETE, "/v1/family/members/alice".to_owned(), None),
    ]
}

#[test]
fn cross_tenant_matrix_denies_and_audits() {
    let server = Server::start();
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let (committed, _) = alice.upload("Private scan", &media(1000, 1));
    let pending = alice.create_recording("Half uploaded", 10, "client")["recording"]["id"].as_str().unwrap().to_owned();

    let mallory = server.as_user("evil", "mallory");
    mallory.create_family("Other family");
    mallory.invite("eve", "admin");
    mallory.invite("oscar", "member");
    for user in ["mallory", "eve", "oscar"] {
        let attacker = server.as_user("evil", user);
        for id in [&committed, &pending] {
            for (method, path, body) in routes(id) {
                let before = mallory.audit_count();
                let mut req = attacker.req(method.clone(), &path).header("x-vault-sha256", "00".repeat(32));
                req = match body {
                    Some(b) => req.json(&b),
                    None => req.body("x"),
                };
                let (status, text) = status(req.send().unwrap());
                assert!(
                    status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
                    "{user} {method} {path}: {status} {text}"
                );
                assert!(!text.contains("Private") && !text.contains("Half"), "{method} {path} leaked: {text}");
                assert!(mallory.audit_count() > before, "{user} {method} {path}: no audit row");
            }
        }
        // Lists show nothing of the other family.
        let list = attacker.ok(attacker.get("/v1/recordings"));
        assert!(list["items"].as_array().unwrap().is_empty());
    }
    // A token naming the Smiths, for someone who is not a member: refused and recorded in their log.
    let intruder = server.as_user("smiths", "mallory");
    let before = alice.audit_count();
    for (method, path, _) in routes(&committed) {
        let (status, _) = status(intruder.req(method.clone(), &path).send().unwrap());
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
    }
    assert_eq!(intruder.get("/v1/recordings").status(), StatusCode::FORBIDDEN);
    assert!(alice.audit_count() >= before + 11);
    // Alice's recording is untouched.
    assert_eq!(alice.ok(alice.get(&format!("/v1/recordings/{committed}")))["status"], "committed");
}

#[test]
fn bad_tokens_are_refused() {
    let server = Server::start();
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let try_token =
        |token: &str| server.http.get(format!("{}/v1/recordings", server.url)).bearer_auth(token).send().unwrap();
    let base = |exp: u64| json!({ "iss": "vault-dev", "aud": "vault", "sub": "alice", "org_id": "smiths", "exp": exp, "iat": now() });
    // Valid as crafted, to prove the crafting works.
    assert_eq!(try_token(&server.sign(&base(now() + 600))).status(), StatusCode::OK);
    let cases = [
        ("expired", server.sign(&base(now() - 3600))),
        ("wrong audience", server.sign(&json!({ "iss": "vault-dev", "aud": "other-app", "sub": "alice", "org_id": "smiths", "exp": now() + 600 }))),
        ("wrong issuer", server.sign(&json!({ "iss": "https://evil.example", "aud": "vault", "sub": "alice", "org_id": "smiths", "exp": now() + 600 }))),
        ("not yet valid", server.sign(&json!({ "iss": "vault-dev", "aud": "vault", "sub": "alice", "org_id": "smiths", "exp": now() + 6000, "nbf": now() + 3000 }))),
        ("no subject", server.sign(&json!({ "iss": "vault-dev", "aud": "vault", "org_id": "smiths", "exp": now() + 600 }))),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (what, token) in &cases {
        let response = try_token(token);
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
    }
    // Forged: signed by another server's dev key.
    let other = Server::start();
    let forged = other.token("smiths", "alice");
    assert_eq!(try_token(&forged).status(), StatusCode::UNAUTHORIZED);
    // Tampered payload: same signature, different family.
    let good = server.token("smiths", "alice");
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut payload: Value = serde_json::from_slice(&b64.decode(&parts[1]).unwrap()).unwrap();
    payload["org_id"] = json!("evil");
    parts[1] = b64.encode(payload.to_string());
    assert_eq!(try_token(&parts.join(".")).status(), StatusCode::UNAUTHORIZED);
    // No token.
    assert_eq!(
        server.http.get(format!("{}/v1/recordings", server.url)).send().unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // Failures are in the system chain, and verify cleanly.
    let out = server.vault(&["audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["chains"]["rows"].as_u64().unwrap() >= 9);
}

#[test]
fn malformed_uploads_are_refused_and_nothing_is_committed() {
    let server = Server::start();
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let plaintext = media(6 * 1024 * 1024, 2);
    let refused = |created: &Value, part: usize, bytes: &[u8], want: StatusCode, what: &str| {
        let id = created["recording"]["id"].as_str().unwrap();
        let (status, text) = status(alice.put_part(id, part, bytes));
        assert_eq!(status, want, "{what}: {text}");
        assert!(text.contains("urn:vault:"), "{what}: not a problem document: {text}");
    };

    // Random bytes instead of a header.
    let c = alice.create_recording("junk", plaintext.len(), "client");
    refused(&c, 1, &media(5000, 4), StatusCode::UNPROCESSABLE_ENTITY, "bad header");

    // Encrypted under the right key but naming another family and object.
    let c = alice.create_recording("foreign", plaintext.len(), "client");
    let mut foreign = vault_core::EncryptionContext::new();
    foreign.insert("vault:tenant", "evil").insert("vault:object", "x");
    let message = encrypt_with(&c["key"], &foreign, 4096, &plaintext);
    refused(&c, 1, &split_parts(&c, &message)[0], StatusCode::UNPROCESSABLE_ENTITY, "another tenant's context");

    // Wrong checksum for the bytes sent.
    let c = alice.create_recording("checksum", plaintext.len(), "client");
    let id = c["recording"]["id"].as_str().unwrap();
    let parts = split_parts(&c, &encrypt_for(&c, &plaintext));
    let (status_code, _) = status(
        alice
            .req(Method::PUT, &format!("/v1/recordings/{id}/parts/1"))
            .header("x-vault-sha256", "ab".repeat(32))
            .body(parts[0].clone())
            .send()
            .unwrap(),
    );
    assert_eq!(status_code, StatusCode::UNPROCESSABLE_ENTITY);
    // Out of order, then a flipped bit in an otherwise good part.
    refused(&c, 2, &parts[1], StatusCode::CONFLICT, "part 2 before part 1");
    let mut flipped = parts[0].clone();
    flipped[3000] ^= 0x10;
    refused(&c, 1, &flipped, StatusCode::UNPROCESSABLE_ENTITY, "flipped bit");
    // Truncated: the good first part, no final part → completion refused.
    alice.ok(alice.put_part(id, 1, &parts[0]));
    let (s, _) = status(alice.post(&format!("/v1/recordings/{id}/complete"), json!({})));
    assert_eq!(s, StatusCode::CONFLICT);
    // A last part cut inside a frame.
    refused(&c, 2, &parts[1][..parts[1].len() - 7], StatusCode::UNPROCESSABLE_ENTITY, "cut frame");
    // A second message's part at the right position.
    let other = split_parts(&c, &encrypt_for(&c, &plaintext));
    refused(&c, 2, &other[1], StatusCode::UNPROCESSABLE_ENTITY, "part of another message");

    // More plaintext than declared.
    let c = alice.create_recording("liar", 100, "client");
    let parts = split_parts(&c, &encrypt_for(&c, &plaintext));
    refused(&c, 1, &parts[0], StatusCode::UNPROCESSABLE_ENTITY, "more than declared");

    // Oversized part (by Content-Length) and oversized JSON.
    let c = alice.create_recording("huge", plaintext.len(), "client");
    refused(&c, 1, &vec![0u8; 6 << 20], StatusCode::PAYLOAD_TOO_LARGE, "oversized part");
    let big =
        json!({ "title": "x".repeat(100_000), "kind": "video", "content_type": "video/mp4", "plaintext_size": 1 });
    assert_eq!(alice.post("/v1/recordings", big).status(), StatusCode::PAYLOAD_TOO_LARGE);
    let too_big = json!({ "title": "x", "kind": "video", "content_type": "video/mp4", "plaintext_size": 1u64 << 50 });
    assert_eq!(alice.post("/v1/recordings", too_big).status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(alice.post("/v1/recordings", json!({ "title": "x" })).status(), StatusCode::UNPROCESSABLE_ENTITY);

    // None of it is listed or served.
    assert!(alice.ok(alice.get("/v1/recordings"))["items"].as_array().unwrap().is_empty());
    assert_eq!(alice.get(&format!("/v1/recordings/{id}/content")).status(), StatusCode::CONFLICT);
    // The server still works.
    alice.upload("fine", &plaintext);
}

#[test]
fn killed_mid_upload_resumes_and_abandoned_uploads_expire() {
    let mut server = Server::start_with(&[("VAULT_UPLOAD_TTL_SECS", "6"), ("VAULT_UPLOAD_SWEEP_SECS", "1")]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let video = media(11 * 1024 * 1024, 5);
    let created = alice.create_recording("interrupted", video.len(), "client");
    let id = created["recording"]["id"].as_str().unwrap().to_owned();
    let parts = split_parts(&created, &encrypt_for(&created, &video));
    assert!(parts.len() >= 3);
    alice.ok(alice.put_part(&id, 1, &parts[0]));
    // Die in the middle of part 2's body.
    let url = format!("{}/v1/recordings/{id}/parts/2", server.url);
    let token = alice.token.clone();
    let part2 = parts[1].clone();
    let sender = std::thread::spawn(move || {
        let slow = futures_free_slow_body(part2);
        client().put(url).bearer_auth(token).header("x-vault-sha256", "00".repeat(32)).body(slow).send()
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    server.kill_and_restart();
    let _ = sender.join();
    let alice = Api { base: server.url.clone(), ..alice };
    // Nothing partial is listed or served.
    assert!(alice.ok(alice.get("/v1/recordings"))["items"].as_array().unwrap().is_empty());
    assert_eq!(alice.get(&format!("/v1/recordings/{id}/content")).status(), StatusCode::CONFLICT);
    let status_now = alice.ok(alice.get(&format!("/v1/recordings/{id}/upload")));
    assert_eq!(status_now["next_part"], 2, "resume from the last stored part");
    for (i, part) in parts.iter().enumerate().skip(1) {
        alice.ok(alice.put_part(&id, i + 1, part));
    }
    alice.ok(alice.post(&format!("/v1/recordings/{id}/complete"), json!({})));
    let message = alice.get(&format!("/v1/recordings/{id}/content")).bytes().unwrap();
    assert_eq!(decrypt_all(&message, &alice.data_key(&id), "smiths", &id), video);

    // An abandoned upload expires: not resumable, not listed, parts removed.
    let created = alice.create_recording("abandoned", video.len(), "client");
    let gone = created["recording"]["id"].as_str().unwrap().to_owned();
    let parts = split_parts(&created, &encrypt_for(&created, &video));
    alice.ok(alice.put_part(&gone, 1, &parts[0]));
    std::thread::sleep(std::time::Duration::from_secs(9));
    let (s, _) = status(alice.put_part(&gone, 2, &parts[1]));
    assert!(s == StatusCode::NOT_FOUND || s == StatusCode::GONE, "{s}");
    assert_eq!(alice.get(&format!("/v1/recordings/{gone}")).status(), StatusCode::NOT_FOUND);
    assert_eq!(server.store_uploads(), 0, "expired parts left behind");
    let audit = alice.ok(alice.get("/v1/family/audit"));
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "upload.expired" && r["target"] == gone.as_str())
    );
}

/// A request body that trickles out, so the server is mid-body when killed.
fn futures_free_slow_body(bytes: Vec<u8>) -> reqwest::blocking::Body {
    struct Slow(Vec<u8>, usize);
    impl std::io::Read for Slow {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.1 >= self.0.len() {
                return Ok(0);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            let n = buf.len().min(64 * 1024).min(self.0.len() - self.1);
            buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }
    let len = bytes.len() as u64;
    reqwest::blocking::Body::sized(Slow(bytes, 0), len)
}

#[test]
fn roles_and_membership_rules() {
    let server = Server::start();
    let owner = server.as_user("smiths", "alice");
    owner.create_family("Smiths");
    assert_eq!(owner.post("/v1/families", json!({ "name": "again" })).status(), StatusCode::CONFLICT);
    owner.invite("bob", "admin");
    owner.invite("carol", "member");
    let admin = server.as_user("smiths", "bob");
    let member = server.as_user("smiths", "carol");
    // Members upload and play back, but do not manage.
    let (id, _) = member.upload("carol's", &media(5000, 8));
    member.data_key(&id);
    assert_eq!(
        member.post("/v1/family/members", json!({ "user_id": "dave", "role": "member" })).status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(member.get("/v1/family/audit").status(), StatusCode::FORBIDDEN);
    // Admins manage members but not owners.
    assert_eq!(
        admin.post("/v1/family/members", json!({ "user_id": "dave", "role": "owner" })).status(),
        StatusCode::FORBIDDEN
    );
    admin.invite("dave", "member");
    assert_eq!(
        admin.post("/v1/family/members", json!({ "user_id": "dave", "role": "member" })).status(),
        StatusCode::CONFLICT
    );
    let (s, _) = status(admin.req(Method::DELETE, "/v1/family/members/alice").send().unwrap());
    assert_eq!(s, StatusCode::FORBIDDEN);
    admin.ok(admin.req(Method::PATCH, "/v1/family/members/dave").json(&json!({ "role": "admin" })).send().unwrap());
    // The last owner stays.
    let (s, _) = status(owner.req(Method::DELETE, "/v1/family/members/alice").send().unwrap());
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) =
        status(owner.req(Method::PATCH, "/v1/family/members/alice").json(&json!({ "role": "member" })).send().unwrap());
    assert_eq!(s, StatusCode::CONFLICT);
    owner.ok(owner.req(Method::PATCH, "/v1/family/members/bob").json(&json!({ "role": "owner" })).send().unwrap());
    owner.ok(owner.req(Method::DELETE, "/v1/family/members/alice").send().unwrap());
    // Alice is out: her token no longer opens anything.
    assert_eq!(owner.get("/v1/recordings").status(), StatusCode::FORBIDDEN);
    // Deleting revokes access at once; a member may not delete another's recording.
    let (bobs, _) = admin.upload("bob's", &media(3000, 9));
    assert_eq!(
        member.req(Method::DELETE, &format!("/v1/recordings/{bobs}")).send().unwrap().status(),
        StatusCode::FORBIDDEN
    );
    admin.ok(admin.req(Method::DELETE, &format!("/v1/recordings/{id}")).send().unwrap());
    assert_eq!(member.get(&format!("/v1/recordings/{id}/content")).status(), StatusCode::NOT_FOUND);
    assert_eq!(member.post(&format!("/v1/recordings/{id}/key"), json!({})).status(), StatusCode::NOT_FOUND);
}

#[test]
fn key_release_is_rate_limited() {
    let server = Server::start_with(&[("VAULT_KEY_RELEASES_PER_MINUTE", "3")]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let (id, _) = alice.upload("x", &media(100, 1));
    let codes: Vec<StatusCode> =
        (0..6).map(|_| alice.post(&format!("/v1/recordings/{id}/key"), json!({})).status()).collect();
    assert_eq!(codes.iter().filter(|c| **c == StatusCode::OK).count(), 3, "{codes:?}");
    assert!(codes.contains(&StatusCode::TOO_MANY_REQUESTS));
}

#[test]
fn audit_verify_detects_a_row_edited_in_the_database() {
    let server = Server::start();
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    alice.upload("x", &media(100, 1));
    alice.invite("bob", "member");
    let out = server.vault(&["audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The database itself refuses edits...
    let refused = server.sql("UPDATE audit_log SET actor = 'nobody' WHERE tenant = 'smiths' AND seq = 2");
    assert!(refused.unwrap_err().contains("append-only"));
    let refused = server.sql("DELETE FROM audit_log WHERE tenant = 'smiths'");
    assert!(refused.unwrap_err().contains("append-only"));
    // ...and an operator who drops the trigger first is caught by the chain.
    server.drop_audit_triggers();
    server.sql("UPDATE audit_log SET actor = 'nobody' WHERE tenant = 'smiths' AND seq = 2").unwrap();
    let out = server.vault(&["audit", "verify"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("\"smiths\"") && stderr.contains("row 2"), "{stderr}");
}

#[test]
fn development_sign_in_only_on_embedded_loopback() {
    let server = Server::start();
    let config: Value = server.http.get(format!("{}/web-config.json", server.url)).send().unwrap().json().unwrap();
    assert_eq!(config["dev_sign_in"], true);
    let mint = |body: Value| server.http.post(format!("{}/dev/token", server.url)).json(&body).send().unwrap();
    let res = mint(json!({ "user_id": "alice", "family_id": "smiths" }));
    assert_eq!(res.status(), StatusCode::OK);
    let token = res.json::<Value>().unwrap()["token"].as_str().unwrap().to_owned();
    let created = server
        .http
        .post(format!("{}/v1/families", server.url))
        .bearer_auth(&token)
        .json(&json!({ "name": "S" }))
        .send()
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED, "the minted token is accepted");
    assert_eq!(mint(json!({ "user_id": "a b", "family_id": "smiths" })).status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        mint(json!({ "user_id": "a", "family_id": "s", "admin": true })).status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // With an external identity provider the development issuer, and its sign-in, are off.
    let external = Server::start_with(&[
        ("VAULT_AUTH_ISSUER", "https://idp.example"),
        ("VAULT_AUTH_AUDIENCES", "vault"),
        ("VAULT_AUTH_SIGN_IN_URL", "https://idp.example/sign-in"),
    ]);
    let config: Value = external.http.get(format!("{}/web-config.json", external.url)).send().unwrap().json().unwrap();
    assert_eq!(
        (config["dev_sign_in"].clone(), config["sign_in_url"].clone()),
        (json!(false), json!("https://idp.example/sign-in"))
    );
    let res = external
        .http
        .post(format!("{}/dev/token", external.url))
        .json(&json!({ "user_id": "a", "family_id": "s" }))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[test]
fn openapi_document_matches_the_routes() {
    let server = Server::start();
    let doc: Value = server.http.get(format!("{}/openapi.json", server.url)).send().unwrap().json().unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 15);
    let mut operations = 0;
    for (path, methods) in paths {
        for (method, op) in methods.as_object().unwrap() {
            operations += 1;
            let concrete = path
                .replace("{id}", "00000000-0000-0000-0000-000000000000")
                .replace("{user_id}", "u")
                .replace("{part}", "1")
                .replace("{token}", "0000");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let status =
                server.http.request(method.clone(), format!("{}{concrete}", server.url)).send().unwrap().status();
            if op.get("security").is_some() {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
            } else if path == "/v1/exports/{token}" {
                // An export link: public, and an unknown one is simply not found.
                assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
            } else if method == Method::POST {
                // The development sign-in: exists, but needs a JSON body.
                assert!(status.is_client_error() && status != StatusCode::NOT_FOUND, "{method} {path}: {status}");
            } else {
                assert_eq!(status, StatusCode::OK, "{method} {path}");
            }
        }
    }
    assert!(operations >= 19);
    // And what is not documented does not exist.
    for (method, path) in [(Method::GET, "/v1/families"), (Method::PUT, "/v1/recordings"), (Method::GET, "/v1/admin")] {
        let status = server.http.request(method.clone(), format!("{}{path}", server.url)).send().unwrap().status();
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {status}"
        );
    }
}

#[test]
fn operations_endpoints_headers_and_graceful_shutdown() {
    let mut server = Server::start();
    let get = |p: &str| server.http.get(format!("{}{p}", server.url)).send().unwrap();
    assert_eq!(get("/healthz").status(), StatusCode::OK);
    assert_eq!(get("/readyz").status(), StatusCode::OK);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    alice.upload("x", &media(100, 1));
    let metrics = get("/metrics").text().unwrap();
    assert!(metrics.contains("vault_uploads_committed_total 1"), "{metrics}");
    assert!(metrics.contains("route=\"/v1/recordings/{id}/complete\""));
    let r = alice.get("/v1/recordings");
    for header in
        ["x-content-type-options", "content-security-policy", "x-frame-options", "referrer-policy", "x-request-id"]
    {
        assert!(r.headers().contains_key(header), "{header} missing");
    }
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(!r.headers().contains_key("access-control-allow-origin"), "CORS is off by default");
    let status = server.terminate();
    assert!(status.success(), "graceful shutdown exits 0: {status}");
}

#[test]
fn invalid_configuration_fails_at_start_with_a_clear_message() {
    let out = Command::new(common::vault_bin())
        .arg("serve")
        .env("VAULT_DATA_DIR", tempfile::tempdir().unwrap().path())
        .env("VAULT_RETENTION_DAYS", "soon")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("VAULT_RETENTION_DAYS"), "{stderr}");
}

/// An RSA key pair made with openssl, and its public JWK.
fn rsa_key(dir: &std::path::Path, kid: &str) -> (jsonwebtoken::EncodingKey, Value) {
    use base64::Engine;
    let pem = dir.join(format!("{kid}.pem"));
    assert!(Command::new("openssl").args(["genrsa", "-out"]).arg(&pem).arg("2048").output().unwrap().status.success());
    let modulus = Command::new("openssl").args(["rsa", "-noout", "-modulus", "-in"]).arg(&pem).output().unwrap();
    let hex_n = String::from_utf8(modulus.stdout).unwrap().trim().trim_start_matches("Modulus=").to_owned();
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hex::decode(hex_n).unwrap());
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&std::fs::read(&pem).unwrap()).unwrap();
    (key, json!({ "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": "AQAB" }))
}

#[test]
fn external_oidc_issuer_with_rs256_jwks_rotation_and_refresh_limits() {
    let idp = tempfile::tempdir().unwrap();
    let (k1, jwk1) = rsa_key(idp.path(), "k1");
    let (k2, jwk2) = rsa_key(idp.path(), "k2");
    std::fs::write(idp.path().join("jwks.json"), json!({ "keys": [jwk1] }).to_string()).unwrap();
    // A real HTTP server for the JWKS; its request log counts fetches.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = idp.path().join("requests.log");
    let python = std::env::var("VAULT_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut jwks_server = Command::new(python)
        .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1"])
        .current_dir(idp.path())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let fetches = || std::fs::read_to_string(&log).unwrap_or_default().matches("GET /jwks.json").count();
    let jwks_url = format!("http://127.0.0.1:{port}/jwks.json");
    for _ in 0..50 {
        if reqwest::blocking::get(&jwks_url).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let server = Server::start_with(&[
        ("VAULT_AUTH_ISSUER", "https://idp.example"),
        ("VAULT_AUTH_JWKS_URL", &jwks_url),
        ("VAULT_AUTH_AUDIENCES", "vault-app"),
        ("VAULT_AUTH_JWKS_MIN_REFRESH_SECS", "1"),
    ]);
    let token = |key: &jsonwebtoken::EncodingKey, kid: &str, aud: &str| {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        let claims = json!({ "iss": "https://idp.example", "aud": aud, "sub": "user_2abc", "org_id": "org_77", "exp": now() + 600 });
        jsonwebtoken::encode(&header, &claims, key).unwrap()
    };
    let call = |t: &str| server.http.get(format!("{}/v1/family", server.url)).bearer_auth(t).send().unwrap().status();
    let api = Api { base: server.url.clone(), token: token(&k1, "k1", "vault-app"), http: server.http.clone() };
    api.create_family("Org family");
    assert_eq!(call(&token(&k1, "k1", "vault-app")), StatusCode::OK);
    assert_eq!(call(&token(&k1, "k1", "other-app")), StatusCode::UNAUTHORIZED);
    // The dev issuer is not trusted when an external issuer is configured.
    assert_eq!(call(&server.token("org_77", "user_2abc")), StatusCode::UNAUTHORIZED);
    // k2 signs before the JWKS lists it: unknown key. Then the provider rotates.
    assert_eq!(call(&token(&k2, "k2", "vault-app")), StatusCode::UNAUTHORIZED);
    std::fs::write(idp.path().join("jwks.json"), json!({ "keys": [jwk1, jwk2] }).to_string()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(call(&token(&k2, "k2", "vault-app")), StatusCode::OK, "refreshed on an unknown kid");
    // Made-up kids cannot make the server hammer the provider.
    let before = fetches();
    for i in 0..20 {
        assert_eq!(call(&token(&k2, &format!("forged-{i}"), "vault-app")), StatusCode::UNAUTHORIZED);
    }
    assert!(fetches() - before <= 1, "{} fetches for 20 unknown kids", fetches() - before);
    // k1 signing under k2's kid: bad signature.
    assert_eq!(call(&token(&k1, "k2", "vault-app")), StatusCode::UNAUTHORIZED);
    let _ = jwks_server.kill();
    let _ = jwks_server.wait();
}

#[test]
fn graceful_shutdown_drains_an_upload_under_way() {
    let mut server = Server::start();
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let video = media(3 * 1024 * 1024, 4);
    let created = alice.create_recording("draining", video.len(), "client");
    let id = created["recording"]["id"].as_str().unwrap().to_owned();
    let parts = split_parts(&created, &encrypt_for(&created, &video));
    assert_eq!(parts.len(), 1);
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&parts[0]));
    let url = format!("{}/v1/recordings/{id}/parts/1", server.url);
    let token = alice.token.clone();
    let body = parts[0].clone();
    // About 2.5 s of trickling body; SIGTERM arrives in the middle.
    let sender = std::thread::spawn(move || {
        client()
            .put(url)
            .bearer_auth(token)
            .header("x-vault-sha256", sha)
            .body(futures_free_slow_body(body))
            .send()
            .unwrap()
            .status()
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let exit = server.terminate();
    assert_eq!(sender.join().unwrap(), StatusCode::OK, "the upload under way finished");
    assert!(exit.success(), "{exit}");
    // After a restart the stored part is there and the upload completes.
    server.kill_and_restart();
    let alice = Api { base: server.url.clone(), ..alice };
    alice.ok(alice.post(&format!("/v1/recordings/{id}/complete"), json!({})));
}
