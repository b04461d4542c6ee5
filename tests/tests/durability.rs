#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "test code: a panic is a failed test")]
//! Durability promises, on both backends (a local replica directory or S3 in a second
//! region): the integrity scrub (damage behind the server's back, repaired as new
//! versions), exports that the official Python SDK decrypts, erasure (recording and
//! family) with signed receipts, and audit anchors that catch deleted rows.

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use vault_tests::*;

/// Runs `vault scrub`; returns (success, signed report, payload).
fn scrub(server: &Server, report: &Path) -> (bool, Value, Value) {
    let out = server.vault(&["scrub", "--report", report.to_str().unwrap()]);
    let envelope: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("no report: {}", String::from_utf8_lossy(&out.stderr)));
    let payload: Value = serde_json::from_str(envelope["payload"].as_str().unwrap()).unwrap();
    (out.status.success(), envelope, payload)
}

fn public_key(server: &Server) -> String {
    let key: Value = server.http.get(format!("{}/v1/signing-key", server.url)).send().unwrap().json().unwrap();
    assert_eq!(key["algorithm"], "Ed25519");
    key["public_key"].as_str().unwrap().to_owned()
}

fn verify_receipt(server: &Server, file: &Path, kind: &str) -> std::process::Output {
    server.vault(&["verify-receipt", file.to_str().unwrap(), "--public-key", &public_key(server), "--kind", kind])
}

fn actions(server: &Server, family: &str) -> Vec<String> {
    let rows = server.sql(&format!("SELECT action FROM audit_log WHERE tenant = '{family}' ORDER BY seq")).unwrap();
    rows.lines().map(str::to_owned).collect()
}

fn scrub_repairs_a_corrupted_primary_and_a_deleted_replica_as_new_versions(backend: Backend) {
    let server = Server::replicated(backend, &[]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let uploads: Vec<(String, Vec<u8>)> =
        (0..3).map(|i| alice.upload(&format!("r{i}"), &media((1 << 20) + i * 777, i as u8))).collect();
    for (id, _) in &uploads {
        wait_replicated(&alice, id, Duration::from_secs(30));
    }
    let (damaged, gone, healthy) = (&uploads[0].0, &uploads[1].0, &uploads[2].0);
    server.damage(Region::Primary, &server.object_key(damaged), 5000);
    server.remove(Region::Replica, &server.object_key(gone));
    assert_ne!(server.stored_recording(Region::Primary, damaged).unwrap(), uploads[0].1);

    let report_file = server.dir.join("scrub-report.json");
    let (ok, _, report) = scrub(&server, &report_file);
    assert!(ok, "{report}");
    assert_eq!(
        (report["checked"].as_i64(), report["repaired"].as_i64(), report["failed"].as_i64()),
        (Some(3), Some(2), Some(0)),
        "{report}"
    );
    assert_eq!(report["regions"], json!(["primary", "replica"]));
    let findings = report["findings"].as_array().unwrap();
    let finding = |id: &str| findings.iter().find(|f| f["recording_id"] == id).unwrap_or_else(|| panic!("{report}"));
    assert_eq!(
        (finding(damaged)["region"].as_str(), finding(damaged)["problem"].as_str()),
        (Some("primary"), Some("mismatch"))
    );
    assert_eq!(
        (finding(gone)["region"].as_str(), finding(gone)["problem"].as_str()),
        (Some("replica"), Some("missing"))
    );
    assert!(findings.iter().all(|f| f["action"] == "repaired" && f["recording_id"] != healthy.as_str()), "{report}");

    // Both copies hold the original bytes again; the damaged version was kept.
    for (id, message) in &uploads {
        for region in [Region::Primary, Region::Replica] {
            assert_eq!(server.stored_recording(region, id).as_ref(), Some(message), "{region:?}");
        }
        assert_eq!(alice.content(id), *message);
    }
    // Local: the original, the damaged one set aside, the repair. S3: the original,
    // the damaged one written over it, the repair.
    let versions = server.versions(Region::Primary, &server.object_key(damaged));
    assert_eq!(versions, if backend == Backend::Aws { 3 } else { 2 }, "the damaged version must be kept");
    // The repairs are in the family's audit chain, the run in the system chain.
    assert_eq!(actions(&server, "smiths").iter().filter(|a| *a == "recording.repaired").count(), 2);
    assert!(actions(&server, "-").contains(&"scrub.completed".to_owned()));
    // The report is signed by the service's key; an edited report fails.
    let out = verify_receipt(&server, &report_file, "vault.scrub-report");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&report_file).unwrap().replace("\\\"repaired\\\":2", "\\\"repaired\\\":0");
    std::fs::write(&report_file, text).unwrap();
    assert!(!verify_receipt(&server, &report_file, "vault.scrub-report").status.success());

    // A second run finds nothing wrong.
    let (ok, _, again) = scrub(&server, &report_file);
    assert!(ok);
    assert_eq!((again["healthy"].as_i64(), again["findings"].as_array().unwrap().len()), (Some(3), 0), "{again}");
}

fn scrub_reports_an_object_damaged_in_every_region_and_fails(backend: Backend) {
    let server = Server::replicated(backend, &[]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let (id, message) = alice.upload("scan", &media(300_000, 9));
    wait_replicated(&alice, &id, Duration::from_secs(30));
    server.damage(Region::Primary, &server.object_key(&id), 100);
    server.remove(Region::Replica, &server.object_key(&id));
    let (ok, _, report) = scrub(&server, &server.dir.join("r.json"));
    assert!(!ok, "a scrub that leaves damage must fail: {report}");
    assert_eq!(report["failed"], 1);
    assert!(report["findings"].as_array().unwrap().iter().all(|f| f["action"] == "unrepairable"), "{report}");
    assert!(actions(&server, "smiths").contains(&"recording.integrity_failed".to_owned()));
    // Nothing was "repaired" from a bad source: the damaged copy is as the disk left it.
    let now_stored = server.stored_recording(Region::Primary, &id).unwrap();
    assert_eq!(now_stored.len(), message.len());
    assert_ne!(now_stored, message);
}

fn an_interrupted_scrub_resumes_after_the_last_recording_it_checked(backend: Backend) {
    let server = Server::replicated(backend, &[]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let mut ids: Vec<String> = (0..4).map(|i| alice.upload(&format!("r{i}"), &media(100_000, i)).0).collect();
    ids.sort();
    // A run that checked the first two and then died (its heartbeat is an hour old).
    let stale = now() as i64 * 1000 - 3_600_000;
    server
        .sql(&format!(
            "INSERT INTO scrub_runs (id, started_at, heartbeat_at, cursor, checked, healthy, repaired, failed, bytes_read) \
             VALUES ('crashed-run', {stale}, {stale}, '{}', 2, 2, 0, 0, 1000)",
            ids[1]
        ))
        .unwrap();
    let (ok, _, report) = scrub(&server, &server.dir.join("r.json"));
    assert!(ok, "{report}");
    assert_eq!(report["run_id"], "crashed-run");
    assert_eq!(report["resumed"], true);
    assert_eq!(report["checked"], 4, "2 before the crash + the 2 after the cursor: {report}");
    // The next run is a fresh one over everything.
    let (_, _, next) = scrub(&server, &server.dir.join("r.json"));
    assert_eq!((next["resumed"].as_bool(), next["checked"].as_i64()), (Some(false), Some(4)));
}

fn the_daily_job_scrubs_and_anchors_on_its_own_and_counts_it_in_metrics(backend: Backend) {
    let server = Server::replicated(backend, &[("VAULT_SCRUB_INTERVAL_SECS", "1")]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    alice.upload("scan", &media(50_000, 1));
    let start = Instant::now();
    loop {
        let metrics = server.http.get(format!("{}/metrics", server.url)).send().unwrap().text().unwrap();
        let anchors = server.stored_keys(Region::Primary, "anchors/").len();
        if metrics.lines().any(|l| l.starts_with("vault_scrub_runs_total ") && !l.ends_with(" 0")) && anchors > 0 {
            assert!(metrics.contains("vault_scrub_objects_total"), "{metrics}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no scheduled scrub and anchor: {metrics}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn an_export_decrypts_with_the_official_python_sdk_from_the_cli_and_the_owner_api(backend: Backend) {
    let mut server = Server::start(backend);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    alice.invite("bob", "admin");
    let a = media(3 << 20, 1);
    let b = media(10_000, 2);
    let (id_a, _) = alice.upload("first scan", &a);
    let (id_b, _) = alice.upload("letter", &b);
    let (id_c, _) = alice.upload("deleted", &media(1000, 3));
    alice.ok(alice.req(Method::DELETE, &format!("/v1/recordings/{id_c}")).send().unwrap());

    // The operator's CLI: the recovery key is its only stdout line.
    let archive = server.dir.join("smiths.tar");
    let out = server.vault(&["export", "--family", "smiths", "-o", archive.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(key.len(), 64);
    let plain = decrypt_export(&archive, &key);
    assert_eq!(plain.len(), 2, "deleted recordings are not exported");
    assert_eq!(plain[&id_a], a);
    assert_eq!(plain[&id_b], b);

    // The owner's API: the key once, then a one-time link the browser downloads.
    let bob = server.as_user("smiths", "bob");
    let (s, _) = status(bob.post("/v1/family/export", json!({})));
    assert_eq!(s, StatusCode::FORBIDDEN, "only an owner exports");
    let started = alice.ok(alice.post("/v1/family/export", json!({})));
    let (s, _) = status(alice.post("/v1/family/export", json!({})));
    assert_eq!(s, StatusCode::CONFLICT, "one export waits at a time per family");
    // The link waits in the database, opening nothing there: neither the token nor the
    // recovery key is stored as such. Any instance answers it (here: one restarted).
    let path = started["download"].as_str().unwrap().to_owned();
    let token = path.rsplit('/').next().unwrap().to_owned();
    let recovery_key = started["recovery_key"].as_str().unwrap().to_owned();
    let stored = server.sql("SELECT token_sha256 || ' ' || sealed || ' ' || export_id FROM export_links").unwrap();
    assert!(stored.contains(&hex::encode(Sha256::digest(token.as_bytes()))), "{stored}");
    assert!(!stored.contains(&token) && !stored.contains(&recovery_key), "{stored}");
    let sealed = B64.decode(stored.split(' ').nth(1).unwrap()).unwrap();
    let key_bytes = hex::decode(&recovery_key).unwrap();
    assert!(sealed.windows(32).all(|w| w != key_bytes.as_slice()), "the recovery key is sealed");
    server.kill_and_restart();
    let wrong = format!("{}/v1/exports/{}", server.url, "0".repeat(64));
    assert_eq!(server.http.get(&wrong).send().unwrap().status(), StatusCode::NOT_FOUND);
    let link = format!("{}{path}", server.url);
    let response = server.http.get(&link).send().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-tar");
    let from_api = server.dir.join("api.tar");
    std::fs::write(&from_api, response.bytes().unwrap()).unwrap();
    let plain = decrypt_export(&from_api, started["recovery_key"].as_str().unwrap());
    assert_eq!((plain[&id_a].len(), plain[&id_b].clone()), (a.len(), b.clone()));
    assert_eq!(server.http.get(&link).send().unwrap().status(), StatusCode::NOT_FOUND, "the link works once");
    assert_eq!(server.sql("SELECT COUNT(*) FROM export_links").unwrap(), "0", "and is gone once used");
    let rows = actions(&server, "smiths");
    assert_eq!(rows.iter().filter(|a| *a == "family.exported").count(), 2, "{rows:?}");
    assert!(rows.contains(&"family.export_started".to_owned()));
}

fn an_export_with_a_wrong_recovery_key_or_an_altered_object_decrypts_nothing(backend: Backend) {
    let server = Server::start(backend);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let (id, message) = alice.upload("scan", &media(50_000, 1));
    let archive = server.dir.join("x.tar");
    let out = server.vault(&["export", "--family", "smiths", "-o", archive.to_str().unwrap()]);
    assert!(out.status.success());
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let dir = unpack_export(&archive);
    let decrypt = |key: &str| {
        let plain = dir.path().join("plain");
        let _ = std::fs::remove_dir_all(&plain);
        let out = run_decrypt_py(dir.path(), key, &plain);
        (out.status.success(), std::fs::read_dir(&plain).unwrap().count())
    };
    assert_eq!(decrypt(&"11".repeat(32)), (false, 0), "a wrong key opens nothing and leaves nothing");
    // One bit flipped in the last frame of the stored object: the official SDK refuses
    // it even with the right data key (commitment, header and frame tags are checked).
    let object = dir.path().join(format!("objects/{id}.esdk"));
    let mut bytes = std::fs::read(&object).unwrap();
    assert_eq!(bytes, message);
    let at = bytes.len() - 20;
    bytes[at] ^= 1;
    std::fs::write(&object, &bytes).unwrap();
    assert_eq!(decrypt(&key), (false, 0), "an altered object yields no plaintext file");
    bytes[at] ^= 1;
    std::fs::write(&object, &bytes).unwrap();
    assert_eq!(decrypt(&key), (true, 1));
}

fn erasing_a_recording_destroys_its_keys_now_and_its_objects_once_retention_ends(backend: Backend) {
    let server = Server::replicated(backend, &[("VAULT_UPLOAD_SWEEP_SECS", "1")]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let (id, message) = alice.upload("scan", &media(200_000, 4));
    wait_replicated(&alice, &id, Duration::from_secs(30));
    let response = alice.req(Method::DELETE, &format!("/v1/recordings/{id}")).send().unwrap();
    let receipt = alice.ok(response);
    let file = server.dir.join("receipt.json");
    std::fs::write(&file, receipt.to_string()).unwrap();
    let out = verify_receipt(&server, &file, "vault.erasure-receipt");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let payload: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(payload["scope"], "recording");
    assert_eq!(payload["objects"][0]["ciphertext_sha256"], hex::encode(Sha256::digest(&message)));
    // One wrapped key per region's KMS key on AWS; one under the family key file here.
    let wrapped = if backend == Backend::Aws { 2 } else { 1 };
    assert_eq!(payload["objects"][0]["wrapped_keys_destroyed"], wrapped);

    // At once: no key release, no content, the wrapped keys are gone from the database.
    let (s, _) = status(alice.post(&format!("/v1/recordings/{id}/key"), json!({})));
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(server.sql(&format!("SELECT edks FROM recordings WHERE id = '{id}'")).unwrap(), "[]");
    // Object Lock still holds the ciphertext (both regions) until its retention ends.
    std::thread::sleep(Duration::from_secs(2));
    let key = server.object_key(&id);
    let held = |region| server.stored(region, &key).is_some();
    assert!(held(Region::Primary) && held(Region::Replica));

    // Retention ends (moved into the past behind the server's back): the purge job
    // deletes both copies and records it.
    server.expire_retention(&id);
    let start = Instant::now();
    while held(Region::Primary) || held(Region::Replica) {
        assert!(start.elapsed() < Duration::from_secs(30), "not purged");
        std::thread::sleep(Duration::from_millis(200));
    }
    let start = Instant::now();
    while !actions(&server, "smiths").contains(&"recording.purged".to_owned()) {
        assert!(start.elapsed() < Duration::from_secs(10), "no purge audit row");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_ne!(server.sql(&format!("SELECT purged_at FROM recordings WHERE id = '{id}'")).unwrap(), "");
}

fn a_trashed_recording_is_refused_restorable_and_erased_with_a_receipt_when_its_time_ends(backend: Backend) {
    let server = Server::replicated(backend, &[("VAULT_UPLOAD_SWEEP_SECS", "1")]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    alice.invite("bob", "member");
    let bob = server.as_user("smiths", "bob");
    let (id, message) = alice.upload("scan", &media(100_000, 5));
    let (theirs, _) = bob.upload("bob's", &media(1000, 6));
    let listed = |who: &Api| -> Vec<String> {
        let page = who.ok(who.get("/v1/recordings"));
        page["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
    };
    // A member may not trash another's recording; its creator may trash their own.
    assert_eq!(bob.post(&format!("/v1/recordings/{id}/trash"), json!({})).status(), StatusCode::FORBIDDEN);
    bob.ok(bob.post(&format!("/v1/recordings/{theirs}/trash"), json!({})));
    // The trash keeps it for the default 30 days, fixed when trashed.
    let trashed = alice.ok(alice.post(&format!("/v1/recordings/{id}/trash"), json!({})));
    let (at, until) =
        (trashed["trash"]["trashed_at"].as_i64().unwrap(), trashed["trash"]["erase_after"].as_i64().unwrap());
    assert_eq!(until - at, 30 * 86_400_000, "{trashed}");
    assert_eq!(trashed["trash"]["trashed_by"], "alice");
    // In the trash: not listed, no metadata, no key, no bytes; twice is a conflict.
    assert!(!listed(&alice).contains(&id));
    assert_eq!(alice.get(&format!("/v1/recordings/{id}")).status(), StatusCode::NOT_FOUND);
    assert_eq!(alice.post(&format!("/v1/recordings/{id}/key"), json!({})).status(), StatusCode::NOT_FOUND);
    assert_eq!(alice.get(&format!("/v1/recordings/{id}/content")).status(), StatusCode::NOT_FOUND);
    assert_eq!(alice.post(&format!("/v1/recordings/{id}/trash"), json!({})).status(), StatusCode::NOT_FOUND);
    let trash = alice.ok(alice.get("/v1/trash"));
    let in_trash: Vec<&str> = trash.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(in_trash.len(), 2, "{trash}");
    assert!(in_trash.contains(&id.as_str()) && in_trash.contains(&theirs.as_str()));
    // Restored: listed and playable again, byte for byte.
    alice.ok(alice.post(&format!("/v1/recordings/{id}/restore"), json!({})));
    assert!(listed(&alice).contains(&id));
    assert_eq!(alice.content(&id), message);
    assert_eq!(alice.post(&format!("/v1/recordings/{id}/restore"), json!({})).status(), StatusCode::NOT_FOUND);
    // Trashed again, and its time ends (moved into the past behind the server's back):
    // the trash job erases it as a deletion does, with a stored receipt.
    alice.ok(alice.post(&format!("/v1/recordings/{id}/trash"), json!({})));
    server.sql(&format!("UPDATE recordings SET trash_until = {} WHERE id = '{id}'", now() as i64 * 1000 - 1)).unwrap();
    let start = Instant::now();
    while server.sql(&format!("SELECT status FROM recordings WHERE id = '{id}'")).unwrap() != "deleted" {
        assert!(start.elapsed() < Duration::from_secs(20), "the trash job did not erase it");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(server.sql(&format!("SELECT edks FROM recordings WHERE id = '{id}'")).unwrap(), "[]");
    let row = server
        .sql(&format!(
            "SELECT actor || ' ' || metadata FROM audit_log WHERE tenant = 'smiths' \
             AND action = 'recording.deleted' AND target = '{id}'"
        ))
        .unwrap();
    assert!(row.starts_with("system ") && row.contains("\"from_trash\":true"), "{row}");
    assert_eq!(server.stored_keys(Region::Primary, "receipts/").len(), 1);
    assert_eq!(alice.post(&format!("/v1/recordings/{id}/restore"), json!({})).status(), StatusCode::NOT_FOUND);
    // Bob's, still within its time, is untouched; "delete forever" erases it at once.
    assert_eq!(server.sql(&format!("SELECT status FROM recordings WHERE id = '{theirs}'")).unwrap(), "committed");
    let receipt = bob.ok(bob.req(Method::DELETE, &format!("/v1/recordings/{theirs}")).send().unwrap());
    assert_eq!(receipt["kind"], "vault.erasure-receipt");
    assert!(alice.ok(alice.get("/v1/trash")).as_array().unwrap().is_empty());
    let rows = actions(&server, "smiths");
    for action in ["recording.trashed", "recording.restored"] {
        assert!(rows.contains(&action.to_owned()), "{action}: {rows:?}");
    }
}

/// Tries to decrypt `message` as a raw AES keyring message with `key` (32 bytes) under
/// the name Vault's embedded family keys use; Ok(plaintext) or Err(error text).
fn try_raw_aes(server: &Server, message: &[u8], key: &[u8], family: &str) -> Result<Vec<u8>, String> {
    let dir = tempfile::tempdir().unwrap();
    let (input, key_file, output) = (dir.path().join("in"), dir.path().join("key"), dir.path().join("out"));
    std::fs::write(&input, message).unwrap();
    std::fs::write(&key_file, hex::encode(key)).unwrap();
    let name = format!("family/{family}");
    let out = server.vault(&[
        "decrypt",
        "--key-file",
        key_file.to_str().unwrap(),
        "--key-namespace",
        "vault-local",
        "--key-name",
        &name,
        "-i",
        input.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
    ]);
    if out.status.success() {
        Ok(std::fs::read(&output).unwrap())
    } else {
        assert!(!output.exists(), "a failed decryption leaves no output");
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Every file under `dir` (the database and its journal included) that holds `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_holding(&path, needle));
        } else if std::fs::read(&path).unwrap().windows(needle.len()).any(|w| w == needle) {
            found.push(path.display().to_string());
        }
    }
    found
}

fn erasing_a_family_destroys_its_key_and_nothing_can_decrypt_its_objects_afterwards(backend: Backend) {
    let mut server = Server::start(backend);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    alice.invite("bob", "admin");
    let (id, message) = alice.upload("scan", &media(100_000, 5));
    let jones = server.as_user("jones", "carol");
    jones.create_family("Jones");
    let (theirs, their_message) = jones.upload("their scan", &media(50_000, 6));
    // Embedded: the family's key, wrapped under the master key, in a file of its own.
    let key_file = server.dir.join("family-keys").join(format!("{}.key", hex::encode(Sha256::digest(b"smiths"))));
    let wrapped: Option<Vec<u8>> = (backend == Backend::Embedded).then(|| {
        let file: Value = serde_json::from_slice(&std::fs::read(&key_file).unwrap()).unwrap();
        file["ciphertext"].as_str().unwrap().as_bytes().to_vec()
    });

    let bob = server.as_user("smiths", "bob");
    let (s, _) = status(bob.req(Method::DELETE, "/v1/family").json(&json!({ "confirm": "smiths" })).send().unwrap());
    assert_eq!(s, StatusCode::FORBIDDEN, "only an owner erases the family");
    let (s, _) = status(alice.req(Method::DELETE, "/v1/family").json(&json!({ "confirm": "jones" })).send().unwrap());
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let receipt =
        alice.ok(alice.req(Method::DELETE, "/v1/family").json(&json!({ "confirm": "smiths" })).send().unwrap());
    let file = server.dir.join("family-receipt.json");
    std::fs::write(&file, receipt.to_string()).unwrap();
    let out = verify_receipt(&server, &file, "vault.erasure-receipt");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let payload: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(payload["scope"], "family");
    let service = if backend == Backend::Aws { "aws-kms" } else { "local" };
    assert_eq!(payload["customer_key"]["service"], service, "{payload}");
    assert_eq!(payload["objects"][0]["recording_id"], id.as_str());

    // After a restart (nothing held in memory any more): every API call for the
    // family answers 410 Gone, and operator commands cannot decrypt either.
    server.kill_and_restart();
    let alice = Api { base: server.url.clone(), ..alice };
    for (method, path) in [
        (Method::GET, "/v1/recordings".to_owned()),
        (Method::POST, format!("/v1/recordings/{id}/key")),
        (Method::GET, format!("/v1/recordings/{id}/content")),
    ] {
        let (s, body) = status(alice.req(method, &path).json(&json!({})).send().unwrap());
        assert_eq!(s, StatusCode::GONE, "{path}: {body}");
        assert!(body.contains("erased"), "{body}");
    }
    let out = server.vault(&["export", "--family", "smiths", "-o", server.dir.join("x.tar").to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("erased"), "{}", String::from_utf8_lossy(&out.stderr));
    // The ciphertext is still stored (Object Lock), byte for byte.
    assert_eq!(server.stored_recording(Region::Primary, &id).as_ref(), Some(&message));
    if let Some(wrapped) = wrapped {
        // Nothing on disk holds the family key any more, and what is left (the master
        // key, and the key the master key derived for families before key files)
        // opens nothing of the family.
        assert!(!key_file.exists());
        assert_eq!(files_holding(&server.dir, &wrapped), Vec::<String>::new(), "the wrapped family key survives");
        let master = hex::decode(std::fs::read_to_string(server.dir.join("master.key")).unwrap().trim()).unwrap();
        let mut derived = [0u8; 32];
        ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"vault/local-family-key/v1")
            .extract(&master)
            .expand(&[b"smiths"], ring::hkdf::HKDF_SHA256)
            .unwrap()
            .fill(&mut derived)
            .unwrap();
        for (what, key) in [("the master key", master.as_slice()), ("the derived key", &derived)] {
            let err = try_raw_aes(&server, &message, key, "smiths").expect_err(what);
            assert!(err.contains("no keyring") || err.contains("decrypt"), "{what}: {err}");
        }
    }
    // The other family is untouched.
    let jones = Api { base: server.url.clone(), ..jones };
    assert_eq!(jones.content(&theirs), their_message);
    // The audit log keeps the record of the erasure, and still verifies.
    assert!(actions(&server, "smiths").contains(&"family.erased".to_owned()));
    let out = server.vault(&["audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A receipt copy is in the store, write-once.
    assert_eq!(server.stored_keys(Region::Primary, "receipts/").len(), 1);
}

fn audit_anchors_catch_the_newest_rows_deleted(backend: Backend) {
    let server = Server::start(backend);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    alice.upload("scan", &media(10_000, 1));
    let out = server.vault(&["audit", "anchor"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = server.vault(&["audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["anchors"]["anchors"], 1, "{report}");
    assert!(report["anchors"]["heads_checked"].as_u64().unwrap() >= 1);

    // Someone with database rights drops the triggers and deletes the newest rows:
    // the chain alone still verifies; the anchor does not.
    server.drop_audit_triggers();
    let last = server.sql("SELECT MAX(seq) FROM audit_log WHERE tenant = 'smiths'").unwrap();
    server
        .sql(&format!("DELETE FROM audit_log WHERE tenant = 'smiths' AND seq >= {}", last.parse::<i64>().unwrap() - 1))
        .unwrap();
    let out = server.vault(&["audit", "verify"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("anchor") && stderr.contains("smiths") && stderr.contains("deleted"), "{stderr}");
}

/// Runs `vault audit verify` as an operator whose service anchors every `interval` seconds.
fn verify_anchored(server: &Server, interval: &str) -> (bool, String, Value) {
    let out = server.vault_with(&["audit", "verify"], &[("VAULT_SCRUB_INTERVAL_SECS", interval)]);
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned(), report)
}

fn anchors_are_chained_and_a_removed_or_missing_one_fails_verification(backend: Backend) {
    // The daily job is off: anchors are written by hand here.
    let server = Server::replicated(backend, &[("VAULT_SCRUB_INTERVAL_SECS", "0")]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    alice.upload("scan", &media(10_000, 1));
    // Rows older than the anchoring interval, and no anchor at all: they were removed.
    std::thread::sleep(Duration::from_millis(2500));
    let (ok, stderr, _) = verify_anchored(&server, "1");
    assert!(!ok && stderr.contains("no anchor at all"), "{stderr}");
    let (ok, stderr, _) = verify_anchored(&server, "86400");
    assert!(ok, "not yet due with a daily interval: {stderr}");
    for _ in 0..3 {
        let out = server.vault(&["audit", "anchor"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        alice.invite(&format!("user{}", server.stored_keys(Region::Primary, "anchors/").len()), "member");
    }
    let (ok, stderr, report) = verify_anchored(&server, "1");
    assert!(ok, "{stderr}");
    assert_eq!(report["anchors"]["anchors"], 3);
    assert_eq!(report["anchors"]["regions"], json!(["primary", "replica"]));

    // An anchor missing in the replica region.
    let anchors = server.stored_keys(Region::Replica, "anchors/");
    assert_eq!(anchors, server.stored_keys(Region::Primary, "anchors/"));
    server.remove(Region::Replica, &anchors[2]);
    let (ok, stderr, _) = verify_anchored(&server, "1");
    let gone = match backend {
        Backend::Embedded => "missing in the replica region",
        Backend::Aws => "a delete marker hides this anchor in the replica region",
    };
    assert!(!ok && stderr.contains(gone), "{stderr}");

    // The middle anchor gone from both regions: the next one's link shows the gap.
    server.remove(Region::Primary, &anchors[1]);
    server.remove(Region::Replica, &anchors[1]);
    let (ok, stderr, report) = verify_anchored(&server, "1");
    assert!(!ok, "{stderr}");
    let problems = report["anchors"]["problems"].to_string();
    let gone = match backend {
        Backend::Embedded => "is gone: anchors were removed",
        Backend::Aws => "a delete marker hides this anchor in the primary region",
    };
    assert!(problems.contains(gone), "{problems}");
}

#[test]
fn a_chain_broken_when_anchored_is_anchored_as_it_stands_and_stays_reported() {
    let server = Server::start_on(None, &[("VAULT_SCRUB_INTERVAL_SECS", "0")]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    alice.invite("bob", "member");
    assert!(server.vault(&["audit", "anchor"]).status.success());
    // Someone with database access alters a row after the anchored head...
    server.drop_audit_triggers();
    alice.invite("carol", "member");
    let last = server.sql("SELECT MAX(seq) FROM audit_log WHERE tenant = 'smiths'").unwrap();
    let original =
        server.sql(&format!("SELECT actor FROM audit_log WHERE tenant = 'smiths' AND seq = {last}")).unwrap();
    server.sql(&format!("UPDATE audit_log SET actor = 'nobody' WHERE tenant = 'smiths' AND seq = {last}")).unwrap();
    // ...the next anchor still pins the chain, and names it as broken.
    let out = server.vault(&["audit", "anchor"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Put back, the chain verifies again; the anchor keeps the incident on record.
    server.sql(&format!("UPDATE audit_log SET actor = '{original}' WHERE tenant = 'smiths' AND seq = {last}")).unwrap();
    let out = server.vault(&["audit", "verify"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["chains"]["breaks"], json!([]), "the chain itself verifies");
    assert!(!out.status.success());
    let problems = report["anchors"]["problems"].to_string();
    assert!(problems.contains("already broken when this anchor was written"), "{problems}");
}

fn a_purge_that_finds_the_primary_gone_still_removes_the_replica(backend: Backend) {
    let server = Server::replicated(backend, &[("VAULT_UPLOAD_SWEEP_SECS", "1")]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let (id, _) = alice.upload("scan", &media(100_000, 4));
    wait_replicated(&alice, &id, Duration::from_secs(30));
    alice.ok(alice.req(Method::DELETE, &format!("/v1/recordings/{id}")).send().unwrap());
    server.expire_retention(&id);
    // As if an earlier purge attempt had deleted the primary copy and then failed.
    let key = server.object_key(&id);
    server.remove(Region::Primary, &key);
    let start = Instant::now();
    while server.stored(Region::Replica, &key).is_some() {
        assert!(start.elapsed() < Duration::from_secs(30), "the replica copy was left behind");
        std::thread::sleep(Duration::from_millis(200));
    }
}

per_backend! {
    scrub_repairs_a_corrupted_primary_and_a_deleted_replica_as_new_versions,
    scrub_reports_an_object_damaged_in_every_region_and_fails,
    an_interrupted_scrub_resumes_after_the_last_recording_it_checked,
    the_daily_job_scrubs_and_anchors_on_its_own_and_counts_it_in_metrics,
    an_export_decrypts_with_the_official_python_sdk_from_the_cli_and_the_owner_api,
    an_export_with_a_wrong_recovery_key_or_an_altered_object_decrypts_nothing,
    erasing_a_recording_destroys_its_keys_now_and_its_objects_once_retention_ends,
    a_trashed_recording_is_refused_restorable_and_erased_with_a_receipt_when_its_time_ends,
    erasing_a_family_destroys_its_key_and_nothing_can_decrypt_its_objects_afterwards,
    audit_anchors_catch_the_newest_rows_deleted,
    anchors_are_chained_and_a_removed_or_missing_one_fails_verification,
    a_purge_that_finds_the_primary_gone_still_removes_the_replica,
}
