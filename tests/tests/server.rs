#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "test code: a panic is a failed test")]
//! The service end to end: a real `vault serve` on 127.0.0.1, real HTTP.

use std::process::Command;

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest;
use vault_core::{BodyLayout, DecryptPolicy, HeaderParse, ParsedHeader, RangeDecryptor};
use vault_tests::aws::{PRIMARY_REGION, REPLICA_REGION};
use vault_tests::openapi::Contract;
use vault_tests::*;

fn verified(message: &[u8], key: &vault_core::DataKey) -> vault_core::VerifiedHeader {
    match ParsedHeader::parse(message, &DecryptPolicy::default()).unwrap() {
        HeaderParse::Complete(h) => h.verify(key).unwrap(),
        HeaderParse::NeedMore(_) => panic!("incomplete header"),
    }
}

fn client_side_upload_list_and_ranged_playback(backend: Backend) {
    let server = Server::start(backend);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("The Smiths");
    let video = media(12 * 1024 * 1024 + 123, 7);
    let (id, message) = alice.upload("First scan", &video);

    let list = alice.ok(alice.get("/v1/recordings"));
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["title"], "First scan");
    let meta = alice.ok(alice.get(&format!("/v1/recordings/{id}")));
    assert_eq!(meta["ciphertext_size"], message.len());
    assert_eq!(meta["sha256"], hex::encode(sha2::Sha256::digest(&message)));

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

fn server_side_encryption_streams_plaintext_in(backend: Backend) {
    let server = Server::start(backend);
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

fn cli_walkthrough_matches_the_readme(backend: Backend) {
    let server = Server::start(backend);
    let dir = tempfile::tempdir().unwrap();
    let vault = |token: &str, args: &[&str]| {
        let out = Command::new(vault_bin())
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

fn a_development_token_renews_only_itself_for_this_machine(backend: Backend) {
    let server = Server::start(backend);
    let ana = server.as_user("ortiz", "ana");
    ana.create_family("Ortiz");
    let renew =
        |api: &Api, ttl: u64| api.req(Method::POST, "/dev/renew").json(&json!({ "ttl_secs": ttl })).send().unwrap();
    if backend == Backend::Aws {
        // No development issuer with the AWS backends: nothing to renew here.
        assert_eq!(renew(&ana, 60).status(), StatusCode::NOT_FOUND);
        return;
    }
    let answer = ana.ok(renew(&ana, 120));
    assert_eq!(answer["expires_in"], 120);
    let fresh = answer["token"].as_str().unwrap().to_owned();
    assert_ne!(fresh, ana.token);
    let claims = |token: &str| -> Value {
        serde_json::from_slice(
            &Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, token.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    let (old, new) = (claims(&ana.token), claims(&fresh));
    assert_eq!(
        (&new["sub"], &new["org_id"], &new["iss"]),
        (&old["sub"], &old["org_id"], &old["iss"]),
        "the same person and family"
    );
    assert_eq!(new["exp"].as_i64().unwrap() - new["iat"].as_i64().unwrap(), 120);
    let renewed = Api { token: fresh, ..ana.clone() };
    assert_eq!(renewed.ok(renewed.get("/v1/family"))["id"], "ortiz");
    // Not through a proxy, not without a valid token.
    let forwarded =
        ana.req(Method::POST, "/dev/renew").header("x-forwarded-for", "203.0.113.9").json(&json!({})).send().unwrap();
    assert_eq!(forwarded.status(), StatusCode::FORBIDDEN);
    let anonymous = Api { token: "not-a-token".into(), ..ana.clone() };
    assert_eq!(renew(&anonymous, 60).status(), StatusCode::UNAUTHORIZED);
}

fn the_cli_speaks_to_newcomers_in_plain_words(backend: Backend) {
    let server = Server::start(backend);
    let dir = tempfile::tempdir().unwrap();
    let vault = |token: &str, args: &[&str]| {
        Command::new(vault_bin())
            .args(["client", "--server", &server.url])
            .args(args)
            .env("VAULT_TOKEN", token)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let text = |out: &std::process::Output| String::from_utf8_lossy(&out.stdout).into_owned();
    let err = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();
    let maria = server.token("lopez", "maria");
    // Before the family exists: what to do, not only "403".
    let before = vault(&maria, &["family"]);
    assert!(!before.status.success());
    assert!(err(&before).contains("create-family --name"), "{}", err(&before));
    assert!(vault(&maria, &["create-family", "--name", "López"]).status.success());
    // An invitation link, printed for sending; the relative joins with it.
    let made = vault(&maria, &["invite-link", "--name", "Grandpa Joe", "--role", "member"]);
    assert!(made.status.success(), "{}", err(&made));
    let link = text(&made).trim().to_owned();
    assert!(link.starts_with(&format!("{}/#invite=", server.url)) && link.ends_with("&family=lopez"), "{link}");
    assert!(err(&made).contains("works once, until"), "{}", err(&made));
    let joe = server.token("lopez", "joe");
    let joined = vault(&joe, &["join", &link]);
    assert!(joined.status.success(), "{}", err(&joined));
    assert_eq!(text(&joined).trim(), "lopez\tmember");
    let again = vault(&server.token("lopez", "eve"), &["join", &link]);
    assert!(!again.status.success() && err(&again).contains("used already"), "{}", err(&again));
    let file = dir.path().join("story.txt");
    let story = media(3 * 1024 * 1024 + 5, 4);
    std::fs::write(&file, &story).unwrap();
    let id = text(&vault(&maria, &["upload", file.to_str().unwrap(), "--title", "Story"])).trim().to_owned();
    // share: a link for someone without an account; its secret stays in the printed link.
    let shared = vault(&maria, &["share", &id, "--name", "Grandpa Joe", "--allow-download", "--max-views", "3"]);
    assert!(shared.status.success(), "{}", err(&shared));
    assert!(err(&shared).contains("anyone with this link can watch until"), "{}", err(&shared));
    let link = text(&shared).trim().to_owned();
    let fragment = link.strip_prefix(&format!("{}/share.html#", server.url)).unwrap_or_else(|| panic!("{link}"));
    let (link_id, secret) = fragment.split_once('.').unwrap();
    let secret: [u8; 32] = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(secret).unwrap().try_into().unwrap();
    let opened: Value =
        server.http.post(format!("{}/v1/links/{link_id}/open", server.url)).send().unwrap().json().unwrap();
    let key = vault_core::link::wrapping_key(link_id, &secret, None);
    let sealed =
        base64::engine::general_purpose::STANDARD.decode(opened["recordings"][0]["sealed"].as_str().unwrap()).unwrap();
    let item: Value =
        serde_json::from_slice(&vault_core::link::open(&key, link_id, "lopez", &sealed).unwrap()).unwrap();
    assert_eq!(
        (item["recording"].as_str(), item["title"].as_str(), item["name"].as_str()),
        (Some(id.as_str()), Some("Story"), Some("Story.txt"))
    );
    let maria_api =
        Api { base: server.url.clone(), token: maria.clone(), http: server.http.clone(), host: None, delivery: None };
    let data_key = base64::engine::general_purpose::STANDARD.decode(item["data_key"].as_str().unwrap()).unwrap();
    assert_eq!(data_key, maria_api.data_key(&id).expose(), "the recording's own data key, sealed under the link");
    let listed = text(&vault(&maria, &["links"]));
    assert!(listed.contains(&format!("{link_id}\tGrandpa Joe\tactive\t1 views")), "{listed}");
    // With a passphrase: the items do not open with the secret alone.
    let locked = Command::new(vault_bin())
        .args(["client", "--server", &server.url, "share", &id, "--name", "Aunt May", "--passphrase"])
        .env("VAULT_TOKEN", &maria)
        .env("VAULT_SHARE_PASSPHRASE", "blue whale 42")
        .output()
        .unwrap();
    assert!(locked.status.success(), "{}", err(&locked));
    let (locked_id, locked_secret) = text(&locked)
        .trim()
        .rsplit_once('#')
        .unwrap()
        .1
        .split_once('.')
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .unwrap();
    let opened: Value =
        server.http.post(format!("{}/v1/links/{locked_id}/open", server.url)).send().unwrap().json().unwrap();
    assert_eq!(
        (opened["passphrase"]["algorithm"].as_str(), opened["passphrase"]["memory_kib"].as_u64()),
        (Some("argon2id"), Some(65536))
    );
    let secret: [u8; 32] =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(locked_secret).unwrap().try_into().unwrap();
    let sealed =
        base64::engine::general_purpose::STANDARD.decode(opened["recordings"][0]["sealed"].as_str().unwrap()).unwrap();
    assert!(
        vault_core::link::open(
            &vault_core::link::wrapping_key(&locked_id, &secret, None),
            &locked_id,
            "lopez",
            &sealed
        )
        .is_err()
    );
    assert!(vault(&maria, &["unshare", link_id]).status.success());
    let gone = server.http.post(format!("{}/v1/links/{link_id}/open", server.url)).send().unwrap();
    assert_eq!(gone.status(), StatusCode::GONE);
    // list: sizes and dates for people.
    let listed = text(&vault(&maria, &["list"]));
    let line = listed.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(line.contains("\t3.0 MiB\t"), "{line}");
    assert!(line.contains(&format!("\t{}-", time::OffsetDateTime::now_utc().year())), "an RFC 3339 date: {line}");
    // audit: times, not epoch milliseconds.
    let audit = text(&vault(&maria, &["audit"]));
    let first = audit.lines().next().unwrap();
    assert!(first.split('\t').nth(1).unwrap().ends_with('Z'), "{first}");
    // download -o - writes the plaintext to stdout, and no file named "-".
    let to_stdout = vault(&maria, &["download", &id, "-o", "-"]);
    assert!(to_stdout.status.success(), "{}", err(&to_stdout));
    assert_eq!(to_stdout.stdout, story);
    assert!(!dir.path().join("-").exists());
    // download never overwrites without being asked.
    let existing = dir.path().join("kept.txt");
    std::fs::write(&existing, b"mine").unwrap();
    let refused = vault(&maria, &["download", &id, "-o", existing.to_str().unwrap()]);
    assert!(!refused.status.success() && err(&refused).contains("--force"), "{}", err(&refused));
    assert_eq!(std::fs::read(&existing).unwrap(), b"mine");
    assert!(vault(&maria, &["download", &id, "-o", existing.to_str().unwrap(), "--force"]).status.success());
    assert_eq!(std::fs::read(&existing).unwrap(), story);
    // delete moves to the trash, with its end date; restore brings it back.
    let trashed = vault(&maria, &["delete", &id]);
    assert!(trashed.status.success(), "{}", err(&trashed));
    assert!(text(&trashed).contains("moved to the trash; erased after "), "{}", text(&trashed));
    assert!(!text(&vault(&maria, &["list"])).contains(&id), "not in the library while in the trash");
    assert!(text(&vault(&maria, &["trash"])).contains(&id));
    assert!(!vault(&maria, &["download", &id, "-o", "-"]).status.success(), "no bytes from the trash");
    assert!(vault(&maria, &["restore", &id]).status.success());
    assert!(text(&vault(&maria, &["list"])).contains(&id));
    let needs_forever = vault(&maria, &["delete", &id, "--receipt", "x.json"]);
    assert!(!needs_forever.status.success() && err(&needs_forever).contains("--forever"), "{}", err(&needs_forever));
    // delete --forever keeps the signed receipt, and it verifies.
    let receipt = dir.path().join("receipt.json");
    let deleted = vault(&maria, &["delete", &id, "--forever", "--receipt", receipt.to_str().unwrap(), "--json"]);
    assert!(deleted.status.success(), "{}", err(&deleted));
    let printed: Value = serde_json::from_slice(&deleted.stdout).unwrap();
    let saved: Value = serde_json::from_slice(&std::fs::read(&receipt).unwrap()).unwrap();
    assert_eq!(printed, saved);
    let signing: Value = server.as_user("lopez", "maria").get("/v1/signing-key").json().unwrap();
    let verified = Command::new(vault_bin())
        .args(["verify-receipt", receipt.to_str().unwrap(), "--public-key", signing["public_key"].as_str().unwrap()])
        .output()
        .unwrap();
    assert!(verified.status.success(), "{}", err(&verified));
    assert!(text(&verified).contains(&id), "the receipt names the recording: {}", text(&verified));
    // vault token in a folder without the server's data: a hint, and no new key there.
    let elsewhere = tempfile::tempdir().unwrap();
    let token = Command::new(vault_bin())
        .args(["token", "--family", "lopez", "--user", "maria"])
        .current_dir(elsewhere.path())
        .env_remove("VAULT_DATA_DIR")
        .output()
        .unwrap();
    assert!(!token.status.success());
    assert!(err(&token).contains("where `vault serve` keeps its data"), "{}", err(&token));
    assert!(!elsewhere.path().join("vault-data").exists(), "no stray data directory");
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
        (Method::POST, format!("/v1/recordings/{id}/trash"), Some(json!({}))),
        (Method::POST, format!("/v1/recordings/{id}/restore"), Some(json!({}))),
        (Method::PATCH, "/v1/family/members/alice".to_owned(), Some(json!({ "role": "member" }))),
        (Method::DELETE, "/v1/family/members/alice".to_owned(), None),
    ]
}

fn cross_tenant_matrix_denies_and_audits(backend: Backend) {
    let server = Server::start(backend);
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
        assert!(attacker.ok(attacker.get("/v1/trash")).as_array().unwrap().is_empty());
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
    // A studio's staff, on their own and as a contributor to their own delivery:
    // every route of the Smiths' recordings is refused, and recorded (in the studio's
    // log, or the delivery's family's where the contributor works).
    let refusals = || server.sql("SELECT COUNT(*) FROM audit_log WHERE actor = 'ana' AND outcome = 'denied'").unwrap();
    let studio = server.as_user("lumen", "ana");
    studio.ok(studio.post("/v1/studios", json!({ "name": "Lumen" })));
    let delivery = studio.ok(studio.post("/v1/studio/deliveries", json!({ "customer": "Garcías" })));
    let contributor = studio.in_delivery(delivery["id"].as_str().unwrap());
    for attacker in [&studio, &contributor] {
        for id in [&committed, &pending] {
            for (method, path, body) in routes(id) {
                let before = refusals();
                let mut req = attacker.req(method.clone(), &path).header("x-vault-sha256", "00".repeat(32));
                req = match body {
                    Some(b) => req.json(&b),
                    None => req.body("x"),
                };
                let (status, text) = status(req.send().unwrap());
                assert!(
                    status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
                    "studio {method} {path}: {status} {text}"
                );
                assert!(!text.contains("Private") && !text.contains("Half"), "{method} {path} leaked: {text}");
                assert_ne!(refusals(), before, "studio {method} {path}: no audit row");
            }
        }
    }
    assert!(contributor.ok(contributor.get("/v1/recordings"))["items"].as_array().unwrap().is_empty());
    // A link viewer (no account) holding a view of another family's link: the Smiths'
    // recordings are not in it, and the view is no token for any family route.
    let (theirs, _) = mallory.upload("Evil's own", &media(1000, 2));
    let link_id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 16]);
    let sealed = base64::engine::general_purpose::STANDARD.encode(b"sealed under the link's secret");
    let link = json!({ "id": link_id, "name": "viewer", "recordings": [{ "recording_id": theirs, "sealed": sealed }] });
    mallory.ok(mallory.post("/v1/family/links", link));
    let anyone = |method: Method, path: &str| client().request(method, format!("{}{path}", server.url));
    let opened: Value = anyone(Method::POST, &format!("/v1/links/{link_id}/open")).send().unwrap().json().unwrap();
    let view = opened["view"].as_str().unwrap().to_owned();
    for id in [&committed, &pending] {
        let read = anyone(Method::GET, &format!("/v1/links/{link_id}/recordings/{id}/content"))
            .header("x-vault-view", &view)
            .header("range", "bytes=0-9")
            .send()
            .unwrap();
        assert_eq!(read.status(), StatusCode::NOT_FOUND, "a recording not in the link");
        for (method, path, _) in routes(id) {
            let (status, text) = status(anyone(method.clone(), &path).bearer_auth(&view).send().unwrap());
            assert_eq!(status, StatusCode::UNAUTHORIZED, "viewer {method} {path}: {text}");
        }
    }
    let mine = anyone(Method::GET, &format!("/v1/links/{link_id}/recordings/{theirs}/content"))
        .header("x-vault-view", &view)
        .header("range", "bytes=0-9")
        .send()
        .unwrap();
    assert_eq!(mine.status(), StatusCode::PARTIAL_CONTENT, "what the link holds is readable");
    // Alice's recording is untouched.
    assert_eq!(alice.ok(alice.get(&format!("/v1/recordings/{committed}")))["status"], "committed");
}

fn bad_tokens_are_refused(backend: Backend) {
    let server = Server::start(backend);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let try_token =
        |token: &str| server.http.get(format!("{}/v1/recordings", server.url)).bearer_auth(token).send().unwrap();
    let claims = |edit: &dyn Fn(&mut Value)| {
        let mut claims = server.claims("smiths", "alice", now() + 600);
        edit(&mut claims);
        claims
    };
    let b64 = |bytes: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };
    let kid = server.jwks()["keys"][0]["kid"].as_str().unwrap().to_owned();
    let payload = b64(claims(&|_| {}).to_string().as_bytes());
    // Valid as crafted, to prove the crafting works.
    assert_eq!(try_token(&server.sign(&claims(&|_| {}))).status(), StatusCode::OK);
    // Algorithm confusion: HS256 keyed with the issuer's public key as published; RS256
    // under the EC key's kid (signed with an RSA key the attacker holds); `none`.
    let hs256 = {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(kid.clone());
        let public = server.jwks()["keys"][0].to_string();
        jsonwebtoken::encode(&header, &claims(&|_| {}), &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()))
            .unwrap()
    };
    let tmp = tempfile::tempdir().unwrap();
    let rs256_as_ec = {
        let (rsa, _) = rsa_key(tmp.path(), "attacker");
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(kid.clone());
        jsonwebtoken::encode(&header, &claims(&|_| {}), &rsa).unwrap()
    };
    let none = format!("{}.{payload}.", b64(format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#).as_bytes()));
    let mut cases = vec![
        ("expired", server.sign(&claims(&|c| c["exp"] = json!(now() - 3600)))),
        ("wrong audience", server.sign(&claims(&|c| c["aud"] = json!("other-app")))),
        ("wrong issuer", server.sign(&claims(&|c| c["iss"] = json!("https://evil.example")))),
        ("not yet valid", server.sign(&claims(&|c| c["nbf"] = json!(now() + 3000)))),
        ("no expiry", server.sign(&claims(&|c| drop(c.as_object_mut().unwrap().remove("exp"))))),
        ("no subject", server.sign(&claims(&|c| drop(c.as_object_mut().unwrap().remove("sub"))))),
        ("a subject with a bidirectional override", server.sign(&claims(&|c| c["sub"] = json!("ali\u{202e}ce")))),
        ("alg none", none),
        ("HS256 keyed with the public key", hs256),
        ("RS256 under the EC key's kid", rs256_as_ec),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    if backend == Backend::Aws {
        // The provider's tokens name the page that asked for them (`azp`).
        cases.push(("another authorized party", server.sign(&claims(&|c| c["azp"] = json!("https://evil.example")))));
        cases.push(("no authorized party", server.sign(&claims(&|c| drop(c.as_object_mut().unwrap().remove("azp"))))));
    }
    let system_refusals = || {
        server
            .sql("SELECT COUNT(*) FROM audit_log WHERE tenant = '-' AND action = 'auth.failed'")
            .unwrap()
            .parse::<usize>()
            .unwrap()
    };
    let before = system_refusals();
    for (what, token) in &cases {
        let response = try_token(token);
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
    }
    // Forged: signed by another (embedded) server's development key.
    let other = Server::start_on(None, &[]);
    let forged = other.token("smiths", "alice");
    assert_eq!(try_token(&forged).status(), StatusCode::UNAUTHORIZED);
    // Tampered payload: same signature, different family.
    let good = server.token("smiths", "alice");
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = b64(claims(&|c| c["org_id"] = json!("evil")).to_string().as_bytes());
    assert_eq!(try_token(&parts.join(".")).status(), StatusCode::UNAUTHORIZED);
    // No token.
    assert_eq!(
        server.http.get(format!("{}/v1/recordings", server.url)).send().unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // Each refusal is one row of the system chain (the caller is nobody's member),
    // and the chains verify.
    assert_eq!(system_refusals() - before, cases.len() + 3, "forged, tampered and missing tokens too");
    let out = server.vault(&["audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn malformed_uploads_are_refused_and_nothing_is_committed(backend: Backend) {
    let server = Server::start(backend);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    // More than one part.
    let plaintext = media(server.plan().part_plaintext() as usize + 4099, 2);
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
    let message = encrypt_with(&c["key"], &foreign, server.plan().frame_length(), &plaintext);
    // (Refused before the body is read: the refused bodies are kept small enough to be
    // sent whole before the answer, or the client may see its connection closed first.)
    refused(
        &c,
        1,
        &split_parts(&c, &message)[0][..100_000],
        StatusCode::UNPROCESSABLE_ENTITY,
        "another tenant's context",
    );

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
    refused(&c, 1, &flipped[..100_000], StatusCode::UNPROCESSABLE_ENTITY, "flipped bit");
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
    refused(&c, 1, &parts[0][..100_000], StatusCode::UNPROCESSABLE_ENTITY, "more than declared");

    // Oversized part (by Content-Length) and oversized JSON.
    let c = alice.create_recording("huge", plaintext.len(), "client");
    let oversized = 2 * server.plan().part_plaintext() as usize;
    // Refused by its head (a client still sending 16 MiB may see a broken pipe instead
    // of the answer, as CI once did), so the head alone is sent.
    let path = format!("/v1/recordings/{}/parts/1", c["recording"]["id"].as_str().unwrap());
    let (s, text) = alice.head_only("PUT", &path, &[("x-vault-sha256", &"ab".repeat(32))], oversized);
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "oversized part: {text}");
    assert!(text.contains("urn:vault:"), "oversized part: not a problem document: {text}");
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

fn killed_mid_upload_resumes_and_abandoned_uploads_expire(backend: Backend) {
    const TTL_SECS: u64 = 3;
    let mut server = Server::start_with(
        backend,
        &[("VAULT_UPLOAD_TTL_SECS", &TTL_SECS.to_string()), ("VAULT_UPLOAD_SWEEP_SECS", "1")],
    );
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    // Three parts and a bit.
    let video = media(3 * server.plan().part_plaintext() as usize + 5, 5);
    let created = alice.create_recording("interrupted", video.len(), "client");
    let id = created["recording"]["id"].as_str().unwrap().to_owned();
    let parts = split_parts(&created, &encrypt_for(&created, &video));
    assert!(parts.len() >= 3);
    alice.ok(alice.put_part(&id, 1, &parts[0]));
    // Die in the middle of part 2's body: a part whose checksum is right, so only
    // its missing end can stop it being stored.
    let (body, progress) = trickle(parts[1].clone());
    let sender = {
        let (alice, id, sha) = (alice.clone(), id.clone(), hex::encode(sha2::Sha256::digest(&parts[1])));
        std::thread::spawn(move || {
            alice
                .req(Method::PUT, &format!("/v1/recordings/{id}/parts/2"))
                .header("x-vault-sha256", sha)
                .body(body)
                .send()
        })
    };
    progress.wait_for(256 * 1024);
    server.kill_and_restart();
    assert!(sender.join().unwrap().is_err(), "the part's sender saw the connection die");
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

    // An abandoned upload expires: not resumable, not listed, parts removed. It is
    // kept for the whole time to live after its last part, then swept.
    let created = alice.create_recording("abandoned", video.len(), "client");
    let gone = created["recording"]["id"].as_str().unwrap().to_owned();
    let parts = split_parts(&created, &encrypt_for(&created, &video));
    alice.ok(alice.put_part(&gone, 1, &parts[0]));
    let last_part = std::time::Instant::now();
    while alice.get(&format!("/v1/recordings/{gone}")).status() == StatusCode::OK {
        assert!(last_part.elapsed() < std::time::Duration::from_secs(30), "never expired");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(last_part.elapsed() >= std::time::Duration::from_secs(TTL_SECS), "expired early");
    // A small body: refused before it is read, a large one may meet a closed connection.
    let (s, _) = status(alice.put_part(&gone, 2, &parts[1][..1000]));
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

/// After part 1 (it carries the header), a client may send parts in any order and
/// several at once: each is checked at its own place in the message; the commit
/// wants them all, without a gap, and only the last ending the message.
fn parts_after_the_first_arrive_in_any_order_and_at_once(backend: Backend) {
    let server = Server::start(backend);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let video = media(5 * server.plan().part_plaintext() as usize + 7, 6);
    let created = alice.create_recording("pipelined", video.len(), "client");
    let id = created["recording"]["id"].as_str().unwrap().to_owned();
    let parts = split_parts(&created, &encrypt_for(&created, &video));
    assert_eq!(parts.len(), 6);
    // (Refusals come before the body is read: the bodies of these are kept small enough
    // to be sent whole before the answer.)
    let (s, body) = status(alice.put_part(&id, 3, &parts[2][..100_000]));
    assert_eq!(s, StatusCode::CONFLICT, "part 1 first: {body}");
    assert!(body.contains("upload-busy") && body.contains("part 1"), "retryable, and says why: {body}");
    alice.ok(alice.put_part(&id, 1, &parts[0]));
    // A part's bytes sent under another number fail its frames' sequence check.
    let (s, body) = status(alice.put_part(&id, 2, &parts[2][..100_000]));
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("invalid-ciphertext") && body.contains("out of order"), "{body}");
    // Parts 5, 3 and 4 at once; 2 and the final part 6 after.
    let senders: Vec<_> = [5usize, 3, 4]
        .into_iter()
        .map(|n| {
            let (alice, id, part) = (alice.clone(), id.clone(), parts[n - 1].clone());
            std::thread::spawn(move || alice.ok(alice.put_part(&id, n, &part)))
        })
        .collect();
    for sender in senders {
        sender.join().unwrap();
    }
    let status_now = alice.ok(alice.get(&format!("/v1/recordings/{id}/upload")));
    assert_eq!((status_now["next_part"].as_u64(), status_now["ready"].as_bool()), (Some(2), Some(false)));
    let (s, body) = status(alice.post(&format!("/v1/recordings/{id}/complete"), json!({})));
    assert_eq!(s, StatusCode::CONFLICT, "part 2 is missing: {body}");
    alice.ok(alice.put_part(&id, 6, &parts[5]));
    for past in [7, 9000] {
        let (s, body) = status(alice.put_part(&id, past, &parts[5]));
        assert_eq!(s, StatusCode::BAD_REQUEST, "nothing after the final part: {body}");
        assert!(body.contains("this recording has 6 parts"), "{body}");
    }
    alice.ok(alice.put_part(&id, 2, &parts[1]));
    // A retry of a stored part is answered as stored, once its body is in: an answer
    // before it would close the connection under the client still sending, which then
    // sees a broken pipe instead (CI met this once). Other bytes under its digest are
    // refused.
    let path = format!("/v1/recordings/{id}/parts/4");
    let sha = hex::encode(sha2::Sha256::digest(&parts[3]));
    let headers = [("x-vault-sha256", sha.as_str())];
    let (early, s, body) =
        alice.all_but_the_last_byte("PUT", &path, &headers, &parts[3], std::time::Duration::from_millis(500));
    assert_eq!((early, s), (false, StatusCode::OK), "{body}");
    let mut other = parts[3].clone();
    other[100] ^= 1;
    let (early, s, body) =
        alice.all_but_the_last_byte("PUT", &path, &headers, &other, std::time::Duration::from_millis(10));
    assert_eq!((early, s), (false, StatusCode::UNPROCESSABLE_ENTITY), "{body}");
    assert!(body.contains("checksum-mismatch"), "{body}");
    alice.ok(alice.put_part(&id, 4, &parts[3]));
    // A retry's body cannot outgrow its Content-Length: with chunks, hyper drops the
    // length, and a part without one is refused before its body is read (the drain
    // also stops past the length).
    let len = parts[3].len().to_string();
    let mut chunked = format!("{:x}\r\n", parts[3].len() + 10).into_bytes();
    chunked.extend_from_slice(&parts[3]);
    chunked.extend_from_slice(&[0; 10]);
    chunked.extend_from_slice(b"\r\n"); // and no last chunk: the body has not ended
    let answer = alice.raw(
        "PUT",
        &path,
        &[("x-vault-sha256", &sha), ("content-length", &len), ("transfer-encoding", "chunked")],
        &chunked,
        std::time::Duration::from_secs(10),
    );
    let (s, body) = answer.expect("answered before the body ended");
    assert_eq!(s, StatusCode::LENGTH_REQUIRED, "{body}");
    let status_now = alice.ok(alice.get(&format!("/v1/recordings/{id}/upload")));
    assert_eq!((status_now["next_part"].as_u64(), status_now["ready"].as_bool()), (Some(7), Some(true)));
    alice.ok(alice.post(&format!("/v1/recordings/{id}/complete"), json!({})));
    let message = alice.get(&format!("/v1/recordings/{id}/content")).bytes().unwrap();
    assert_eq!(decrypt_all(&message, &alice.data_key(&id), "smiths", &id), video);

    // A message that ends before the declared size is refused at its final part (each
    // part's place fixes the plaintext before it), and never commits.
    let short = media(2 * server.plan().part_plaintext() as usize + 5, 7);
    let created = alice.create_recording("ends early", video.len(), "client");
    let other = created["recording"]["id"].as_str().unwrap().to_owned();
    let short_parts = split_parts(&created, &encrypt_for(&created, &short));
    assert_eq!(short_parts.len(), 3);
    alice.ok(alice.put_part(&other, 1, &short_parts[0]));
    let (s, body) = status(alice.put_part(&other, 3, &short_parts[2]));
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "its plaintext falls short of the declared size: {body}");
    alice.ok(alice.put_part(&other, 2, &short_parts[1]));
    let (s, _) = status(alice.post(&format!("/v1/recordings/{other}/complete"), json!({})));
    assert_eq!(s, StatusCode::CONFLICT);
}

fn refusals_cannot_flood_the_audit_log(backend: Backend) {
    let server = Server::start(backend);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let (id, _) = alice.upload("scan", &media(100, 1));
    let before = alice.ok(alice.get("/v1/family/audit?limit=500"))["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["actor"] != "system")
        .count();
    // A non-member naming the family, with a huge path and request id, 100 times.
    let stranger = server.as_user("smiths", "mallory");
    let long = "x".repeat(20_000);
    for _ in 0..100 {
        let r = stranger
            .req(Method::GET, &format!("/v1/recordings/{long}"))
            .header("x-request-id", "r".repeat(100_000))
            .send()
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_ne!(r.headers()["x-request-id"].len(), 100_000, "a long client request id is replaced");
    }
    let rows = alice.ok(alice.get("/v1/family/audit?limit=500"))["items"].as_array().unwrap().clone();
    let refusals: Vec<&Value> = rows.iter().filter(|r| r["actor"] == "mallory").collect();
    assert!(!refusals.is_empty() && refusals.len() <= 60, "{} refusal rows", refusals.len());
    assert!(
        refusals
            .iter()
            .all(|r| r["target"].as_str().unwrap().len() <= 256 && r["request_id"].as_str().unwrap().len() <= 64)
    );
    let others = rows.iter().filter(|r| r["actor"] != "mallory" && r["actor"] != "system").count();
    assert_eq!(others, before, "nothing else was written meanwhile");
    // A plain client request id is kept (a proxy's correlation id).
    let r =
        alice.req(Method::GET, &format!("/v1/recordings/{id}")).header("x-request-id", "lb-1234-abcd").send().unwrap();
    assert_eq!(r.headers()["x-request-id"], "lb-1234-abcd");
}

fn a_second_request_for_an_upload_being_received_is_refused(backend: Backend) {
    let server = Server::start(backend);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let video = media((6 << 20) + 123, 9);
    let created = alice.create_recording("twice", video.len(), "client");
    let id = created["recording"]["id"].as_str().unwrap().to_owned();
    let parts = split_parts(&created, &encrypt_for(&created, &video));
    let (body, progress) = trickle(parts[0].clone());
    let slow = {
        let (alice, id, sha) = (alice.clone(), id.clone(), hex::encode(sha2::Sha256::digest(&parts[0])));
        std::thread::spawn(move || {
            let path = format!("/v1/recordings/{id}/parts/1");
            alice.req(Method::PUT, &path).header("x-vault-sha256", sha).body(body).send().unwrap().status()
        })
    };
    progress.wait_for(128 * 1024);
    let sha = hex::encode(sha2::Sha256::digest(&parts[0]));
    let (s, text) =
        alice.head_only("PUT", &format!("/v1/recordings/{id}/parts/1"), &[("x-vault-sha256", &sha)], parts[0].len());
    assert_eq!(s, StatusCode::CONFLICT, "{text}");
    assert!(text.contains("urn:vault:upload-busy"), "{text}");
    assert_eq!(slow.join().unwrap(), StatusCode::OK);
    for (i, part) in parts.iter().enumerate().skip(1) {
        alice.ok(alice.put_part(&id, i + 1, part));
    }
    alice.ok(alice.post(&format!("/v1/recordings/{id}/complete"), json!({})));
    assert_eq!(decrypt_all(&alice.content(&id), &alice.data_key(&id), "smiths", &id), video);
}

fn static_files_never_redirect_off_site_nor_fail_on_long_names(backend: Backend) {
    let web = workspace().join("web");
    let server = Server::start_with(backend, &[("VAULT_WEB_DIR", web.to_str().unwrap())]);
    let get = |path: &str| {
        let client = reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        client.get(format!("{}{path}", server.url)).send().unwrap()
    };
    assert_eq!(get("/").status(), StatusCode::OK);
    assert_eq!(get("/app.js").status(), StatusCode::OK);
    for path in [
        format!("/{}", "a".repeat(300)),
        "//pkg".to_owned(),
        "//evil.example".to_owned(),
        format!("/{}/x", "b".repeat(5000)),
    ] {
        let r = get(&path);
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(r.headers().get("location").is_none());
        assert_problem(&path, r);
    }
}

fn roles_and_membership_rules(backend: Backend) {
    let server = Server::start(backend);
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

fn key_release_is_rate_limited(backend: Backend) {
    let server = Server::start_with(backend, &[("VAULT_KEY_RELEASES_PER_MINUTE", "3")]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let (id, _) = alice.upload("x", &media(100, 1));
    let codes: Vec<StatusCode> =
        (0..6).map(|_| alice.post(&format!("/v1/recordings/{id}/key"), json!({})).status()).collect();
    assert_eq!(codes.iter().filter(|c| **c == StatusCode::OK).count(), 3, "{codes:?}");
    assert!(codes.contains(&StatusCode::TOO_MANY_REQUESTS));
}

fn audit_verify_detects_a_row_edited_in_the_database(backend: Backend) {
    let server = Server::start(backend);
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
fn development_sign_in_answers_only_this_machine_with_the_printed_one_time_code() {
    let server = Server::start_on(None, &[]);
    let config: Value = server.http.get(format!("{}/web-config.json", server.url)).send().unwrap().json().unwrap();
    assert_eq!(config["dev_sign_in"], true);
    let mint = |body: Value, headers: &[(&str, &str)]| {
        let mut req = server.http.post(format!("{}/dev/token", server.url)).json(&body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        status(req.send().unwrap())
    };
    let body = |code: &str| json!({ "user_id": "alice", "family_id": "smiths", "code": code });
    // Without the code, or with a wrong one: refused (and recorded in the system chain).
    let (s, text) = mint(json!({ "user_id": "alice", "family_id": "smiths" }), &[]);
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    let (s, text) = mint(body("0000-0000-0000"), &[]);
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{text}");
    assert!(text.contains("urn:vault:sign-in-code"), "{text}");
    // Through a proxy (forwarding headers) even the right code is refused, and not used up.
    let code = server.dev_code();
    for header in ["x-forwarded-for", "forwarded", "x-real-ip", "via"] {
        let (s, text) = mint(body(&code), &[(header, "127.0.0.1")]);
        assert_eq!(s, StatusCode::FORBIDDEN, "{header}: {text}");
    }
    // A bad id does not use the code up either.
    assert_eq!(mint(json!({ "user_id": "a b", "family_id": "smiths", "code": code }), &[]).0, StatusCode::BAD_REQUEST);
    assert_eq!(mint(json!({ "user_id": "a", "family_id": "-", "code": code }), &[]).0, StatusCode::BAD_REQUEST);
    // The printed code signs in once; the next code is printed and written down.
    let (s, text) = mint(body(&code), &[]);
    assert_eq!(s, StatusCode::OK, "{text}");
    let token = serde_json::from_str::<Value>(&text).unwrap()["token"].as_str().unwrap().to_owned();
    let api = Api { base: server.url.clone(), token, http: server.http.clone(), host: None, delivery: None };
    assert_eq!(api.post("/v1/families", json!({ "name": "S" })).status(), StatusCode::CREATED, "the token works");
    assert_eq!(mint(body(&code), &[]).0, StatusCode::UNAUTHORIZED, "a code signs in once");
    let next = server.dev_code();
    assert_ne!(next, code);
    assert_eq!(mint(json!({ "user_id": "bob", "family_id": "jones", "code": next }), &[]).0, StatusCode::OK);
    let out = server.vault(&["audit", "verify"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"rows\""), "{}", String::from_utf8_lossy(&out.stderr));

    // With an external identity provider the development issuer, and its sign-in, are off.
    let external = Server::start_on(
        None,
        &[
            ("VAULT_AUTH_ISSUER", "https://idp.example"),
            ("VAULT_AUTH_AUDIENCES", "vault"),
            ("VAULT_AUTH_SIGN_IN_URL", "https://idp.example/sign-in"),
        ],
    );
    let config: Value = external.http.get(format!("{}/web-config.json", external.url)).send().unwrap().json().unwrap();
    assert_eq!(
        (config["dev_sign_in"].clone(), config["sign_in_url"].clone()),
        (json!(false), json!("https://idp.example/sign-in"))
    );
    let res = external.http.post(format!("{}/dev/token", external.url)).json(&body("x")).send().unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(!external.dir.join("dev-sign-in-code").exists());
}

#[test]
fn requests_naming_another_host_are_refused_against_dns_rebinding() {
    let server = Server::start_on(None, &[("VAULT_PUBLIC_ORIGINS", "https://vault.example.com")]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let port = server.url.rsplit(':').next().unwrap().to_owned();
    let with_host = |method: Method, path: &str, host: &str| {
        let req = server.http.request(method, format!("{}{path}", server.url)).header("host", host);
        status(req.bearer_auth(&alice.token).json(&json!({})).send().unwrap())
    };
    for path in ["/v1/family", "/web-config.json", "/healthz", "/openapi.json", "/nothing"] {
        for host in [format!("rebind.attacker.example:{port}"), "127.0.0.1:1".into(), "localhost".into()] {
            let (s, text) = with_host(Method::GET, path, &host);
            assert_eq!(s, StatusCode::MISDIRECTED_REQUEST, "{host} {path}: {text}");
            assert!(text.contains("urn:vault:unknown-host"), "{text}");
        }
    }
    let code = server.dev_code();
    let rebound = server
        .http
        .post(format!("{}/dev/token", server.url))
        .header("host", format!("rebind.attacker.example:{port}"))
        .json(&json!({ "user_id": "alice", "family_id": "smiths", "code": code }))
        .send()
        .unwrap();
    assert_eq!(rebound.status(), StatusCode::MISDIRECTED_REQUEST);
    // Loopback names with the port, and the configured public origin, are answered.
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}"), "vault.example.com".into()] {
        let (s, text) = with_host(Method::GET, "/v1/family", &host);
        assert_eq!(s, StatusCode::OK, "{host}: {text}");
    }
}

#[test]
fn members_are_identities_of_one_issuer() {
    let mut server = Server::start_on(None, &[]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let members = alice.ok(alice.get("/v1/family/members"));
    assert_eq!(members[0]["issuer"], "vault-dev");
    // A member row from before issuers were recorded: bound to the issuer trusted at the next start.
    server.sql("INSERT INTO members (family_id, issuer, user_id, role, added_at, added_by) VALUES ('smiths', '', 'carol', 'member', 0, 'alice')").unwrap();
    // The same deployment now trusts an identity provider whose users include an "alice".
    let idp = idp::shared();
    let env: Vec<(String, String)> = idp.vars();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    server.restart_with(&env);
    let impostor = Api {
        base: server.url.clone(),
        token: idp.token("smiths", "alice"),
        http: server.http.clone(),
        host: None,
        delivery: None,
    };
    let (s, text) = status(impostor.get("/v1/family"));
    assert_eq!(s, StatusCode::FORBIDDEN, "the provider's alice is not the development issuer's alice: {text}");
    assert_eq!(impostor.get("/v1/recordings").status(), StatusCode::FORBIDDEN);
    let carol = Api {
        base: server.url.clone(),
        token: idp.token("smiths", "carol"),
        http: server.http.clone(),
        host: None,
        delivery: None,
    };
    assert_eq!(carol.ok(carol.get("/v1/family"))["role"], "member", "the legacy row was bound to the trusted issuer");
    assert_eq!(server.sql("SELECT issuer FROM members WHERE user_id = 'carol'").unwrap(), idp::ISSUER);
}

fn active_content_types_are_stored_as_octet_stream(backend: Backend) {
    let server = Server::start(backend);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    for (asked, stored) in [
        ("text/html", "application/octet-stream"),
        ("image/svg+xml", "application/octet-stream"),
        ("application/xhtml+xml; charset=utf-8", "application/octet-stream"),
        ("text/javascript", "application/octet-stream"),
        ("Video/MP4; codecs=avc1", "video/mp4"),
        ("image/jpeg", "image/jpeg"),
        ("text/plain; charset=utf-8", "text/plain"),
    ] {
        let created = alice.ok(alice.post(
            "/v1/recordings",
            json!({ "title": "t", "kind": "letter", "content_type": asked, "plaintext_size": 3, "encryption": "client" }),
        ));
        assert_eq!(created["recording"]["content_type"], stored, "{asked}");
    }
    // Photos are a kind of their own, for the image types that are kept as they are.
    let photo = alice.ok(alice.post(
        "/v1/recordings",
        json!({ "title": "", "kind": "photo", "content_type": "image/jpeg", "plaintext_size": 3, "encryption": "client" }),
    ));
    assert_eq!(photo["recording"]["kind"], "photo");
    for not_a_photo in ["image/svg+xml", "text/plain"] {
        let (s, text) = status(alice.post(
            "/v1/recordings",
            json!({ "title": "", "kind": "photo", "content_type": not_a_photo, "plaintext_size": 3, "encryption": "client" }),
        ));
        assert_eq!(s, StatusCode::BAD_REQUEST, "{not_a_photo}: {text}");
        assert!(text.contains("a photo's content_type must be an image type"), "{text}");
    }
    // A row written before the allowlist: key release still answers a safe type.
    let (id, _) = alice.upload("old", &media(10, 1));
    server.sql(&format!("UPDATE recordings SET content_type = 'text/html' WHERE id = '{id}'")).unwrap();
    let release = alice.ok(alice.post(&format!("/v1/recordings/{id}/key"), json!({})));
    assert_eq!(release["content_type"], "application/octet-stream");
    assert_eq!(alice.ok(alice.get(&format!("/v1/recordings/{id}")))["content_type"], "application/octet-stream");
}

fn no_family_id_can_read_the_system_audit_chain(backend: Backend) {
    let server = Server::start(backend);
    // Failed sign-ins fill the system chain with other people's addresses.
    for _ in 0..3 {
        server.http.get(format!("{}/v1/recordings", server.url)).bearer_auth("not.a.jwt").send().unwrap();
    }
    let token = server.sign(&server.claims("-", "mallory", now() + 600));
    let (iss, _) = server.issuer();
    let dash = Api { base: server.url.clone(), token, http: server.http.clone(), host: None, delivery: None };
    assert_eq!(dash.post("/v1/families", json!({ "name": "dash" })).status(), StatusCode::BAD_REQUEST);
    // Even a family row named "-" (from before ids had to start with a letter or digit).
    server.sql("INSERT INTO families (id, name, key_id, created_at, created_by) VALUES ('-', 'dash', 'local:-', 0, 'mallory')").unwrap();
    server.sql(&format!("INSERT INTO members (family_id, issuer, user_id, role, added_at, added_by) VALUES ('-', '{iss}', 'mallory', 'owner', 0, 'mallory')")).unwrap();
    let (s, text) = status(dash.get("/v1/family/audit"));
    assert_eq!(s, StatusCode::FORBIDDEN, "{text}");
    assert!(!text.contains("auth.failed"), "{text}");
}

fn a_header_with_extra_context_pairs_is_refused(backend: Backend) {
    let server = Server::start(backend);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let video = media(5000, 3);
    let created = alice.create_recording("extra", video.len(), "client");
    let id = created["recording"]["id"].as_str().unwrap().to_owned();
    let mut context = vault_core::EncryptionContext::new();
    context.insert("vault:tenant", "smiths").insert("vault:object", id.as_str()).insert("note", "unbound");
    let frame = created["upload"]["frame_length"].as_u64().unwrap() as u32;
    let message = encrypt_with(&created["key"], &context, frame, &video);
    let (s, text) = status(alice.put_part(&id, 1, &message));
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert!(text.contains("exactly vault:tenant and vault:object"), "{text}");
    assert_eq!(alice.ok(alice.get(&format!("/v1/recordings/{id}/upload")))["next_part"], 1, "nothing stored");
}

fn every_ranged_read_that_starts_a_session_is_audited_once(backend: Backend) {
    let server = Server::start(backend);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let (id, message) = alice.upload("scan", &media(100_000, 5));
    // Bob's download rows in the family's log.
    let downloads = || {
        let audit = alice.ok(alice.get("/v1/family/audit?limit=500"));
        let rows = audit["items"].as_array().unwrap().clone();
        rows.into_iter().filter(|r| r["action"] == "recording.downloaded" && r["actor"] == "bob").count()
    };
    alice.invite("bob", "member");
    let bob = server.as_user("smiths", "bob");
    let ranged = |api: &Api, range: &str| {
        let r = api.req(Method::GET, &format!("/v1/recordings/{id}/content")).header("range", range).send().unwrap();
        (r.status(), r.bytes().unwrap().to_vec())
    };
    let (s, body) = ranged(&bob, "bytes=1-");
    assert_eq!(s, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, message[1..]);
    assert_eq!(downloads(), 1, "a read of all but one byte is audited");
    for range in ["bytes=0-99", "bytes=500-", "bytes=-10"] {
        assert_eq!(ranged(&bob, range).0, StatusCode::PARTIAL_CONTENT);
    }
    assert_eq!(downloads(), 1, "once per user, recording and session");
    let bob_again = server.as_user("smiths", "bob");
    assert_eq!(ranged(&bob_again, "bytes=7-8").0, StatusCode::PARTIAL_CONTENT);
    assert_eq!(downloads(), 2, "a new session is audited again");
    bob.content(&id);
    assert_eq!(downloads(), 3, "a whole download is always audited");

    // The page labels its reads, so that the log tells a play from a saved copy; the
    // label never hides a read (a download after a play in one session is its own row).
    let carol_token = {
        alice.invite("carol", "member");
        server.as_user("smiths", "carol")
    };
    let labelled = |purpose: &str| {
        let r = carol_token
            .req(Method::GET, &format!("/v1/recordings/{id}/content"))
            .header("range", "bytes=0-99")
            .header("x-vault-purpose", purpose)
            .send()
            .unwrap();
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    };
    labelled("play");
    labelled("play");
    labelled("download");
    labelled("<script>");
    let audit = alice.ok(alice.get("/v1/family/audit?limit=500"));
    let purposes: Vec<Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "recording.downloaded" && r["actor"] == "carol")
        .map(|r| serde_json::from_str::<Value>(r["metadata"].as_str().unwrap()).unwrap()["purpose"].clone())
        .collect();
    // Newest first: the unknown label is not recorded (but the read is), download, play.
    assert_eq!(purposes, [Value::Null, json!("download"), json!("play")]);
}

fn ranges_follow_rfc_9110(backend: Backend) {
    let server = Server::start(backend);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let (id, message) = alice.upload("scan", &media(10_000, 6));
    let ranged = |range: &str| {
        let r = alice.req(Method::GET, &format!("/v1/recordings/{id}/content")).header("range", range).send().unwrap();
        let content_range = r.headers().get("content-range").map(|v| v.to_str().unwrap().to_owned());
        (r.status(), content_range, r.bytes().unwrap().to_vec())
    };
    let size = message.len();
    let (s, _, body) = ranged("items=0-5");
    assert_eq!((s, body.len()), (StatusCode::OK, size), "an unknown unit is ignored");
    let (s, cr, body) = ranged("bytes=0-18446744073709551615");
    assert_eq!(
        (s, cr.as_deref(), body),
        (StatusCode::PARTIAL_CONTENT, Some(format!("bytes 0-{}/{size}", size - 1).as_str()), message.clone())
    );
    let (s, _, body) = ranged("bytes=-20000");
    assert_eq!((s, body.len()), (StatusCode::PARTIAL_CONTENT, size), "a suffix longer than the object");
    let (s, cr, _) = ranged(&format!("bytes={size}-"));
    assert_eq!((s, cr), (StatusCode::RANGE_NOT_SATISFIABLE, Some(format!("bytes */{size}"))));
}

fn only_its_creator_uploads_to_a_pending_recording(backend: Backend) {
    let server = Server::start(backend);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    alice.invite("bob", "admin");
    let bob = server.as_user("smiths", "bob");
    let letter = b"Dear little one".to_vec();
    let created = alice.create_recording("letter", letter.len(), "server");
    let id = created["recording"]["id"].as_str().unwrap().to_owned();
    let forged = b"Someone else wr".to_vec();
    let (s, text) =
        status(bob.req(Method::PUT, &format!("/v1/recordings/{id}/plaintext")).body(forged).send().unwrap());
    assert_eq!(s, StatusCode::FORBIDDEN, "{text}");
    for (method, path) in
        [(Method::GET, format!("/v1/recordings/{id}/upload")), (Method::POST, format!("/v1/recordings/{id}/complete"))]
    {
        assert_eq!(bob.req(method, &path).json(&json!({})).send().unwrap().status(), StatusCode::FORBIDDEN, "{path}");
    }
    let done = alice.ok(alice
        .req(Method::PUT, &format!("/v1/recordings/{id}/plaintext"))
        .body(letter.clone())
        .send()
        .unwrap());
    assert_eq!(done["status"], "committed");
    assert_eq!(decrypt_all(&alice.content(&id), &alice.data_key(&id), "smiths", &id), letter);
    let audit = alice.ok(alice.get("/v1/family/audit?limit=100"));
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "upload.plaintext_sent" && r["outcome"] == "denied" && r["actor"] == "bob")
    );
}

fn names_and_ids_with_invisible_or_reordering_characters_are_refused(backend: Backend) {
    let server = Server::start(backend);
    let alice = server.as_user("smiths", "alice");
    for name in ["The Smiths\u{202e}", "\u{200b}", "Smiths\u{2066}"] {
        assert_eq!(alice.post("/v1/families", json!({ "name": name })).status(), StatusCode::BAD_REQUEST, "{name:?}");
    }
    alice.create_family("The Smiths 👨\u{200d}👩\u{200d}👧");
    for title in ["scan\u{202e}4pm.exe", "a\u{200d}b", "tab\there"] {
        let r = alice.post(
            "/v1/recordings",
            json!({ "title": title, "kind": "video", "content_type": "video/mp4", "plaintext_size": 1 }),
        );
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{title:?}");
    }
    for user in ["admin\u{202e}", "bob\u{200b}", "Grandpa Joe", "x\u{00a0}y"] {
        let (s, text) = status(alice.post("/v1/family/members", json!({ "user_id": user, "role": "member" })));
        assert_eq!(s, StatusCode::BAD_REQUEST, "{user:?}: {text}");
    }
    alice.invite("user_2abc", "member");
}

/// Asserts an answer is an RFC 9457 problem document with a fixed message: none of
/// serde's or axum's own words, nor the handlers' type names.
fn assert_problem(what: &str, response: reqwest::blocking::Response) -> StatusCode {
    let code = response.status();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().unwrap();
    assert_eq!(content_type.as_deref(), Some("application/problem+json"), "{what}: {code} {text}");
    let problem: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"));
    assert!(problem["type"].as_str().unwrap().starts_with("urn:vault:"), "{what}: {text}");
    assert_eq!(problem["status"], code.as_u16(), "{what}: {text}");
    assert!(problem["title"].is_string() && problem["detail"].is_string(), "{what}: {text}");
    for leak in ["expected", "struct", "invalid type", "Failed to", "serde", "::", "Create", "line 1", "column"] {
        assert!(!text.contains(leak), "{what}: {leak:?} in {text}");
    }
    code
}

fn every_refusal_is_a_problem_document_with_a_fixed_message(backend: Backend) {
    let server = Server::start(backend);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let (id, _) = alice.upload("scan", &media(100, 1));
    let doc: Value = server.http.get(format!("{}/openapi.json", server.url)).send().unwrap().json().unwrap();
    let mut problems = 0;
    let bodies: [(Option<&str>, &str); 4] = [
        (Some("application/json"), "{"),
        (Some("application/json"), "[]"),
        (None, "{}"),
        (Some("text/plain"), "{\"a\":1}"),
    ];
    for (path, methods) in doc["paths"].as_object().unwrap() {
        let concrete =
            path.replace("{id}", &id).replace("{user_id}", "nobody").replace("{part}", "1").replace("{token}", "0");
        for method in methods.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            for (content_type, body) in bodies {
                let mut req = alice.req(method.clone(), &concrete).body(body);
                if let Some(ct) = content_type {
                    req = req.header("content-type", ct);
                }
                let response = req.send().unwrap();
                if response.status().is_client_error() || response.status().is_server_error() {
                    assert_problem(&format!("{method} {path} {content_type:?} {body}"), response);
                    problems += 1;
                }
            }
        }
    }
    assert!(problems >= 30, "only {problems} refusals seen");
    for (method, path) in [
        (Method::GET, "/v1/recordings?limit=many".to_owned()),
        (Method::GET, "/v1/family/audit?before=yesterday".to_owned()),
        (Method::PUT, format!("/v1/recordings/{id}/parts/first")),
        (Method::GET, "/v1/nothing-here".to_owned()),
        (Method::GET, "/nothing-here".to_owned()),
        (Method::DELETE, "/openapi.json".to_owned()),
        (Method::PATCH, "/v1/recordings".to_owned()),
    ] {
        let code = assert_problem(&format!("{method} {path}"), alice.req(method.clone(), &path).send().unwrap());
        assert!(code.is_client_error(), "{method} {path}: {code}");
    }
    let wrong_method = alice.req(Method::PATCH, "/v1/recordings").send().unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(wrong_method.headers().contains_key("allow"));
    let oversized = alice
        .req(Method::POST, "/v1/recordings")
        .header("content-type", "application/json")
        .body(vec![b' '; 100_000])
        .send()
        .unwrap();
    assert_eq!(assert_problem("oversized", oversized), StatusCode::PAYLOAD_TOO_LARGE);
}

/// One request, its answer checked against the OpenAPI document (JSON bodies against
/// their schema; other bodies against the documented content type); the JSON answer.
fn checked(
    contract: &Contract,
    http: &reqwest::blocking::Client,
    base: &str,
    token: Option<&str>,
    (method, template, path): (Method, &str, &str),
    body: Option<Vec<u8>>,
    headers: &[(&str, String)],
) -> (StatusCode, Value) {
    let mut request = http.request(method.clone(), format!("{base}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.send().unwrap();
    let status = response.status();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let bytes = response.bytes().unwrap();
    if content_type.contains("json") {
        contract.check(method.as_str(), template, status, &content_type, &String::from_utf8_lossy(&bytes));
        (status, serde_json::from_slice(&bytes).unwrap())
    } else {
        contract.check_media(method.as_str(), template, status, &content_type);
        (status, Value::Null)
    }
}

fn invitation_links_let_a_relative_join_once_before_they_expire(backend: Backend) {
    let server = Server::start(backend);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    alice.invite("bob", "admin");
    alice.invite("carl", "member");
    let (bob, carl) = (server.as_user("smiths", "bob"), server.as_user("smiths", "carl"));
    let invite =
        |who: &Api, name: &str, role: &str| who.post("/v1/family/invitations", json!({ "name": name, "role": role }));
    // Who may invite: owners and admins; only owners invite owners; a name people read.
    assert_eq!(invite(&carl, "Grandpa Joe", "member").status(), StatusCode::FORBIDDEN);
    assert_eq!(invite(&bob, "New owner", "owner").status(), StatusCode::FORBIDDEN);
    assert_eq!(invite(&bob, "", "member").status(), StatusCode::BAD_REQUEST);
    let long = alice.post("/v1/family/invitations", json!({ "name": "Joe", "role": "member", "expires_in_days": 31 }));
    assert_eq!(long.status(), StatusCode::BAD_REQUEST);
    let made = bob.ok(invite(&bob, "Grandpa Joe", "member"));
    let secret = made["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 43, "256 bits, base64url");
    assert_eq!(made["family_id"], "smiths");
    let week = made["invitation"]["expires_at"].as_i64().unwrap() - made["invitation"]["created_at"].as_i64().unwrap();
    assert_eq!(week, 7 * 86_400_000, "a week by default");
    // Only a hash is kept: the secret appears nowhere in the database.
    let stored = server.sql("SELECT * FROM invitations").unwrap();
    assert!(!stored.contains(&secret) && stored.contains(&hex::encode(sha2::Sha256::digest(secret.as_bytes()))));

    // Joe signs in with the family the link names, and joins with the role and name given.
    let joe = server.as_user("smiths", "joe");
    assert_eq!(joe.get("/v1/family").status(), StatusCode::FORBIDDEN, "not a member before");
    let accept = |who: &Api, secret: &str| who.post("/v1/invitations/accept", json!({ "secret": secret }));
    // A token for another family: the link does not work there.
    let elsewhere = server.as_user("jones", "joe");
    assert_eq!(accept(&elsewhere, &secret).status(), StatusCode::FORBIDDEN);
    let joined = joe.ok(accept(&joe, &secret));
    assert_eq!((joined["id"].as_str(), joined["role"].as_str()), (Some("smiths"), Some("member")));
    assert_eq!(joe.ok(joe.get("/v1/family"))["role"], "member");
    let members = alice.ok(alice.get("/v1/family/members"));
    let joe_row = members.as_array().unwrap().iter().find(|m| m["user_id"] == "joe").unwrap().clone();
    assert_eq!((joe_row["display_name"].as_str(), joe_row["added_by"].as_str()), (Some("Grandpa Joe"), Some("bob")));
    // Once only: a second use (by anyone) is refused as used.
    let (code, body) = status(accept(&server.as_user("smiths", "eve"), &secret));
    assert_eq!(code, StatusCode::GONE, "{body}");
    assert!(body.contains("used already"), "{body}");
    assert_eq!(server.as_user("smiths", "eve").get("/v1/family").status(), StatusCode::FORBIDDEN);
    assert_eq!(accept(&joe, &secret).status(), StatusCode::CONFLICT, "already a member");

    // Revoked and expired links are refused; revoking is for managers of this family.
    let revoked = bob.ok(invite(&bob, "Aunt May", "member"));
    let revoked_id = revoked["invitation"]["id"].as_str().unwrap();
    let mallory = server.as_user("evil", "mallory");
    mallory.create_family("Evil");
    assert_eq!(
        mallory.req(Method::DELETE, &format!("/v1/family/invitations/{revoked_id}")).send().unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert!(mallory.ok(mallory.get("/v1/family/invitations")).as_array().unwrap().is_empty());
    assert_eq!(
        carl.req(Method::DELETE, &format!("/v1/family/invitations/{revoked_id}")).send().unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        alice.req(Method::DELETE, &format!("/v1/family/invitations/{revoked_id}")).send().unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let may = server.as_user("smiths", "may");
    let (code, body) = status(accept(&may, revoked["secret"].as_str().unwrap()));
    assert!(code == StatusCode::GONE && body.contains("withdrawn"), "{code} {body}");
    let expired = alice.ok(invite(&alice, "Uncle Bill", "admin"));
    let expired_id = expired["invitation"]["id"].as_str().unwrap();
    server.sql(&format!("UPDATE invitations SET expires_at = 1 WHERE id = '{expired_id}'")).unwrap();
    let (code, body) = status(accept(&server.as_user("smiths", "bill"), expired["secret"].as_str().unwrap()));
    assert!(code == StatusCode::GONE && body.contains("expired"), "{code} {body}");
    let states: Vec<String> = alice
        .ok(alice.get("/v1/family/invitations"))
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("{} {}", i["name"].as_str().unwrap(), i["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states.len(), 3, "{states:?}");
    for expected in ["Grandpa Joe accepted", "Aunt May revoked", "Uncle Bill expired"] {
        assert!(states.contains(&expected.to_owned()), "{expected}: {states:?}");
    }
    // Everything is in the family's audit log.
    let audit = alice.ok(alice.get("/v1/family/audit?limit=200"));
    let rows: Vec<String> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r["actor"].as_str().unwrap(),
                r["action"].as_str().unwrap(),
                r["outcome"].as_str().unwrap()
            )
        })
        .collect();
    for expected in [
        "bob invitation.created success",
        "joe member.joined success",
        "eve member.joined denied",
        "alice invitation.revoked success",
        "bill member.joined denied",
    ] {
        assert!(rows.contains(&expected.to_owned()), "{expected}: {rows:?}");
    }
    // Names for members added by id: managers name anyone, a member only themselves.
    let rename = |who: &Api, user: &str, name: &str| {
        who.req(Method::PUT, &format!("/v1/family/members/{user}/name")).json(&json!({ "name": name })).send().unwrap()
    };
    assert_eq!(alice.ok(rename(&alice, "carl", "Uncle Carl"))["display_name"], "Uncle Carl");
    assert_eq!(rename(&carl, "alice", "Boss").status(), StatusCode::FORBIDDEN);
    assert_eq!(carl.ok(rename(&carl, "carl", "Carl the uncle"))["display_name"], "Carl the uncle");
    assert_eq!(rename(&alice, "carl", "Carl\u{202e}evil").status(), StatusCode::BAD_REQUEST);
    assert_eq!(rename(&alice, "nobody", "Ghost").status(), StatusCode::NOT_FOUND);
    assert_eq!(
        mallory.req(Method::PUT, "/v1/family/members/carl/name").json(&json!({ "name": "x" })).send().unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let cleared = alice.ok(rename(&alice, "carl", ""));
    assert!(cleared.get("display_name").is_none(), "{cleared}");
    // A link outlives no one's rights: an admin's link for themselves, used after they
    // were removed, admits nobody.
    let backdoor = bob.ok(invite(&bob, "Me again", "admin"));
    alice.ok(alice.req(Method::DELETE, "/v1/family/members/bob").send().unwrap());
    let (code, body) = status(accept(&bob, backdoor["secret"].as_str().unwrap()));
    assert!(code == StatusCode::GONE && body.contains("can no longer invite"), "{code} {body}");
    assert_eq!(bob.get("/v1/family").status(), StatusCode::FORBIDDEN);
    // Guessing: refused, and over the address's budget answered 429.
    let guesser = server.as_user("smiths", "guesser");
    let mut statuses = Vec::new();
    for i in 0..40u8 {
        let guess = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest([i]));
        statuses.push(accept(&guesser, &guess).status());
    }
    assert_eq!(statuses[0], StatusCode::NOT_FOUND);
    assert_eq!(*statuses.last().unwrap(), StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
}

fn the_library_keeps_details_and_posters_encrypted_and_erasure_clears_them(backend: Backend) {
    let server = Server::start_with(backend, &[("VAULT_UPLOAD_SWEEP_SECS", "1")]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    alice.invite("bob", "member");
    let bob = server.as_user("smiths", "bob");
    // A recording whose title lives only in its encrypted details.
    let (id, _) = alice.upload("", &media(5000, 7));
    // One library key per family: the same for every member and every call.
    let key = alice.ok(alice.post("/v1/family/library-key", json!({})));
    let again = bob.ok(bob.post("/v1/family/library-key", json!({})));
    assert_eq!((&key["data_key"], &key["encrypted_data_keys"]), (&again["data_key"], &again["encrypted_data_keys"]));
    assert_eq!(key["encryption_context"], json!({ "vault:tenant": "smiths", "vault:object": "library" }));
    let context = vault_core::EncryptionContext::for_vault_object("smiths", "library");
    let details = json!({ "recording": id, "title": "First scan", "recorded_on": "2026-11-02", "note": "Week twelve" });
    let details_message = encrypt_with(&key, &context, 4096, details.to_string().as_bytes());
    let put = |who: &Api, piece: &str, bytes: &[u8]| {
        who.req(Method::PUT, &format!("/v1/recordings/{id}/{piece}")).body(bytes.to_vec()).send().unwrap().status()
    };
    // Its creator may set them; another plain member may not.
    assert_eq!(put(&bob, "details", &details_message), StatusCode::FORBIDDEN);
    assert_eq!(put(&alice, "details", &details_message), StatusCode::NO_CONTENT);
    let poster = media(60_000, 8);
    let poster_message = encrypt_with(&key, &context, 65536, &poster);
    assert_eq!(put(&alice, "poster", &poster_message), StatusCode::NO_CONTENT);
    // What the server keeps and answers is ciphertext; the page opens it with the key.
    let view = bob.ok(bob.get(&format!("/v1/recordings/{id}")));
    assert_eq!((view["title"].as_str(), view["has_poster"].as_bool()), (Some(""), Some(true)));
    let stored = base64::engine::general_purpose::STANDARD.decode(view["details"].as_str().unwrap()).unwrap();
    assert_eq!(stored, details_message);
    let data_key = vault_core::DataKey::try_from_slice(
        &base64::engine::general_purpose::STANDARD.decode(key["data_key"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let opened: Value = serde_json::from_slice(&decrypt_all(&stored, &data_key, "smiths", "library")).unwrap();
    assert_eq!(opened, details);
    let fetched = bob.get(&format!("/v1/recordings/{id}/poster")).bytes().unwrap().to_vec();
    assert_eq!(decrypt_all(&fetched, &data_key, "smiths", "library"), poster);
    let row = server.sql(&format!("SELECT * FROM recordings WHERE id = '{id}'")).unwrap();
    assert!(!row.contains("First scan") && !row.contains("Week twelve"), "no plaintext details in the database");
    // Only messages under this family's library key, within their size.
    let created = alice.create_recording("other", 10, "client");
    let own_key = encrypt_for(&created, b"not a library message");
    assert_eq!(put(&alice, "details", &own_key), StatusCode::BAD_REQUEST, "a recording's own key is not the library's");
    assert_eq!(put(&alice, "details", b"plain words"), StatusCode::BAD_REQUEST);
    let header_only = &details_message[..header_len(&details_message)];
    assert_eq!(put(&alice, "details", header_only), StatusCode::BAD_REQUEST, "a header without a body");
    let big = encrypt_with(&key, &context, 4096, &media(20 << 10, 9));
    assert_eq!(put(&alice, "details", &big), StatusCode::PAYLOAD_TOO_LARGE);
    let huge = encrypt_with(&key, &context, 65536, &media(300 << 10, 9));
    assert_eq!(put(&alice, "poster", &huge), StatusCode::PAYLOAD_TOO_LARGE);
    // Another family sees none of it.
    let mallory = server.as_user("evil", "mallory");
    mallory.create_family("Evil");
    assert_eq!(put(&mallory, "details", &details_message), StatusCode::NOT_FOUND);
    assert_eq!(mallory.get(&format!("/v1/recordings/{id}/poster")).status(), StatusCode::NOT_FOUND);
    let theirs = mallory.ok(mallory.post("/v1/family/library-key", json!({})));
    assert_ne!(theirs["data_key"], key["data_key"], "each family its own library key");
    // In the trash the poster is refused; erased, details and poster are gone with the keys.
    alice.ok(alice.post(&format!("/v1/recordings/{id}/trash"), json!({})));
    assert_eq!(bob.get(&format!("/v1/recordings/{id}/poster")).status(), StatusCode::NOT_FOUND);
    alice.ok(alice.req(Method::DELETE, &format!("/v1/recordings/{id}")).send().unwrap());
    let left = server.sql(&format!(
        "SELECT COALESCE(details, 'none') || COALESCE(poster, 'none') FROM recordings WHERE id = '{id}'"
    ));
    assert_eq!(left.unwrap(), "nonenone");
    // An upload abandoned until it expires loses its sealed details and poster as well.
    let abandoned = alice.create_recording("", 10, "client")["recording"]["id"].as_str().unwrap().to_owned();
    let put_on = |piece: &str, bytes: &[u8]| {
        alice
            .req(Method::PUT, &format!("/v1/recordings/{abandoned}/{piece}"))
            .body(bytes.to_vec())
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(put_on("details", &details_message), StatusCode::NO_CONTENT);
    assert_eq!(put_on("poster", &poster_message), StatusCode::NO_CONTENT);
    server.sql(&format!("UPDATE uploads SET expires_at = 1 WHERE recording_id = '{abandoned}'")).unwrap();
    let start = std::time::Instant::now();
    let gone = format!(
        "SELECT status || COALESCE(details, '-') || COALESCE(poster, '-') FROM recordings WHERE id = '{abandoned}'"
    );
    while server.sql(&gone).unwrap() != "expired--" {
        assert!(start.elapsed() < std::time::Duration::from_secs(20), "{}", server.sql(&gone).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let audit = alice.ok(alice.get("/v1/family/audit?limit=200"));
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    for expected in ["library.key_released", "recording.details_set", "recording.poster_set"] {
        assert!(actions.contains(&expected), "{expected}: {actions:?}");
    }
}

fn openapi_document_matches_the_routes(backend: Backend) {
    let server = Server::start(backend);
    let doc: Value = server.http.get(format!("{}/openapi.json", server.url)).send().unwrap().json().unwrap();
    let contract = Contract::new(doc);
    let alice = server.token("smiths", "alice");
    let json = |v: Value| (Some(v.to_string().into_bytes()), vec![("content-type", "application/json".to_owned())]);
    let call = |token: Option<&str>, op: (Method, &str, &str), body: (Option<Vec<u8>>, Vec<(&str, String)>)| {
        checked(&contract, &server.http, &server.url, token, op, body.0, &body.1)
    };
    let none = || (None, Vec::new());
    let me = Some(alice.as_str());

    // Refusals first: no token, no family yet, unknown ids, bad bodies.
    call(None, (Method::GET, "/v1/recordings", "/v1/recordings"), none());
    assert_eq!(call(me, (Method::GET, "/v1/family", "/v1/family"), none()).0, StatusCode::FORBIDDEN);
    assert_eq!(
        call(me, (Method::POST, "/v1/families", "/v1/families"), json(json!({ "nom": 1 }))).0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Every answer of the family's life.
    assert_eq!(
        call(me, (Method::POST, "/v1/families", "/v1/families"), json(json!({ "name": "Smiths" }))).0,
        StatusCode::CREATED
    );
    call(me, (Method::GET, "/v1/family", "/v1/family"), none());
    call(
        me,
        (Method::POST, "/v1/family/members", "/v1/family/members"),
        json(json!({ "user_id": "bob", "role": "member" })),
    );
    call(me, (Method::GET, "/v1/family/members", "/v1/family/members"), none());
    call(
        me,
        (Method::PATCH, "/v1/family/members/{user_id}", "/v1/family/members/bob"),
        json(json!({ "role": "admin" })),
    );
    call(
        me,
        (Method::PUT, "/v1/family/members/{user_id}/name", "/v1/family/members/bob/name"),
        json(json!({ "name": "Uncle Bob" })),
    );
    call(me, (Method::DELETE, "/v1/family/members/{user_id}", "/v1/family/members/bob"), none());
    let video = media(server.plan().part_plaintext() as usize + 777, 3);
    let (_, created) = call(
        me,
        (Method::POST, "/v1/recordings", "/v1/recordings"),
        json(
            json!({ "title": "scan", "kind": "video", "content_type": "video/mp4", "plaintext_size": video.len(), "encryption": "client" }),
        ),
    );
    let id = created["recording"]["id"].as_str().unwrap().to_owned();
    let rec = |suffix: &str| format!("/v1/recordings/{id}{suffix}");
    let parts = split_parts(&created, &encrypt_for(&created, &video));
    assert_eq!(
        call(me, (Method::POST, "/v1/recordings/{id}/complete", &rec("/complete")), json(json!({}))).0,
        StatusCode::CONFLICT
    );
    for (i, part) in parts.iter().enumerate() {
        let sha = vec![("x-vault-sha256", hex::encode(sha2::Sha256::digest(part)))];
        call(
            me,
            (Method::PUT, "/v1/recordings/{id}/parts/{part}", &rec(&format!("/parts/{}", i + 1))),
            (Some(part.clone()), sha),
        );
        call(me, (Method::GET, "/v1/recordings/{id}/upload", &rec("/upload")), none());
    }
    call(me, (Method::POST, "/v1/recordings/{id}/complete", &rec("/complete")), json(json!({})));
    let (_, letter) = call(
        me,
        (Method::POST, "/v1/recordings", "/v1/recordings"),
        json(
            json!({ "title": "letter", "kind": "letter", "content_type": "text/plain", "plaintext_size": 5, "encryption": "server" }),
        ),
    );
    let letter_id = letter["recording"]["id"].as_str().unwrap();
    call(
        me,
        (Method::PUT, "/v1/recordings/{id}/plaintext", &format!("/v1/recordings/{letter_id}/plaintext")),
        (Some(b"hello".to_vec()), vec![]),
    );
    call(me, (Method::GET, "/v1/recordings", "/v1/recordings"), none());
    call(me, (Method::GET, "/v1/recordings/{id}", &rec("")), none());
    call(me, (Method::POST, "/v1/recordings/{id}/key", &rec("/key")), json(json!({})));
    call(me, (Method::GET, "/v1/recordings/{id}/content", &rec("/content")), none());
    call(
        me,
        (Method::GET, "/v1/recordings/{id}/content", &rec("/content")),
        (None, vec![("range", "bytes=0-99".to_owned())]),
    );
    call(
        me,
        (Method::GET, "/v1/recordings/{id}/content", &rec("/content")),
        (None, vec![("range", "bytes=999999999-".to_owned())]),
    );
    let unknown = "/v1/recordings/00000000-0000-0000-0000-000000000000";
    assert_eq!(call(me, (Method::GET, "/v1/recordings/{id}", unknown), none()).0, StatusCode::NOT_FOUND);
    let (_, invitation) = call(
        me,
        (Method::POST, "/v1/family/invitations", "/v1/family/invitations"),
        json(json!({ "name": "Grandpa Joe", "role": "member" })),
    );
    call(me, (Method::GET, "/v1/family/invitations", "/v1/family/invitations"), none());
    let joe = Some(server.token("smiths", "joe"));
    let secret = invitation["secret"].as_str().unwrap();
    call(
        joe.as_deref(),
        (Method::POST, "/v1/invitations/accept", "/v1/invitations/accept"),
        json(json!({ "secret": secret })),
    );
    let (_, second) = call(
        me,
        (Method::POST, "/v1/family/invitations", "/v1/family/invitations"),
        json(json!({ "name": "Aunt May", "role": "member" })),
    );
    let second = format!("/v1/family/invitations/{}", second["invitation"]["id"].as_str().unwrap());
    call(me, (Method::DELETE, "/v1/family/invitations/{id}", &second), none());
    let (_, library) = call(me, (Method::POST, "/v1/family/library-key", "/v1/family/library-key"), none());
    let context = vault_core::EncryptionContext::for_vault_object("smiths", "library");
    let sealed = encrypt_with(&library, &context, 4096, b"{}");
    let octets = |bytes: &[u8]| (Some(bytes.to_vec()), vec![("content-type", "application/octet-stream".to_owned())]);
    call(me, (Method::PUT, "/v1/recordings/{id}/details", &rec("/details")), octets(&sealed));
    call(me, (Method::PUT, "/v1/recordings/{id}/poster", &rec("/poster")), octets(&sealed));
    call(me, (Method::GET, "/v1/recordings/{id}/poster", &rec("/poster")), none());
    call(me, (Method::GET, "/v1/family/audit", "/v1/family/audit?limit=5"), none());
    assert_eq!(
        call(me, (Method::GET, "/v1/family/audit", "/v1/family/audit?limit=-5"), none()).0,
        StatusCode::BAD_REQUEST
    );
    let (_, export) = call(me, (Method::POST, "/v1/family/export", "/v1/family/export"), json(json!({})));
    let download = export["download"].as_str().unwrap().to_owned();
    call(None, (Method::GET, "/v1/exports/{token}", &download), none());
    call(None, (Method::GET, "/v1/exports/{token}", &download), none());
    let link = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([9u8; 16]);
    let sealed_key = base64::engine::general_purpose::STANDARD.encode(b"sealed in the page");
    call(
        me,
        (Method::POST, "/v1/family/links", "/v1/family/links"),
        json(
            json!({ "id": link, "name": "for Grandpa Joe", "recordings": [{ "recording_id": id, "sealed": sealed_key }] }),
        ),
    );
    call(me, (Method::GET, "/v1/family/links", "/v1/family/links"), none());
    call(
        me,
        (Method::PUT, "/v1/family/sharing", "/v1/family/sharing"),
        json(json!({ "members_may_share": false, "max_link_days": 30 })),
    );
    let (_, opened) = call(None, (Method::POST, "/v1/links/{id}/open", &format!("/v1/links/{link}/open")), none());
    let view = opened["view"].as_str().unwrap().to_owned();
    call(
        None,
        (
            Method::GET,
            "/v1/links/{id}/recordings/{recording}/content",
            &format!("/v1/links/{link}/recordings/{id}/content"),
        ),
        (None, vec![("x-vault-view", view), ("range", "bytes=0-9".to_owned())]),
    );
    call(me, (Method::GET, "/v1/family/links/{id}/openings", &format!("/v1/family/links/{link}/openings")), none());
    call(me, (Method::DELETE, "/v1/family/links/{id}", &format!("/v1/family/links/{link}")), none());
    call(me, (Method::POST, "/v1/recordings/{id}/trash", &rec("/trash")), json(json!({})));
    call(me, (Method::GET, "/v1/trash", "/v1/trash"), none());
    call(me, (Method::POST, "/v1/recordings/{id}/restore", &rec("/restore")), json(json!({})));
    call(me, (Method::DELETE, "/v1/recordings/{id}", &rec("")), none());
    // What anyone may read.
    for path in ["/healthz", "/readyz", "/metrics", "/v1/signing-key", "/web-config.json", "/.well-known/jwks.json"] {
        call(None, (Method::GET, path, path), none());
    }
    assert!(
        call(None, (Method::POST, "/dev/token", "/dev/token"), json(json!({ "code": "nope" }))).0.is_client_error()
    );
    // Renewal: 200 with the development issuer, 404 without one (the AWS backends).
    let (renewed, _) = call(me, (Method::POST, "/dev/renew", "/dev/renew"), json(json!({ "ttl_secs": 60 })));
    assert_eq!(renewed, if backend == Backend::Aws { StatusCode::NOT_FOUND } else { StatusCode::OK });
    // A studio's operations.
    let ana = server.token("lumen", "ana");
    let studio = Some(ana.as_str());
    assert_eq!(
        call(studio, (Method::POST, "/v1/studios", "/v1/studios"), json(json!({ "name": "Lumen" }))).0,
        StatusCode::CREATED
    );
    call(studio, (Method::GET, "/v1/studio", "/v1/studio"), none());
    call(studio, (Method::PUT, "/v1/studio/policy", "/v1/studio/policy"), json(json!({ "unclaimed_days": 14 })));
    call(
        studio,
        (Method::POST, "/v1/studio/staff", "/v1/studio/staff"),
        json(json!({ "user_id": "sam", "role": "staff" })),
    );
    call(studio, (Method::GET, "/v1/studio/staff", "/v1/studio/staff"), none());
    call(studio, (Method::DELETE, "/v1/studio/staff/{user}", "/v1/studio/staff/sam"), none());
    call(studio, (Method::GET, "/v1/studio/audit", "/v1/studio/audit?limit=5"), none());
    let (_, delivery) = call(
        studio,
        (Method::POST, "/v1/studio/deliveries", "/v1/studio/deliveries"),
        json(json!({ "customer": "Ana García" })),
    );
    let delivery = format!("/v1/studio/deliveries/{}", delivery["id"].as_str().unwrap());
    call(studio, (Method::GET, "/v1/studio/deliveries", "/v1/studio/deliveries"), none());
    call(
        studio,
        (Method::POST, "/v1/studio/deliveries/{id}/invitation", &format!("{delivery}/invitation")),
        json(json!({})),
    );
    call(studio, (Method::DELETE, "/v1/studio/deliveries/{id}", &delivery), none());
    // A family invites the studio into its own vault, and ends its access.
    let invitations = "/v1/family/studio-invitations";
    let (_, invited) = call(me, (Method::POST, invitations, invitations), json(json!({ "name": "Lumen" })));
    let (_, unused) = call(me, (Method::POST, invitations, invitations), json(json!({ "name": "Other" })));
    call(me, (Method::GET, invitations, invitations), none());
    let unused = format!("{invitations}/{}", unused["invitation"]["id"].as_str().unwrap());
    call(me, (Method::DELETE, "/v1/family/studio-invitations/{id}", &unused), none());
    let (_, into) = call(
        studio,
        (Method::POST, "/v1/studio/deliveries", "/v1/studio/deliveries"),
        json(json!({ "customer": "Smiths", "family_invitation": invited["secret"] })),
    );
    call(me, (Method::GET, "/v1/family/deliveries", "/v1/family/deliveries"), none());
    let end = format!("/v1/family/deliveries/{}/end", into["id"].as_str().unwrap());
    call(me, (Method::POST, "/v1/family/deliveries/{id}/end", &end), json(json!({})));
    call(studio, (Method::GET, "/v1/studio/export", "/v1/studio/export"), none());
    call(studio, (Method::DELETE, "/v1/studio", "/v1/studio"), json(json!({ "confirm": "lumen" })));
    assert_eq!(
        call(me, (Method::DELETE, "/v1/family", "/v1/family"), json(json!({ "confirm": "smiths" }))).0,
        StatusCode::OK
    );

    // Every documented operation was exercised and its answers matched the document.
    let checked = contract.checked();
    for (method, template) in contract.operations() {
        let prefix = format!("{method} {template} ");
        assert!(checked.iter().any(|c| c.starts_with(&prefix)), "{method} {template} was never checked: {checked:#?}");
    }
    assert!(contract.operations().len() >= 27, "{:?}", contract.operations());
    // And what is not documented does not exist.
    for (method, path) in [(Method::GET, "/v1/families"), (Method::PUT, "/v1/recordings"), (Method::GET, "/v1/admin")] {
        let status = server.http.request(method.clone(), format!("{}{path}", server.url)).send().unwrap().status();
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {status}"
        );
    }
}

fn operations_endpoints_headers_and_graceful_shutdown(backend: Backend) {
    let mut server = Server::start(backend);
    let get = |p: &str| server.http.get(format!("{}{p}", server.url)).send().unwrap();
    assert_eq!(get("/healthz").status(), StatusCode::OK);
    assert_eq!(get("/readyz").status(), StatusCode::OK);
    // /healthz details what the last probe found: here every dependency answers.
    let health = server.health_when("database", None, true);
    let (instance, dependencies) = (&health["instance"], health["dependencies"].as_array().unwrap());
    assert!(instance.as_str().is_some_and(|i| !i.is_empty()) && health["status"] == "ok", "{health}");
    let named: Vec<String> = dependencies.iter().map(|d| format!("{} {}", d["name"], d["region"])).collect();
    let expected = match backend {
        Backend::Aws => vec![
            "\"database\" null".to_owned(),
            format!("\"key_service\" \"{PRIMARY_REGION}\""),
            format!("\"key_service\" \"{REPLICA_REGION}\""),
            format!("\"object_store\" \"{PRIMARY_REGION}\""),
            format!("\"object_store\" \"{REPLICA_REGION}\""),
        ],
        Backend::Embedded => {
            ["\"database\" null", "\"key_service\" \"local\"", "\"object_store\" \"local\""].map(str::to_owned).to_vec()
        }
    };
    assert_eq!(named, expected);
    assert!(dependencies.iter().all(|d| d["up"] == true && d["since"].is_i64()), "{health}");
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
    let out = Command::new(vault_bin())
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

fn external_oidc_issuer_with_rs256_jwks_rotation_and_refresh_limits(backend: Backend) {
    let idp = tempfile::tempdir().unwrap();
    let (k1, jwk1) = rsa_key(idp.path(), "k1");
    let (k2, jwk2) = rsa_key(idp.path(), "k2");
    std::fs::write(idp.path().join("jwks.json"), json!({ "keys": [jwk1] }).to_string()).unwrap();
    // A real HTTP server for the JWKS; its request log counts fetches.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = idp.path().join("requests.log");
    let python = std::env::var("VAULT_PYTHON").unwrap_or_else(|_| "python3".into());
    let _jwks_server = KillOnDrop(
        Command::new(python)
            .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1"])
            .current_dir(idp.path())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let fetches = || std::fs::read_to_string(&log).unwrap_or_default().matches("GET /jwks.json").count();
    let jwks_url = format!("http://127.0.0.1:{port}/jwks.json");
    for _ in 0..50 {
        if reqwest::blocking::get(&jwks_url).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let server = Server::start_with(
        backend,
        &[
            ("VAULT_AUTH_ISSUER", "https://idp.example"),
            ("VAULT_AUTH_JWKS_URL", &jwks_url),
            ("VAULT_AUTH_AUDIENCES", "vault-app"),
            ("VAULT_AUTH_AUTHORIZED_PARTIES", "https://vault.example.com"),
            ("VAULT_AUTH_JWKS_MIN_REFRESH_SECS", "1"),
        ],
    );
    let token = |key: &jsonwebtoken::EncodingKey, kid: &str, aud: &str| {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        let claims = json!({ "iss": "https://idp.example", "aud": aud, "azp": "https://vault.example.com", "sub": "user_2abc", "org_id": "org_77",
            "org_role": "org:admin", "exp": now() + 600 });
        jsonwebtoken::encode(&header, &claims, key).unwrap()
    };
    // A plain member of the organisation may not create (and so own) its vault.
    let mut plain_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    plain_header.kid = Some("k1".to_owned());
    let plain = jsonwebtoken::encode(
        &plain_header,
        &json!({ "iss": "https://idp.example", "aud": "vault-app", "azp": "https://vault.example.com", "sub": "user_3xyz", "org_id": "org_77",
            "org_role": "org:member", "exp": now() + 600 }),
        &k1,
    )
    .unwrap();
    let (s, text) = status(
        server
            .http
            .post(format!("{}/v1/families", server.url))
            .bearer_auth(&plain)
            .json(&json!({ "name": "Mine" }))
            .send()
            .unwrap(),
    );
    assert_eq!(s, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("administrator of your organisation"), "{text}");
    let call = |t: &str| server.http.get(format!("{}/v1/family", server.url)).bearer_auth(t).send().unwrap().status();
    let api = Api {
        base: server.url.clone(),
        token: token(&k1, "k1", "vault-app"),
        http: server.http.clone(),
        host: None,
        delivery: None,
    };
    api.create_family("Org family");
    assert_eq!(call(&token(&k1, "k1", "vault-app")), StatusCode::OK);
    assert_eq!(call(&token(&k1, "k1", "other-app")), StatusCode::UNAUTHORIZED);
    // The dev issuer is not trusted when an external issuer is configured: a genuine
    // development token (from another, embedded server's issuer) is refused.
    let dev_token = Server::start(Backend::Embedded).token("org_77", "user_2abc");
    assert_eq!(call(&dev_token), StatusCode::UNAUTHORIZED);
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
}

fn share_links_open_without_an_account_within_their_limits(backend: Backend) {
    let server = Server::start(backend);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    alice.invite("carl", "member");
    let carl = server.as_user("smiths", "carl");
    let (first, first_cipher) = alice.upload("first scan", &media(300_000, 1));
    let (second, _) = alice.upload("second scan", &media(1000, 2));
    let mallory = server.as_user("evil", "mallory");
    mallory.create_family("Evil");
    let (foreign, _) = mallory.upload("not theirs", &media(1000, 3));
    let b64 = base64::engine::general_purpose::STANDARD;
    let link_id = |n: u8| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([n; 16]);
    // Opaque to the server: in the page it is the data key sealed under the link's secret.
    let sealed = b64.encode(b"sealed under a key the server never sees");
    let make = |who: &Api, body: Value| who.post("/v1/family/links", body);
    let link = |id: &str, recordings: &[&str]| {
        json!({ "id": id, "name": "for Grandpa Joe",
                "recordings": recordings.iter().map(|r| json!({ "recording_id": r, "sealed": sealed })).collect::<Vec<_>>() })
    };
    let anyone = |method: Method, path: &str| client().request(method, format!("{}{path}", server.url));
    let open = |id: &str| {
        status(
            anyone(Method::POST, &format!("/v1/links/{id}/open"))
                .header("user-agent", "Grandpa's phone")
                .send()
                .unwrap(),
        )
    };
    let read = |id: &str, recording: &str, view: &str, range: &str| {
        anyone(Method::GET, &format!("/v1/links/{id}/recordings/{recording}/content"))
            .header("x-vault-view", view)
            .header("range", range)
            .send()
            .unwrap()
    };

    // Who may make one, and what it may hold.
    assert_eq!(make(&carl, link(&link_id(1), &[&first])).status(), StatusCode::FORBIDDEN, "members: not by default");
    let mut long = link(&link_id(1), &[&first]);
    long["expires_in_days"] = json!(31);
    assert_eq!(make(&alice, long).status(), StatusCode::BAD_REQUEST);
    assert_eq!(make(&alice, link("short", &[&first])).status(), StatusCode::BAD_REQUEST, "an id of 128 bits");
    assert_eq!(make(&alice, link(&link_id(1), &[])).status(), StatusCode::BAD_REQUEST);
    assert_eq!(make(&alice, link(&link_id(1), &[&foreign])).status(), StatusCode::NOT_FOUND, "another family's");
    let mut weak = link(&link_id(1), &[&first]);
    weak["passphrase"] =
        json!({ "algorithm": "argon2id", "salt": b64.encode([1u8; 16]), "memory_kib": 1024, "iterations": 1 });
    assert_eq!(make(&alice, weak).status(), StatusCode::BAD_REQUEST, "a passphrase KDF too cheap to matter");
    let made = alice.ok(make(&alice, link(&link_id(1), &[&first])));
    assert_eq!((made["state"].as_str(), made["recordings"].as_i64()), (Some("active"), Some(1)));
    assert_eq!(made["expires_at"].as_i64().unwrap() - made["created_at"].as_i64().unwrap(), 7 * 86_400_000);
    assert_eq!(make(&alice, link(&link_id(1), &[&second])).status(), StatusCode::CONFLICT, "ids are unique");

    // Anyone with the link opens it, with no account, and reads exactly the shared bytes.
    let (code, body) = open(&link_id(1));
    assert_eq!(code, StatusCode::OK, "{body}");
    let opened: Value = serde_json::from_str(&body).unwrap();
    let view = opened["view"].as_str().unwrap().to_owned();
    assert_eq!(view.len(), 43);
    let shown = &opened["recordings"][0];
    assert_eq!(
        (shown["recording_id"].as_str(), shown["sealed"].as_str()),
        (Some(first.as_str()), Some(sealed.as_str()))
    );
    assert_eq!(
        (shown["family_id"].as_str(), shown["ciphertext_size"].as_u64()),
        (Some("smiths"), Some(first_cipher.len() as u64))
    );
    let r = read(&link_id(1), &first, &view, "bytes=1000-1999");
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().unwrap().as_ref(), &first_cipher[1000..2000]);
    assert_eq!(
        read(&link_id(1), &first, &view, "bytes=5000-5099").status(),
        StatusCode::PARTIAL_CONTENT,
        "seeking needs no new view"
    );
    assert_eq!(read(&link_id(1), &second, &view, "bytes=0-9").status(), StatusCode::NOT_FOUND, "not in the link");
    assert_eq!(
        read(&link_id(1), &first, &"x".repeat(43), "bytes=0-9").status(),
        StatusCode::FORBIDDEN,
        "a view it did not give"
    );
    let bare = anyone(Method::GET, &format!("/v1/links/{}/recordings/{first}/content", link_id(1))).send().unwrap();
    assert_eq!(bare.status(), StatusCode::FORBIDDEN, "reads need an opening");
    // A view token is no member's token: the family's own routes refuse it.
    let as_bearer = anyone(Method::GET, "/v1/recordings").bearer_auth(&view).send().unwrap();
    assert_eq!(as_bearer.status(), StatusCode::UNAUTHORIZED);
    // The server keeps the view's hash, never the view itself.
    let stored = server.sql("SELECT * FROM share_views").unwrap();
    assert!(!stored.contains(&view) && stored.contains(&hex::encode(sha2::Sha256::digest(view.as_bytes()))));

    // A limit on views: the second opening is refused.
    let mut once = link(&link_id(2), &[&first, &second]);
    once["max_views"] = json!(1);
    alice.ok(make(&alice, once));
    let (code, body) = open(&link_id(2));
    assert_eq!(code, StatusCode::OK, "{body}");
    let only_view = serde_json::from_str::<Value>(&body).unwrap()["view"].as_str().unwrap().to_owned();
    let (code, body) = open(&link_id(2));
    assert!(code == StatusCode::GONE && body.contains("as many times as it allows"), "{code} {body}");
    let r = read(&link_id(2), &first, &only_view, "bytes=0-9");
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT, "the one view allowed plays on");

    // Revoked: at once, also for a view under way.
    assert_eq!(
        carl.req(Method::DELETE, &format!("/v1/family/links/{}", link_id(1))).send().unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        mallory.req(Method::DELETE, &format!("/v1/family/links/{}", link_id(1))).send().unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        alice.req(Method::DELETE, &format!("/v1/family/links/{}", link_id(1))).send().unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let (code, body) = status(read(&link_id(1), &first, &view, "bytes=0-9"));
    assert!(code == StatusCode::GONE && body.contains("withdrawn"), "{code} {body}");
    assert_eq!(open(&link_id(1)).0, StatusCode::GONE);
    let sealed_of =
        |link: &str| server.sql(&format!("SELECT COUNT(*) FROM share_link_items WHERE link_id = '{link}'")).unwrap();
    assert_eq!(sealed_of(&link_id(1)), "0", "a withdrawn link keeps no sealed key");

    // Expired: refused on opening and on every read.
    alice.ok(make(&alice, link(&link_id(3), &[&first])));
    let (_, body) = open(&link_id(3));
    let view3 = serde_json::from_str::<Value>(&body).unwrap()["view"].as_str().unwrap().to_owned();
    server.sql(&format!("UPDATE share_links SET expires_at = 1 WHERE id = '{}'", link_id(3))).unwrap();
    let (code, body) = status(read(&link_id(3), &first, &view3, "bytes=0-9"));
    assert!(code == StatusCode::GONE && body.contains("expired"), "{code} {body}");

    // The family sees each link's state and its openings (when, from where, which browser).
    let links = alice.ok(alice.get("/v1/family/links"));
    let states: Vec<String> = links
        .as_array()
        .unwrap()
        .iter()
        .map(|l| format!("{} {} {}", l["id"].as_str().unwrap(), l["state"].as_str().unwrap(), l["views"]))
        .collect();
    for expected in
        [format!("{} revoked 1", link_id(1)), format!("{} used-up 1", link_id(2)), format!("{} expired 1", link_id(3))]
    {
        assert!(states.contains(&expected), "{expected}: {states:?}");
    }
    assert!(mallory.ok(mallory.get("/v1/family/links")).as_array().unwrap().is_empty(), "other families see none");
    let openings = alice.ok(alice.get(&format!("/v1/family/links/{}/openings", link_id(2))));
    let outcomes: Vec<&str> = openings.as_array().unwrap().iter().map(|o| o["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["denied", "success"], "newest first");
    assert_eq!(openings[1]["ip"], "127.0.0.1");
    assert_eq!(openings[1]["user_agent"], "Grandpa's phone");
    assert_eq!(mallory.get(&format!("/v1/family/links/{}/openings", link_id(2))).status(), StatusCode::NOT_FOUND);
    let audit = alice.ok(alice.get("/v1/family/audit?limit=200"));
    let rows: Vec<String> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r["actor"].as_str().unwrap(),
                r["action"].as_str().unwrap(),
                r["outcome"].as_str().unwrap()
            )
        })
        .collect();
    for expected in [
        "alice link.created success".to_owned(),
        "alice link.revoked success".to_owned(),
        format!("link:{} link.opened success", link_id(1)),
        format!("link:{} link.played success", link_id(1)),
        format!("link:{} link.opened denied", link_id(2)),
    ] {
        assert!(rows.contains(&expected), "{expected}: {rows:?}");
    }
    let played = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["action"] == "link.played"
                && r["outcome"] == "success"
                && r["metadata"].as_str().unwrap().contains(&link_id(1))
        })
        .count();
    assert_eq!(played, 1, "one row per view and recording, however many ranges");

    // A recording in the trash is not shown; erased, its sealed keys are gone with its wrapped keys.
    alice.ok(make(&alice, link(&link_id(4), &[&first, &second])));
    alice.ok(alice.post(&format!("/v1/recordings/{second}/trash"), json!({})));
    let (_, body) = open(&link_id(4));
    let shown = serde_json::from_str::<Value>(&body).unwrap()["recordings"].clone();
    let ids: Vec<&str> = shown.as_array().unwrap().iter().map(|r| r["recording_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [first.as_str()]);
    let count =
        |id: &str| server.sql(&format!("SELECT COUNT(*) FROM share_link_items WHERE recording_id = '{id}'")).unwrap();
    assert!(count(&second).contains('2'), "{}", count(&second));
    assert_eq!(alice.req(Method::DELETE, &format!("/v1/recordings/{second}")).send().unwrap().status(), StatusCode::OK);
    assert!(count(&second).contains('0') && !count(&second).contains('2'), "{}", count(&second));

    // The family's rules: an owner lets members share, for at most 3 days; a member
    // then shares, and sees and withdraws only their own links.
    let rules = |who: &Api, body: Value| who.req(Method::PUT, "/v1/family/sharing").json(&body).send().unwrap();
    assert_eq!(rules(&carl, json!({ "members_may_share": true, "max_link_days": 3 })).status(), StatusCode::FORBIDDEN);
    assert_eq!(
        rules(&alice, json!({ "members_may_share": true, "max_link_days": 31 })).status(),
        StatusCode::BAD_REQUEST
    );
    let family = alice.ok(rules(&alice, json!({ "members_may_share": true, "max_link_days": 3 })));
    assert_eq!(family["sharing"], json!({ "members_may_share": true, "max_link_days": 3 }));
    assert_eq!(carl.ok(carl.get("/v1/family"))["sharing"]["max_link_days"], 3);
    let mut week = link(&link_id(5), &[&first]);
    week["expires_in_days"] = json!(7);
    let (code, body) = status(make(&carl, week));
    assert!(code == StatusCode::BAD_REQUEST && body.contains("1 to 3 days"), "{code} {body}");
    let carls = carl.ok(make(&carl, link(&link_id(5), &[&first])));
    assert_eq!(
        carls["expires_at"].as_i64().unwrap() - carls["created_at"].as_i64().unwrap(),
        3 * 86_400_000,
        "the family's most"
    );
    let own: Vec<String> = carl
        .ok(carl.get("/v1/family/links"))
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(own, [link_id(5)], "a member sees their own links only");
    assert_eq!(
        carl.req(Method::DELETE, &format!("/v1/family/links/{}", link_id(4))).send().unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(carl.get(&format!("/v1/family/links/{}/openings", link_id(4))).status(), StatusCode::FORBIDDEN);
    assert_eq!(
        carl.req(Method::DELETE, &format!("/v1/family/links/{}", link_id(5))).send().unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        carl.req(Method::DELETE, &format!("/v1/family/links/{}", link_id(5))).send().unwrap().status(),
        StatusCode::CONFLICT
    );
    // A member who leaves takes no link along: theirs are withdrawn with their membership.
    carl.ok(make(&carl, link(&link_id(6), &[&first])));
    assert_eq!(alice.req(Method::DELETE, "/v1/family/members/carl").send().unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(sealed_of(&link_id(6)), "0");
    let states = alice.ok(alice.get("/v1/family/links"));
    assert!(states.as_array().unwrap().iter().any(|l| l["id"] == link_id(6) && l["state"] == "revoked"), "{states}");
    let changed = alice.ok(alice.get("/v1/family/audit?limit=50"));
    assert!(
        changed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "family.sharing_changed" && r["actor"] == "alice")
    );

    // Guessing link ids is limited per address (found or not).
    let mut limited = false;
    for n in 0..40u8 {
        let (code, _) = open(&link_id(100 + n));
        if code == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
        assert_eq!(code, StatusCode::NOT_FOUND);
    }
    assert!(limited, "40 guesses in a minute were not limited");

    // An erased family's links are dead, and hold no keys.
    alice.ok(alice.req(Method::DELETE, "/v1/family").json(&json!({ "confirm": "smiths" })).send().unwrap());
    assert!(server.sql("SELECT COUNT(*) FROM share_link_items").unwrap().contains('0'));
}

fn graceful_shutdown_drains_an_upload_under_way(backend: Backend) {
    let mut server = Server::start(backend);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let video = media(3 * 1024 * 1024, 4);
    let created = alice.create_recording("draining", video.len(), "client");
    let id = created["recording"]["id"].as_str().unwrap().to_owned();
    let parts = split_parts(&created, &encrypt_for(&created, &video));
    assert_eq!(parts.len(), 1);
    let sha = hex::encode(sha2::Sha256::digest(&parts[0]));
    let url = format!("{}/v1/recordings/{id}/parts/1", server.url);
    let token = alice.token.clone();
    // Trickling for seconds; SIGTERM arrives in the middle.
    let (body, progress) = trickle(parts[0].clone());
    let sender = std::thread::spawn(move || {
        client().put(url).bearer_auth(token).header("x-vault-sha256", sha).body(body).send().unwrap().status()
    });
    progress.wait_for(256 * 1024);
    let exit = server.terminate();
    assert_eq!(sender.join().unwrap(), StatusCode::OK, "the upload under way finished");
    assert!(exit.success(), "{exit}");
    // After a restart the stored part is there and the upload completes.
    server.kill_and_restart();
    let alice = Api { base: server.url.clone(), ..alice };
    alice.ok(alice.post(&format!("/v1/recordings/{id}/complete"), json!({})));
}

/// Unix milliseconds now.
fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// The actions of a page of audit rows.
fn actions_of(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap().to_owned()).collect()
}

/// Waits (at most 20 s) until the studio's delivery `id` is in `state` (and, for an
/// expired invitation, until the job told the studio).
fn wait_for_delivery(studio: &Api, id: &str, state: &str) -> Value {
    let start = std::time::Instant::now();
    loop {
        let list = studio.ok(studio.get("/v1/studio/deliveries"));
        let d = list.as_array().unwrap().iter().find(|d| d["id"] == id).unwrap().clone();
        if d["state"] == state && (state != "expired" || d["expired_at"].is_i64()) {
            return d;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(20), "still {d}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn studios_deliver_and_hand_off_to_the_family(backend: Backend) {
    let server = Server::start_with(backend, &[("VAULT_UPLOAD_SWEEP_SECS", "1")]);
    let ana = server.as_user("lumen", "ana");
    let made = ana.ok(ana.post("/v1/studios", json!({ "name": "Lumen Studio" })));
    assert_eq!((made["id"].as_str(), made["role"].as_str()), (Some("lumen"), Some("admin")));
    // An organisation is a family's or a studio's, never both.
    assert_eq!(
        server.as_user("lumen", "x").post("/v1/families", json!({ "name": "x" })).status(),
        StatusCode::CONFLICT
    );
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    assert_eq!(alice.post("/v1/studios", json!({ "name": "x" })).status(), StatusCode::CONFLICT);
    assert_eq!(ana.get("/v1/family").status(), StatusCode::FORBIDDEN, "a studio is not a family");
    assert_eq!(alice.get("/v1/studio").status(), StatusCode::FORBIDDEN, "a family is not a studio");

    // Staff: admins manage them; staff deliver, and neither manage nor read the log.
    ana.ok(ana.post("/v1/studio/staff", json!({ "user_id": "sam", "role": "staff" })));
    let sam = server.as_user("lumen", "sam");
    assert_eq!(sam.ok(sam.get("/v1/studio"))["role"], "staff");
    assert_eq!(
        sam.post("/v1/studio/staff", json!({ "user_id": "eve", "role": "admin" })).status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(sam.get("/v1/studio/audit").status(), StatusCode::FORBIDDEN);
    let policy = json!({ "unclaimed_days": 0 });
    assert_eq!(sam.req(Method::PUT, "/v1/studio/policy").json(&policy).send().unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(server.as_user("lumen", "eve").get("/v1/studio").status(), StatusCode::FORBIDDEN, "not on the staff");
    let last_admin = ana.req(Method::DELETE, "/v1/studio/staff/ana").send().unwrap();
    assert_eq!(last_admin.status(), StatusCode::CONFLICT);

    // A delivery: a new family vault with its own key, and no members yet.
    assert_eq!(sam.post("/v1/studio/deliveries", json!({ "customer": "" })).status(), StatusCode::BAD_REQUEST);
    let far = json!({ "customer": "x", "contribute_until": now_ms() + 31 * 86_400_000 });
    assert_eq!(sam.post("/v1/studio/deliveries", far).status(), StatusCode::BAD_REQUEST);
    let d = sam.ok(sam.post("/v1/studio/deliveries", json!({ "customer": "Ana and Luis García" })));
    assert_eq!(d["state"], "uploading");
    let (delivery, family) = (d["id"].as_str().unwrap().to_owned(), d["family_id"].as_str().unwrap().to_owned());
    assert!(family.starts_with("delivery-"), "{family}");
    let keys = server.sql(&format!("SELECT key_id FROM families WHERE id = '{family}'")).unwrap();
    let smiths_key = server.sql("SELECT key_id FROM families WHERE id = 'smiths'").unwrap();
    assert!(!keys.is_empty() && keys != smiths_key, "its own customer key");

    // The studio uploads into it as a contributor, encrypted as every upload is.
    let contributor = sam.in_delivery(&delivery);
    let scan = media(300_000, 21);
    let (scan_id, _) = contributor.upload("", &scan);
    let listed = contributor.ok(contributor.get("/v1/recordings"));
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let library = contributor.ok(contributor.post("/v1/family/library-key", json!({})));
    let context = vault_core::EncryptionContext::for_vault_object(&family, "library");
    let details = encrypt_with(&library, &context, 4096, br#"{"title":"20-week scan"}"#);
    let put = contributor.req(Method::PUT, &format!("/v1/recordings/{scan_id}/details")).body(details).send().unwrap();
    assert_eq!(put.status(), StatusCode::NO_CONTENT);
    // Nothing else of the family: the header admits a contributor to those routes only.
    for path in [
        "/v1/family",
        "/v1/family/members",
        "/v1/family/audit",
        "/v1/family/invitations",
        "/v1/family/links",
        "/v1/trash",
        &format!("/v1/recordings/{scan_id}/content"),
    ] {
        assert_eq!(contributor.get(path).status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(contributor.post("/v1/family/export", json!({})).status(), StatusCode::FORBIDDEN);
    // Another studio: sees none of it, and its staff cannot work in it.
    let bo = server.as_user("bright", "bo");
    bo.ok(bo.post("/v1/studios", json!({ "name": "Bright" })));
    assert!(bo.ok(bo.get("/v1/studio/deliveries")).as_array().unwrap().is_empty());
    assert_eq!(bo.in_delivery(&delivery).get("/v1/recordings").status(), StatusCode::NOT_FOUND);
    let theirs = bo.post(&format!("/v1/studio/deliveries/{delivery}/invitation"), json!({}));
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        bo.req(Method::DELETE, &format!("/v1/studio/deliveries/{delivery}")).send().unwrap().status(),
        StatusCode::NOT_FOUND
    );
    // A family's member cannot pose as a contributor, nor reach the delivery's family.
    assert_eq!(alice.in_delivery(&delivery).get("/v1/recordings").status(), StatusCode::FORBIDDEN);
    assert_eq!(alice.in_delivery(&delivery).get(&format!("/v1/recordings/{scan_id}")).status(), StatusCode::FORBIDDEN);
    assert_eq!(server.as_user(&family, "alice").get("/v1/recordings").status(), StatusCode::FORBIDDEN);
    assert_eq!(sam.in_delivery("not-a-uuid").get("/v1/recordings").status(), StatusCode::BAD_REQUEST);

    // The invitation, sent twice: the first link is withdrawn by the second.
    let first = sam.ok(sam.post(&format!("/v1/studio/deliveries/{delivery}/invitation"), json!({})));
    assert_eq!(first["delivery"]["state"], "invited");
    let fortnight = first["delivery"]["invited_until"].as_i64().unwrap() - now_ms();
    assert!((13 * 86_400_000..=14 * 86_400_000).contains(&fortnight), "two weeks by default");
    let second = sam.ok(sam.post(&format!("/v1/studio/deliveries/{delivery}/invitation"), json!({})));
    let accept = |who: &Api, secret: &Value| who.post("/v1/invitations/accept", json!({ "secret": secret }));
    let luis = server.as_user(&family, "luis");
    assert_eq!(accept(&luis, &first["secret"]).status(), StatusCode::GONE);
    let joined = luis.ok(accept(&luis, &second["secret"]));
    assert_eq!(joined["role"], "owner", "the parent who accepts owns the family");

    // Handed off at the acceptance: the family has the recording, the studio nothing.
    let mine = luis.ok(luis.get("/v1/recordings"));
    assert_eq!(mine["items"][0]["id"], scan_id.as_str());
    let content = luis.content(&scan_id);
    assert_eq!(decrypt_all(&content, &luis.data_key(&scan_id), &family, &scan_id), scan);
    let gone = contributor.get("/v1/recordings");
    assert_eq!(gone.status(), StatusCode::GONE, "the studio's access ended");
    let late = json!({ "title": "", "kind": "video", "content_type": "video/mp4", "plaintext_size": 10, "encryption": "client" });
    assert_eq!(contributor.post("/v1/recordings", late).status(), StatusCode::GONE);
    let handed = wait_for_delivery(&sam, &delivery, "handed-off");
    assert_eq!(handed["recordings"], 1);
    assert!(sam.post(&format!("/v1/studio/deliveries/{delivery}/invitation"), json!({})).status().is_client_error());
    assert_eq!(
        ana.req(Method::DELETE, &format!("/v1/studio/deliveries/{delivery}")).send().unwrap().status(),
        StatusCode::CONFLICT,
        "the family's now: the studio cannot erase it"
    );
    // Audibly, in both logs.
    let studio_log = actions_of(&ana.ok(ana.get("/v1/studio/audit?limit=500")));
    for action in [
        "studio.created",
        "staff.added",
        "delivery.created",
        "delivery.invited",
        "delivery.accepted",
        "delivery.handed_off",
    ] {
        assert!(studio_log.iter().any(|a| a == action), "{action} not in the studio's log: {studio_log:?}");
    }
    let family_page = luis.ok(luis.get("/v1/family/audit?limit=500"));
    let family_log = actions_of(&family_page);
    for action in
        ["delivery.created", "delivery.invited", "recording.created", "delivery.accepted", "delivery.handed_off"]
    {
        assert!(family_log.iter().any(|a| a == action), "{action} not in the family's log: {family_log:?}");
    }
    let created = family_page["items"].as_array().unwrap().iter().find(|r| r["action"] == "recording.created").unwrap();
    let metadata: Value = serde_json::from_str(created["metadata"].as_str().unwrap()).unwrap();
    assert_eq!((created["actor"].as_str(), metadata["studio"].as_str()), (Some("sam"), Some("lumen")));
    // The other studio's log holds only its own refused attempts on it.
    let bo_log = bo.ok(bo.get("/v1/studio/audit?limit=500"));
    let about: Vec<&Value> =
        bo_log["items"].as_array().unwrap().iter().filter(|r| r["target"] == delivery.as_str()).collect();
    assert!(!about.is_empty() && about.iter().all(|r| r["outcome"] == "denied" && r["actor"] == "bo"), "{about:?}");

    // A hand-off date: after the acceptance the studio adds on, seeing only its own.
    let until = now_ms() + 6_000;
    let dated =
        sam.ok(sam.post("/v1/studio/deliveries", json!({ "customer": "Lee family", "contribute_until": until })));
    let (dated_id, dated_family) =
        (dated["id"].as_str().unwrap().to_owned(), dated["family_id"].as_str().unwrap().to_owned());
    let invited = sam.ok(sam.post(&format!("/v1/studio/deliveries/{dated_id}/invitation"), json!({})));
    let kim = server.as_user(&dated_family, "kim");
    kim.ok(accept(&kim, &invited["secret"]));
    let (own, _) = kim.upload("our own video", &media(2000, 3));
    let studio_in = sam.in_delivery(&dated_id);
    let (edited, _) = studio_in.upload("", &media(5000, 4));
    let seen = studio_in.ok(studio_in.get("/v1/recordings"));
    let ids: Vec<&str> = seen["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [edited.as_str()], "a contributor sees only what its studio uploaded");
    assert_eq!(studio_in.get(&format!("/v1/recordings/{own}")).status(), StatusCode::NOT_FOUND);
    assert_eq!(
        studio_in.req(Method::DELETE, &format!("/v1/recordings/{own}")).send().unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(studio_in.post(&format!("/v1/recordings/{own}/key"), json!({})).status(), StatusCode::NOT_FOUND);
    // Accepted: the vault is the family's. The studio may add, not erase.
    let erase_dated = ana.req(Method::DELETE, &format!("/v1/studio/deliveries/{dated_id}")).send().unwrap();
    assert_eq!(erase_dated.status(), StatusCode::CONFLICT, "the parents accepted: not the studio's to erase");
    let delete_edited = studio_in.req(Method::DELETE, &format!("/v1/recordings/{edited}")).send().unwrap();
    assert_eq!(delete_edited.status(), StatusCode::FORBIDDEN, "delivered and accepted: the family's to delete");
    assert_eq!(wait_for_delivery(&sam, &dated_id, "handed-off")["recordings"], 1);
    assert_eq!(studio_in.get("/v1/recordings").status(), StatusCode::GONE);
    assert_eq!(kim.ok(kim.get("/v1/recordings"))["items"].as_array().unwrap().len(), 2);

    // An invitation is only as good as its maker: once they leave the studio's staff,
    // it admits nobody (the studio sends a new one).
    ana.ok(ana.post("/v1/studio/staff", json!({ "user_id": "tom", "role": "staff" })));
    let tom = server.as_user("lumen", "tom");
    let toms = tom.ok(tom.post("/v1/studio/deliveries", json!({ "customer": "Park family" })));
    let toms_id = toms["id"].as_str().unwrap().to_owned();
    let toms_link = tom.ok(tom.post(&format!("/v1/studio/deliveries/{toms_id}/invitation"), json!({})));
    ana.ok(ana.req(Method::DELETE, "/v1/studio/staff/tom").send().unwrap());
    let park = server.as_user(toms["family_id"].as_str().unwrap(), "min");
    assert_eq!(accept(&park, &toms_link["secret"]).status(), StatusCode::GONE, "its maker left the studio");
    assert_eq!(tom.get("/v1/studio/deliveries").status(), StatusCode::FORBIDDEN);
    let again = ana.ok(ana.post(&format!("/v1/studio/deliveries/{toms_id}/invitation"), json!({})));
    assert_eq!(park.ok(accept(&park, &again["secret"]))["role"], "owner");
    // A delivery never sent an invitation is told to its studio after 30 days, too.
    let forgotten = sam.ok(sam.post("/v1/studio/deliveries", json!({ "customer": "Forgotten" })));
    let forgotten_id = forgotten["id"].as_str().unwrap().to_owned();
    server.sql(&format!("UPDATE deliveries SET created_at = 1 WHERE id = '{forgotten_id}'")).unwrap();
    assert!(wait_for_delivery(&sam, &forgotten_id, "expired")["erase_after"].is_i64());

    // Parents who never accept: the studio is told, then its policy erases the delivery.
    let unclaimed = sam.ok(sam.post("/v1/studio/deliveries", json!({ "customer": "Nobody" })));
    let (lost, lost_family) =
        (unclaimed["id"].as_str().unwrap().to_owned(), unclaimed["family_id"].as_str().unwrap().to_owned());
    sam.in_delivery(&lost).upload("", &media(1000, 5));
    let never = sam.ok(sam.post(&format!("/v1/studio/deliveries/{lost}/invitation"), json!({})));
    server.sql(&format!("UPDATE deliveries SET invited_until = 1 WHERE id = '{lost}'")).unwrap();
    server.sql("UPDATE invitations SET expires_at = 1").unwrap();
    let told = wait_for_delivery(&sam, &lost, "expired");
    assert!(told["erase_after"].as_i64().unwrap() > now_ms() + 29 * 86_400_000, "30 days by default: {told}");
    assert_eq!(accept(&server.as_user(&lost_family, "x"), &never["secret"]).status(), StatusCode::GONE);
    ana.ok(ana.req(Method::PUT, "/v1/studio/policy").json(&policy).send().unwrap());
    wait_for_delivery(&sam, &lost, "erased");
    // The job writes its row just after the erasure it records (threat-model.md says so).
    let started = std::time::Instant::now();
    let (studio_log, erased) = loop {
        let log = ana.ok(ana.get("/v1/studio/audit?limit=500"));
        let rows = log["items"].as_array().unwrap().iter();
        let row = rows.filter(|r| r["action"] == "delivery.erased").find(|r| r["target"] == lost.as_str()).cloned();
        match row {
            Some(row) => break (log, row),
            None if started.elapsed() < std::time::Duration::from_secs(20) => {
                std::thread::sleep(std::time::Duration::from_millis(200))
            }
            None => panic!("no delivery.erased row for {lost}: {log}"),
        }
    };
    assert_eq!((erased["target"].as_str(), erased["actor"].as_str()), (Some(lost.as_str()), Some("system")));
    let metadata: Value = serde_json::from_str(erased["metadata"].as_str().unwrap()).unwrap();
    assert!(metadata["receipt"].as_str().is_some_and(|r| r.len() == 36), "{erased}");
    assert!(actions_of(&studio_log).iter().any(|a| a == "delivery.invitation_expired"));
    let erased =
        server.sql(&format!("SELECT COUNT(*) FROM families WHERE id = '{lost_family}' AND erased_at IS NOT NULL"));
    assert_eq!(erased.unwrap(), "1", "the family's key destroyed, with a receipt");
    assert_eq!(sam.in_delivery(&lost).get("/v1/recordings").status(), StatusCode::GONE);

    // The studio's records: exported for an admin, then deleted on its request once no
    // delivery is open (its audit chain, append-only evidence, stays).
    assert_eq!(sam.get("/v1/studio/export").status(), StatusCode::FORBIDDEN);
    let exported = ana.get("/v1/studio/export");
    assert!(exported.headers()["content-disposition"].to_str().unwrap().contains("studio-lumen.json"));
    let records: Value = exported.json().unwrap();
    assert_eq!(records["studio"]["name"], "Lumen Studio");
    assert!(records["deliveries"].as_array().unwrap().iter().any(|d| d["customer"] == "Ana and Luis García"));
    assert!(records["audit"].as_array().unwrap().iter().any(|r| r["action"] == "delivery.handed_off"));
    let open = sam.ok(sam.post("/v1/studio/deliveries", json!({ "customer": "Still open" })));
    let erase =
        |confirm: &str| ana.req(Method::DELETE, "/v1/studio").json(&json!({ "confirm": confirm })).send().unwrap();
    assert_eq!(erase("lumen").status(), StatusCode::CONFLICT, "a delivery is open");
    assert_eq!(erase("other").status(), StatusCode::BAD_REQUEST);
    ana.ok(ana.req(Method::DELETE, &format!("/v1/studio/deliveries/{}", open["id"].as_str().unwrap())).send().unwrap());
    assert_eq!(erase("lumen").status(), StatusCode::NO_CONTENT);
    assert_eq!(ana.get("/v1/studio").status(), StatusCode::GONE);
    assert_eq!(server.sql("SELECT COUNT(*) FROM studio_staff WHERE studio_id = 'lumen'").unwrap(), "0");
    assert_eq!(
        server.sql("SELECT COUNT(*) FROM deliveries WHERE studio_id = 'lumen' AND customer <> ''").unwrap(),
        "0"
    );
    assert!(
        server.sql("SELECT COUNT(*) FROM audit_log WHERE tenant = 'lumen' AND action = 'studio.erased'").unwrap()
            == "1"
    );
    assert_eq!(
        luis.ok(luis.get("/v1/recordings"))["items"].as_array().unwrap().len(),
        1,
        "the family keeps what it owns"
    );
}

/// The family's audit rows of `action` with `outcome`.
fn family_of(owner: &Api, action: &str, outcome: &str) -> Vec<Value> {
    let log = owner.ok(owner.get("/v1/family/audit?limit=500"));
    log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == action && r["outcome"] == outcome)
        .cloned()
        .collect()
}

/// Parents who keep their recordings in Vault already invite the studio into their own
/// vault: the delivery starts accepted, with the family's key; the studio sees only
/// what it uploads in that delivery, never the family's other recordings, and its
/// access ends at its date or when an owner ends it, audibly in both logs.
fn a_family_invites_a_studio_into_its_own_vault(backend: Backend) {
    let server = Server::start_with(backend, &[("VAULT_UPLOAD_SWEEP_SECS", "1")]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let (own, _) = alice.upload("our own video", &media(3000, 1));
    alice.ok(alice.post("/v1/family/members", json!({ "user_id": "dave", "role": "member" })));
    let dave = server.as_user("smiths", "dave");
    let ana = server.as_user("lumen", "ana");
    ana.ok(ana.post("/v1/studios", json!({ "name": "Lumen Studio" })));
    ana.ok(ana.post("/v1/studio/staff", json!({ "user_id": "sam", "role": "staff" })));
    let sam = server.as_user("lumen", "sam");

    // Owners and admins invite a studio; members do not.
    let invite = |who: &Api, body: Value| who.post("/v1/family/studio-invitations", body);
    assert_eq!(invite(&dave, json!({ "name": "Lumen" })).status(), StatusCode::FORBIDDEN);
    assert_eq!(invite(&alice, json!({ "name": "" })).status(), StatusCode::BAD_REQUEST);
    assert_eq!(invite(&alice, json!({ "name": "x", "expires_in_days": 31 })).status(), StatusCode::BAD_REQUEST);
    let made = alice.ok(invite(&alice, json!({ "name": "Lumen" })));
    let secret = made["secret"].as_str().unwrap().to_owned();
    assert_eq!(made["invitation"]["state"], "pending");
    let digest = hex::encode(sha2::Sha256::digest(secret.as_bytes()));
    let stored = server.sql("SELECT secret_sha256 FROM studio_invitations").unwrap();
    assert_eq!(stored, digest, "only the secret's digest is kept");

    // The studio starts its delivery with the secret: once, into the family's vault.
    let start = |body: Value| sam.post("/v1/studio/deliveries", body);
    assert_eq!(start(json!({ "customer": "Smiths", "family_invitation": "short" })).status(), StatusCode::BAD_REQUEST);
    let guess = "A".repeat(43);
    assert_eq!(start(json!({ "customer": "Smiths", "family_invitation": guess })).status(), StatusCode::NOT_FOUND);
    let d = sam.ok(start(json!({ "customer": "Smiths", "family_invitation": secret })));
    assert_eq!((d["state"].as_str(), d["family_id"].as_str()), (Some("accepted"), Some("smiths")));
    assert_eq!(d["into_family_vault"], true);
    let week = d["contribute_until"].as_i64().unwrap() - now_ms();
    assert!((6 * 86_400_000..=7 * 86_400_000).contains(&week), "a week by default: {d}");
    let delivery = d["id"].as_str().unwrap().to_owned();
    assert_eq!(start(json!({ "customer": "Smiths", "family_invitation": secret })).status(), StatusCode::GONE);
    assert_eq!(alice.ok(alice.get("/v1/family/studio-invitations"))[0]["state"], "accepted");

    // A contributor: never the family's own recordings, members, log or export.
    let contributor = sam.in_delivery(&delivery);
    assert!(contributor.ok(contributor.get("/v1/recordings"))["items"].as_array().unwrap().is_empty());
    assert_eq!(contributor.get(&format!("/v1/recordings/{own}")).status(), StatusCode::NOT_FOUND);
    assert_eq!(contributor.post(&format!("/v1/recordings/{own}/key"), json!({})).status(), StatusCode::NOT_FOUND);
    for path in ["/v1/family", "/v1/family/members", "/v1/family/audit", "/v1/family/deliveries"] {
        assert_eq!(contributor.get(path).status(), StatusCode::FORBIDDEN, "{path}");
    }
    let scan = media(200_000, 2);
    let (scan_id, _) = contributor.upload("", &scan);
    let seen = contributor.ok(contributor.get("/v1/recordings"));
    assert_eq!(seen["items"].as_array().unwrap().len(), 1);
    assert_eq!(seen["items"][0]["id"], scan_id.as_str());
    // The family's vault: the studio cannot erase the delivery, nor anything of the
    // family's; while its access lasts it may discard a mistake of its own. Another
    // studio reaches none of it.
    let erase_it = ana.req(Method::DELETE, &format!("/v1/studio/deliveries/{delivery}")).send().unwrap();
    assert_eq!(erase_it.status(), StatusCode::CONFLICT);
    let (mistake, _) = contributor.upload("", &media(500, 9));
    contributor.ok(contributor.req(Method::DELETE, &format!("/v1/recordings/{mistake}")).send().unwrap());
    let delete_own = contributor.req(Method::DELETE, &format!("/v1/recordings/{own}")).send().unwrap();
    assert_eq!(delete_own.status(), StatusCode::NOT_FOUND);
    let bo = server.as_user("bright", "bo");
    bo.ok(bo.post("/v1/studios", json!({ "name": "Bright" })));
    assert_eq!(bo.in_delivery(&delivery).get("/v1/recordings").status(), StatusCode::NOT_FOUND);

    // The family plays it, sees the studio at work, and ends its access.
    assert_eq!(decrypt_all(&alice.content(&scan_id), &alice.data_key(&scan_id), "smiths", &scan_id), scan);
    assert_eq!(dave.get("/v1/family/deliveries").status(), StatusCode::FORBIDDEN);
    let studios = alice.ok(alice.get("/v1/family/deliveries"));
    assert_eq!(studios[0]["studio_name"], "Lumen Studio");
    assert_eq!((studios[0]["state"].as_str(), studios[0]["recordings"].as_u64()), (Some("accepted"), Some(1)));
    let end = |id: &str| alice.post(&format!("/v1/family/deliveries/{id}/end"), json!({}));
    assert_eq!(dave.post(&format!("/v1/family/deliveries/{delivery}/end"), json!({})).status(), StatusCode::FORBIDDEN);
    assert_eq!(end("00000000-0000-0000-0000-000000000000").status(), StatusCode::NOT_FOUND);
    assert_eq!(end(&delivery).status(), StatusCode::NO_CONTENT);
    assert_eq!(end(&delivery).status(), StatusCode::CONFLICT, "ended already");
    assert_eq!(contributor.get("/v1/recordings").status(), StatusCode::GONE);
    assert_eq!(wait_for_delivery(&sam, &delivery, "handed-off")["recordings"], 1);
    let studio_log = ana.ok(ana.get("/v1/studio/audit?limit=500"));
    let family_log = alice.ok(alice.get("/v1/family/audit?limit=500"));
    for (log, actions) in [
        (&studio_log, &["delivery.created", "delivery.handed_off"][..]),
        (&family_log, &["studio.invited", "delivery.created", "recording.created", "delivery.handed_off"][..]),
    ] {
        for action in actions {
            let rows = log["items"].as_array().unwrap();
            assert!(rows.iter().any(|r| r["action"] == *action && r["outcome"] == "success"), "{action}: {log}");
        }
    }
    let ended = family_log["items"].as_array().unwrap().iter().find(|r| r["action"] == "delivery.handed_off").unwrap();
    assert_eq!(ended["actor"], "alice");

    // Invited back for another session: that delivery sees nothing of the first, and
    // the studio's date ends it (the job, as the hand-off of any delivery).
    let again = alice.ok(invite(&alice, json!({ "name": "Lumen again" })));
    let until = now_ms() + 5_000;
    let second = sam.ok(start(json!({ "customer": "Smiths", "family_invitation": again["secret"],
        "contribute_until": until })));
    let second_id = second["id"].as_str().unwrap().to_owned();
    let back = sam.in_delivery(&second_id);
    assert!(back.ok(back.get("/v1/recordings"))["items"].as_array().unwrap().is_empty());
    assert_eq!(back.get(&format!("/v1/recordings/{scan_id}")).status(), StatusCode::NOT_FOUND);
    back.upload("", &media(1000, 3));
    wait_for_delivery(&sam, &second_id, "handed-off");
    assert_eq!(back.get("/v1/recordings").status(), StatusCode::GONE);
    assert_eq!(alice.ok(alice.get("/v1/recordings"))["items"].as_array().unwrap().len(), 3);

    // Revoked, expired, or made by someone no longer an admin: it admits no studio.
    let revoked = alice.ok(invite(&alice, json!({ "name": "r" })));
    let id = revoked["invitation"]["id"].as_str().unwrap();
    alice.ok(alice.req(Method::DELETE, &format!("/v1/family/studio-invitations/{id}")).send().unwrap());
    assert_eq!(start(json!({ "customer": "x", "family_invitation": revoked["secret"] })).status(), StatusCode::GONE);
    let expired = alice.ok(invite(&alice, json!({ "name": "e" })));
    let id = expired["invitation"]["id"].as_str().unwrap();
    server.sql(&format!("UPDATE studio_invitations SET expires_at = 1 WHERE id = '{id}'")).unwrap();
    assert_eq!(start(json!({ "customer": "x", "family_invitation": expired["secret"] })).status(), StatusCode::GONE);
    let tried = family_of(&alice, "delivery.created", "denied");
    assert!(tried.iter().any(|r| r["target"] == id), "the family sees its withdrawn link tried: {tried:?}");
    let role = |to: &str| {
        let body = json!({ "role": to });
        alice.ok(alice.req(Method::PATCH, "/v1/family/members/dave").json(&body).send().unwrap());
    };
    role("admin");
    let daves = dave.ok(invite(&dave, json!({ "name": "d" })));
    let let_in = dave.ok(invite(&dave, json!({ "name": "l" })));
    let by_dave = sam.ok(start(json!({ "customer": "x", "family_invitation": let_in["secret"] })));
    let by_dave = sam.in_delivery(by_dave["id"].as_str().unwrap());
    by_dave.ok(by_dave.get("/v1/recordings"));
    role("member");
    assert_eq!(start(json!({ "customer": "x", "family_invitation": daves["secret"] })).status(), StatusCode::GONE);
    assert_eq!(by_dave.get("/v1/recordings").status(), StatusCode::GONE, "its inviter is no longer an admin");
    // No studio's retention policy reaches the family's own vault.
    ana.ok(ana.req(Method::PUT, "/v1/studio/policy").json(&json!({ "unclaimed_days": 0 })).send().unwrap());
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(server.sql("SELECT COUNT(*) FROM families WHERE id = 'smiths' AND erased_at IS NULL").unwrap(), "1");
    assert_eq!(alice.ok(alice.get("/v1/recordings"))["items"].as_array().unwrap().len(), 3);
}

/// A hand-off date that has passed before the deliveries job ran (its default round is
/// 5 minutes): the views say handed off on that date, the family may no longer "end"
/// it, and the family's erasure records the hand-off (both logs) instead of showing
/// the studio an erasure that is no longer its business.
fn a_passed_hand_off_date_counts_before_the_job_records_it(backend: Backend) {
    let server = Server::start(backend);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let ana = server.as_user("lumen", "ana");
    ana.ok(ana.post("/v1/studios", json!({ "name": "Lumen Studio" })));
    let made = alice.ok(alice.post("/v1/family/studio-invitations", json!({ "name": "Lumen" })));
    let until = now_ms() + 1_500;
    let d = ana.ok(ana.post(
        "/v1/studio/deliveries",
        json!({ "customer": "Smiths", "family_invitation": made["secret"], "contribute_until": until }),
    ));
    let id = d["id"].as_str().unwrap().to_owned();
    assert_eq!(d["state"], "accepted");
    let studio_view = || {
        let list = ana.ok(ana.get("/v1/studio/deliveries"));
        list.as_array().unwrap().iter().find(|d| d["id"] == id.as_str()).unwrap().clone()
    };
    while now_ms() <= until {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let seen = studio_view();
    assert_eq!((seen["state"].as_str(), seen["handed_off_at"].as_i64()), (Some("handed-off"), Some(until)), "{seen}");
    let family = alice.ok(alice.get("/v1/family/deliveries"));
    assert_eq!((family[0]["state"].as_str(), family[0]["handed_off_at"].as_i64()), (Some("handed-off"), Some(until)));
    assert_eq!(
        server.sql(&format!("SELECT COUNT(*) FROM deliveries WHERE id = '{id}' AND handed_off_at IS NULL")).unwrap(),
        "1",
        "the job has not run"
    );
    let (s, body) = status(alice.post(&format!("/v1/family/deliveries/{id}/end"), json!({})));
    assert_eq!(s, StatusCode::CONFLICT, "its date ended it, not the family: {body}");

    alice.ok(alice.req(Method::DELETE, "/v1/family").json(&json!({ "confirm": "smiths" })).send().unwrap());
    let seen = studio_view();
    assert_eq!((seen["state"].as_str(), seen["handed_off_at"].as_i64()), (Some("handed-off"), Some(until)), "{seen}");
    assert_eq!(
        server.sql(&format!("SELECT handed_off_at FROM deliveries WHERE id = '{id}'")).unwrap(),
        until.to_string(),
        "recorded on its date"
    );
    let log = ana.ok(ana.get("/v1/studio/audit?limit=500"));
    let rows: Vec<_> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "delivery.handed_off" && r["target"] == id.as_str())
        .collect();
    assert_eq!(rows.len(), 1, "{log}");
    assert!(!log.to_string().contains("delivery.erased"), "the studio is not told of the erasure: {log}");
}

fn a_studio_delivers_from_the_cli(backend: Backend) {
    let server = Server::start(backend);
    let dir = tempfile::tempdir().unwrap();
    let ana = server.as_user("lumen", "ana");
    ana.ok(ana.post("/v1/studios", json!({ "name": "Lumen" })));
    let vault = |args: &[&str]| {
        Command::new(vault_bin())
            .args(["client", "--server", &server.url])
            .args(args)
            .env("VAULT_TOKEN", &ana.token)
            .output()
            .unwrap()
    };
    let err = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();
    let (scan, story) = (dir.path().join("Heartbeat at 20 weeks.wav"), dir.path().join("Letter.txt"));
    let (scan_bytes, story_bytes) = (media(2 * 1024 * 1024 + 7, 31), media(1000, 32));
    std::fs::write(&scan, &scan_bytes).unwrap();
    std::fs::write(&story, &story_bytes).unwrap();
    let bad = vault(&["deliver", "--customer", "x", "--recorded-on", "27/11/2026", scan.to_str().unwrap()]);
    assert!(
        !bad.status.success() && err(&bad).contains("--recorded-on takes a date such as 2026-11-27"),
        "{}",
        err(&bad)
    );
    let out = vault(&[
        "deliver",
        "--customer",
        "Ana & Luis García",
        "--recorded-on",
        "2026-11-27",
        scan.to_str().unwrap(),
        story.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", err(&out));
    assert!(err(&out).contains("2 recording(s), invited"), "{}", err(&out));
    assert!(err(&out).contains("send this link to the parents; it works once, until"), "{}", err(&out));
    let link = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let fragment = link.strip_prefix(&format!("{}/#invite=", server.url)).unwrap_or_else(|| panic!("{link}"));
    let (secret, rest) = fragment.split_once("&family=").unwrap();
    let (family, name) = rest.split_once("&name=").unwrap();
    assert_eq!(name, "Ana%20%26%20Luis%20Garc%C3%ADa", "as the page's encodeURIComponent writes it");

    // The parent accepts and owns both, with their sealed titles and date.
    let luis = server.as_user(family, "luis");
    assert_eq!(luis.ok(luis.post("/v1/invitations/accept", json!({ "secret": secret })))["role"], "owner");
    let library = luis.ok(luis.post("/v1/family/library-key", json!({})));
    let library_key = vault_core::DataKey::try_from_slice(
        &base64::engine::general_purpose::STANDARD.decode(library["data_key"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let items = luis.ok(luis.get("/v1/recordings"))["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    for (title, bytes) in [("Heartbeat at 20 weeks", &scan_bytes), ("Letter", &story_bytes)] {
        let r = items.iter().find(|r| {
            let sealed = base64::engine::general_purpose::STANDARD.decode(r["details"].as_str().unwrap()).unwrap();
            let details: Value =
                serde_json::from_slice(&decrypt_all(&sealed, &library_key, family, "library")).unwrap();
            details["title"] == title && details["recorded_on"] == "2026-11-27"
        });
        let r = r.unwrap_or_else(|| panic!("{title} not delivered: {items:?}"));
        assert_eq!(r["title"], "", "the title is sealed, never in the clear");
        let id = r["id"].as_str().unwrap();
        assert_eq!(&decrypt_all(&luis.content(id), &luis.data_key(id), family, id), bytes);
    }
    // The studio's view: handed off; adding more is refused in plain words.
    let list = vault(&["deliveries"]);
    let listed = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(listed.contains("\tAna & Luis García\thanded-off\t2 recordings\t"), "{listed}");
    let delivery = listed.split('\t').next().unwrap().to_owned();
    let late = vault(&["deliver", "--delivery", &delivery, scan.to_str().unwrap()]);
    assert!(!late.status.success() && err(&late).contains("handed off"), "{}", err(&late));

    // Into a family's own vault, with the family's link (from the environment, off the
    // command line) and a hand-off date.
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let invited = alice.ok(alice.post("/v1/family/studio-invitations", json!({ "name": "Lumen" })));
    let link = format!("{}/studio.html#family-invite={}", server.url, invited["secret"].as_str().unwrap());
    let day = time::OffsetDateTime::now_utc().date() + time::Duration::days(3);
    let until = format!("{:04}-{:02}-{:02}", day.year(), u8::from(day.month()), day.day());
    let into = Command::new(vault_bin())
        .args(["client", "--server", &server.url, "deliver", "--customer", "Smiths", "--until", &until])
        .arg(story.to_str().unwrap())
        .env("VAULT_TOKEN", &ana.token)
        .env("VAULT_FAMILY_INVITE", &link)
        .output()
        .unwrap();
    assert!(into.status.success(), "{}", err(&into));
    assert!(err(&into).contains("1 recording(s), accepted"), "{}", err(&into));
    assert!(err(&into).contains("delivered into the family's own vault; the studio may add until"), "{}", err(&into));
    let mine = alice.ok(alice.get("/v1/recordings"))["items"].as_array().unwrap().clone();
    assert_eq!(mine.len(), 1);
    let id = mine[0]["id"].as_str().unwrap();
    assert_eq!(decrypt_all(&alice.content(id), &alice.data_key(id), "smiths", id), story_bytes);
    let studios = alice.ok(alice.get("/v1/family/deliveries"));
    let end_of_day = day.with_hms(23, 59, 59).unwrap().assume_utc().unix_timestamp() * 1000;
    assert_eq!(studios[0]["contribute_until"].as_i64(), Some(end_of_day), "the end of --until's day");
}

per_backend! {
    client_side_upload_list_and_ranged_playback,
    server_side_encryption_streams_plaintext_in,
    cli_walkthrough_matches_the_readme,
    the_cli_speaks_to_newcomers_in_plain_words,
    a_development_token_renews_only_itself_for_this_machine,
    cross_tenant_matrix_denies_and_audits,
    bad_tokens_are_refused,
    malformed_uploads_are_refused_and_nothing_is_committed,
    killed_mid_upload_resumes_and_abandoned_uploads_expire,
    parts_after_the_first_arrive_in_any_order_and_at_once,
    refusals_cannot_flood_the_audit_log,
    a_second_request_for_an_upload_being_received_is_refused,
    static_files_never_redirect_off_site_nor_fail_on_long_names,
    roles_and_membership_rules,
    invitation_links_let_a_relative_join_once_before_they_expire,
    share_links_open_without_an_account_within_their_limits,
    studios_deliver_and_hand_off_to_the_family,
    a_family_invites_a_studio_into_its_own_vault,
    a_passed_hand_off_date_counts_before_the_job_records_it,
    a_studio_delivers_from_the_cli,
    the_library_keeps_details_and_posters_encrypted_and_erasure_clears_them,
    key_release_is_rate_limited,
    audit_verify_detects_a_row_edited_in_the_database,
    active_content_types_are_stored_as_octet_stream,
    no_family_id_can_read_the_system_audit_chain,
    a_header_with_extra_context_pairs_is_refused,
    every_ranged_read_that_starts_a_session_is_audited_once,
    ranges_follow_rfc_9110,
    only_its_creator_uploads_to_a_pending_recording,
    names_and_ids_with_invisible_or_reordering_characters_are_refused,
    every_refusal_is_a_problem_document_with_a_fixed_message,
    openapi_document_matches_the_routes,
    operations_endpoints_headers_and_graceful_shutdown,
    external_oidc_issuer_with_rs256_jwks_rotation_and_refresh_limits,
    graceful_shutdown_drains_an_upload_under_way,
}
