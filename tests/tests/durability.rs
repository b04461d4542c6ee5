#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "test code: a panic is a failed test")]
//! Durability promises on embedded backends with a local replica: the integrity
//! scrub (damage behind the server's back, repaired as new versions), exports that
//! the official Python SDK decrypts, erasure (recording and family) with signed
//! receipts, and audit anchors that catch deleted rows. (`aws.rs` runs the same
//! promises against moto's S3 and KMS.)

mod common;
mod harness;

use std::path::Path;
use std::time::{Duration, Instant};

use harness::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

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

#[test]
fn scrub_repairs_a_corrupted_primary_and_a_deleted_replica_as_new_versions() {
    let (server, replica) = replicated_server(&[]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let uploads: Vec<(String, Vec<u8>)> =
        (0..3).map(|i| alice.upload(&format!("r{i}"), &media((1 << 20) + i * 777, i as u8))).collect();
    for (id, _) in &uploads {
        wait_replicated(&alice, id, Duration::from_secs(30));
    }
    let (damaged, gone, healthy) = (&uploads[0].0, &uploads[1].0, &uploads[2].0);
    corrupt(&primary_file(&server, damaged), 5000);
    std::fs::remove_file(replica_file(&server, replica.path(), gone)).unwrap();
    assert_ne!(
        Sha256::digest(std::fs::read(primary_file(&server, damaged)).unwrap()).to_vec(),
        Sha256::digest(&uploads[0].1).to_vec()
    );

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

    // Both copies hold the original bytes again; the damaged version was kept aside.
    for (id, message) in &uploads {
        assert_eq!(std::fs::read(primary_file(&server, id)).unwrap(), *message);
        assert_eq!(std::fs::read(replica_file(&server, replica.path(), id)).unwrap(), *message);
        assert_eq!(alice.content(id), *message);
    }
    let aside = primary_file(&server, damaged);
    let kept = std::fs::read_dir(aside.parent().unwrap())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains(".data.superseded-"))
        .count();
    assert_eq!(kept, 1, "the damaged version must be kept, not overwritten");
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

#[test]
fn scrub_reports_an_object_damaged_in_every_region_and_fails() {
    let (server, replica) = replicated_server(&[]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let (id, message) = alice.upload("scan", &media(300_000, 9));
    wait_replicated(&alice, &id, Duration::from_secs(30));
    corrupt(&primary_file(&server, &id), 100);
    std::fs::remove_file(replica_file(&server, replica.path(), &id)).unwrap();
    let (ok, _, report) = scrub(&server, &server.dir.join("r.json"));
    assert!(!ok, "a scrub that leaves damage must fail: {report}");
    assert_eq!(report["failed"], 1);
    assert!(report["findings"].as_array().unwrap().iter().all(|f| f["action"] == "unrepairable"), "{report}");
    assert!(actions(&server, "smiths").contains(&"recording.integrity_failed".to_owned()));
    // Nothing was "repaired" from a bad source: the damaged copy is as the disk left it.
    let now_stored = std::fs::read(primary_file(&server, &id)).unwrap();
    assert_eq!(now_stored.len(), message.len());
    assert_ne!(now_stored, message);
}

#[test]
fn an_interrupted_scrub_resumes_after_the_last_recording_it_checked() {
    let (server, _replica) = replicated_server(&[]);
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

#[test]
fn the_daily_job_scrubs_and_anchors_on_its_own_and_counts_it_in_metrics() {
    let (server, _replica) = replicated_server(&[("VAULT_SCRUB_INTERVAL_SECS", "1")]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    alice.upload("scan", &media(50_000, 1));
    let start = Instant::now();
    loop {
        let metrics = server.http.get(format!("{}/metrics", server.url)).send().unwrap().text().unwrap();
        let anchors = std::fs::read_dir(server.dir.join("objects/objects/anchors")).map(|d| d.count()).unwrap_or(0);
        if metrics.lines().any(|l| l.starts_with("vault_scrub_runs_total ") && !l.ends_with(" 0")) && anchors > 0 {
            assert!(metrics.contains("vault_scrub_objects_total"), "{metrics}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no scheduled scrub and anchor: {metrics}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn an_export_decrypts_with_the_official_python_sdk_from_the_cli_and_the_owner_api() {
    let server = Server::start();
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
    let link = format!("{}{}", server.url, started["download"].as_str().unwrap());
    let response = server.http.get(&link).send().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-tar");
    let from_api = server.dir.join("api.tar");
    std::fs::write(&from_api, response.bytes().unwrap()).unwrap();
    let plain = decrypt_export(&from_api, started["recovery_key"].as_str().unwrap());
    assert_eq!((plain[&id_a].len(), plain[&id_b].clone()), (a.len(), b.clone()));
    assert_eq!(server.http.get(&link).send().unwrap().status(), StatusCode::NOT_FOUND, "the link works once");
    let rows = actions(&server, "smiths");
    assert_eq!(rows.iter().filter(|a| *a == "family.exported").count(), 2, "{rows:?}");
    assert!(rows.contains(&"family.export_started".to_owned()));
}

#[test]
fn an_export_with_a_wrong_recovery_key_or_an_altered_object_decrypts_nothing() {
    let server = Server::start();
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

#[test]
fn erasing_a_recording_destroys_its_keys_now_and_its_objects_once_retention_ends() {
    let (server, replica) = replicated_server(&[("VAULT_UPLOAD_SWEEP_SECS", "1")]);
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
    assert_eq!(payload["objects"][0]["wrapped_keys_destroyed"], 1);

    // At once: no key release, no content, the wrapped keys are gone from the database.
    let (s, _) = status(alice.post(&format!("/v1/recordings/{id}/key"), json!({})));
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(server.sql(&format!("SELECT edks FROM recordings WHERE id = '{id}'")).unwrap(), "[]");
    // Object Lock still holds the ciphertext (both regions) until its retention ends.
    std::thread::sleep(Duration::from_secs(2));
    assert!(primary_file(&server, &id).exists());
    assert!(replica_file(&server, replica.path(), &id).exists());

    // Retention ends (moved into the past behind the server's back): the purge job
    // deletes both copies and records it.
    expire_retention(&server, replica.path(), &id);
    let start = Instant::now();
    while primary_file(&server, &id).exists() || replica_file(&server, replica.path(), &id).exists() {
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

#[test]
fn erasing_a_family_destroys_its_key_and_nothing_can_decrypt_its_objects_afterwards() {
    let server = Server::start();
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    alice.invite("bob", "admin");
    let (id, _) = alice.upload("scan", &media(100_000, 5));
    let jones = server.as_user("jones", "carol");
    jones.create_family("Jones");
    let (theirs, their_message) = jones.upload("their scan", &media(50_000, 6));
    let key_files = || std::fs::read_dir(server.dir.join("family-keys")).unwrap().count();
    assert_eq!(key_files(), 2);

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
    assert_eq!(payload["customer_key"]["service"], "local");
    assert_eq!(payload["objects"][0]["recording_id"], id.as_str());

    // The key file is gone; every API call for the family answers 410 Gone.
    assert_eq!(key_files(), 1);
    for (method, path) in
        [(Method::GET, "/v1/recordings".to_owned()), (Method::POST, format!("/v1/recordings/{id}/key"))]
    {
        let (s, body) = status(alice.req(method, &path).json(&json!({})).send().unwrap());
        assert_eq!(s, StatusCode::GONE, "{path}: {body}");
        assert!(body.contains("erased"), "{body}");
    }
    // Operator commands cannot decrypt either: export refuses, and a restarted server
    // has no key for the family.
    let out = server.vault(&["export", "--family", "smiths", "-o", server.dir.join("x.tar").to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("erased"), "{}", String::from_utf8_lossy(&out.stderr));
    // The other family is untouched.
    assert_eq!(jones.content(&theirs), their_message);
    // The audit log keeps the record of the erasure, and still verifies.
    assert!(actions(&server, "smiths").contains(&"family.erased".to_owned()));
    let out = server.vault(&["audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A receipt copy is in the store, write-once.
    assert!(server.dir.join("objects/objects/receipts").exists());
}

#[test]
fn audit_anchors_catch_the_newest_rows_deleted() {
    let server = Server::start();
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
    server.sql("DROP TRIGGER audit_log_no_delete").unwrap();
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

/// The anchors' `.data` files in one region's directory, by name.
fn anchor_files(objects: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(objects.join("anchors"))
        .map(|d| d.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "data")).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn remove_object(data: &Path) {
    std::fs::remove_file(data.with_extension("meta.json")).unwrap();
    std::fs::remove_file(data).unwrap();
}

#[test]
fn anchors_are_chained_and_a_removed_or_missing_one_fails_verification() {
    // The daily job is off: anchors are written by hand here.
    let (server, replica) = replicated_server(&[("VAULT_SCRUB_INTERVAL_SECS", "0")]);
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
        alice.invite(&format!("user{}", anchor_files(&server.dir.join("objects/objects")).len()), "member");
    }
    let (ok, stderr, report) = verify_anchored(&server, "1");
    assert!(ok, "{stderr}");
    assert_eq!(report["anchors"]["anchors"], 3);
    assert_eq!(report["anchors"]["regions"], json!(["primary", "replica"]));

    // An anchor missing in the replica region.
    let replica_anchors = anchor_files(&replica.path().join("objects"));
    remove_object(&replica_anchors[2]);
    let (ok, stderr, _) = verify_anchored(&server, "1");
    assert!(!ok && stderr.contains("missing in the replica region"), "{stderr}");

    // The middle anchor gone from both regions: the next one's link shows the gap.
    let primary_anchors = anchor_files(&server.dir.join("objects/objects"));
    remove_object(&primary_anchors[1]);
    remove_object(&replica_anchors[1]);
    let (ok, stderr, report) = verify_anchored(&server, "1");
    assert!(!ok, "{stderr}");
    let problems = report["anchors"]["problems"].to_string();
    assert!(problems.contains("is gone: anchors were removed"), "{problems}");
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

#[test]
fn a_purge_that_finds_the_primary_gone_still_removes_the_replica() {
    let (server, replica) = replicated_server(&[("VAULT_UPLOAD_SWEEP_SECS", "1")]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let (id, _) = alice.upload("scan", &media(100_000, 4));
    wait_replicated(&alice, &id, Duration::from_secs(30));
    alice.ok(alice.req(Method::DELETE, &format!("/v1/recordings/{id}")).send().unwrap());
    expire_retention(&server, replica.path(), &id);
    // As if an earlier purge attempt had deleted the primary copy and then failed.
    let primary = primary_file(&server, &id);
    std::fs::remove_file(primary.with_extension("meta.json")).unwrap();
    std::fs::remove_file(&primary).unwrap();
    let start = Instant::now();
    while replica_file(&server, replica.path(), &id).exists() {
        assert!(start.elapsed() < Duration::from_secs(30), "the replica copy was left behind");
        std::thread::sleep(Duration::from_millis(200));
    }
}
