#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "test code: a panic is a failed test")]
//! The AWS backends against real protocol servers on loopback: PostgreSQL, and moto as
//! S3 + KMS in two "regions". (The server, durability and resilience suites also run on
//! these backends, as their `on_aws::…` tests; these are the tests only AWS needs.)

use std::process::Command;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use vault_core::{DecryptPolicy, HeaderParse, ParsedHeader};
use vault_tests::aws::{AwsEnv, Moto, PRIMARY_REGION, REPLICA_REGION, psql, s3, s3_bytes, s3_keys, shared_moto};
use vault_tests::fault_proxy::{Fault, FaultProxy};
use vault_tests::haproxy::{self, Haproxy};
use vault_tests::*;

/// The encrypted data keys in a message's header (provider id, ARN, blob).
fn edks(message: &[u8]) -> Vec<(String, String, Vec<u8>)> {
    match ParsedHeader::parse(message, &DecryptPolicy::default()).unwrap() {
        HeaderParse::Complete(h) => h
            .encrypted_data_keys()
            .iter()
            .map(|e| (e.provider_id.clone(), String::from_utf8(e.provider_info.clone()).unwrap(), e.ciphertext.clone()))
            .collect(),
        HeaderParse::NeedMore(_) => panic!("incomplete header"),
    }
}

fn kms_tool(args: &[&str]) -> std::process::Output {
    let python = std::env::var("VAULT_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = workspace().join("tests/interop/kms_tool.py");
    Command::new(python).arg(script).args(args).output().unwrap()
}

fn head_lock(endpoint: &str, bucket: &str, key: &str) -> (String, String) {
    let r = reqwest::blocking::Client::new().head(format!("{endpoint}/{bucket}/{key}")).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{bucket}/{key}");
    let h = |name: &str| r.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (h("x-amz-object-lock-mode"), h("x-amz-object-lock-retain-until-date"))
}

#[test]
fn objects_are_locked_in_both_regions_and_cannot_be_deleted_or_overwritten() {
    let server = Server::start_on(Some(AwsEnv::shared()), &[]);
    let aws = server.aws.clone().unwrap();
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let plaintext = media(6 << 20, 3);
    let (id, message) = alice.upload("scan", &plaintext);
    let r = wait_replicated(&alice, &id, Duration::from_secs(30));
    let key = server.object_key(&id);
    let sha = hex::encode(Sha256::digest(&message));
    assert_eq!(r["sha256"], sha.as_str());
    assert_eq!(r["replica"]["sha256"], sha.as_str());
    let year = time::OffsetDateTime::now_utc().year();
    for (endpoint, bucket) in [(&aws.primary, &aws.primary_bucket), (&aws.replica, &aws.replica_bucket)] {
        // Multipart uploads come out of moto without their lock: Vault must have applied it.
        let (mode, until) = head_lock(endpoint, bucket, &key);
        assert_eq!(mode, "COMPLIANCE", "{bucket}");
        let until = time::OffsetDateTime::parse(&until, &time::format_description::well_known::Rfc3339).unwrap();
        assert!(until > time::OffsetDateTime::now_utc() + time::Duration::days(29), "{bucket}: {until}");
        assert!(until.year() <= year + 1);
        // Copies cut short by a crash are aborted by the bucket's lifecycle rule.
        let lifecycle = s3(endpoint, Method::GET, &format!("{bucket}?lifecycle")).1;
        assert!(lifecycle.contains("<DaysAfterInitiation>2</DaysAfterInitiation>"), "{lifecycle}");
        // Deleting the locked version is refused...
        let versions = s3(endpoint, Method::GET, &format!("{bucket}?versions&prefix={key}")).1;
        let version = versions.split("<VersionId>").nth(1).unwrap().split('<').next().unwrap().to_owned();
        assert_eq!(versions.matches("<Version>").count(), 1, "{versions}");
        let (status, body) = s3(endpoint, Method::DELETE, &format!("{bucket}/{key}?versionId={version}"));
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        // ...and a conditional write over it too.
        let put = reqwest::blocking::Client::new()
            .put(format!("{endpoint}/{bucket}/{key}"))
            .header("if-none-match", "*")
            .body("overwrite")
            .send()
            .unwrap();
        assert_eq!(put.status(), StatusCode::PRECONDITION_FAILED);
        let (status, bytes) = s3_bytes(endpoint, Method::GET, &format!("{bucket}/{key}?versionId={version}"));
        assert_eq!(status, StatusCode::OK);
        assert_eq!(hex::encode(Sha256::digest(&bytes)), sha, "{bucket}: the locked version changed");
    }
    // Vault's erasure destroys the keys at once; the locked objects stay until retention ends.
    let receipt = alice.ok(alice.req(Method::DELETE, &format!("/v1/recordings/{id}")).send().unwrap());
    assert_eq!(receipt["kind"], "vault.erasure-receipt");
    assert_eq!(s3(&aws.primary, Method::HEAD, &format!("{}/{key}", aws.primary_bucket)).0, StatusCode::OK);
}

#[test]
fn kms_binds_data_keys_to_the_family_and_the_official_sdk_decrypts_from_either_region() {
    let server = Server::start_on(Some(AwsEnv::shared()), &[]);
    let aws = server.aws.clone().unwrap();
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let jones = server.as_user("joneses", "jo");
    jones.create_family("Joneses");
    let plaintext = media((3 << 20) + 17, 9);
    let (id, _) = alice.upload("scan", &plaintext);
    let message = alice.content(&id);
    let keys = edks(&message);
    // One encrypted data key per region, written as the ESDK's KMS keyring writes them.
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|(provider, _, _)| provider == "aws-kms"));
    assert!(keys[0].1.starts_with(&format!("arn:aws:kms:{PRIMARY_REGION}:")), "{}", keys[0].1);
    assert!(keys[1].1.starts_with(&format!("arn:aws:kms:{REPLICA_REGION}:")), "{}", keys[1].1);
    let data_key = B64.encode(alice.data_key(&id).expose());
    for ((_, arn, blob), endpoint) in keys.iter().zip([&aws.primary, &aws.replica]) {
        let blob = B64.encode(blob);
        let ours = json!({ "vault:tenant": "smiths", "vault:object": id }).to_string();
        let out = kms_tool(&["kms-decrypt", endpoint, arn, &blob, &ours]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), data_key);
        // Another family's context (or another object's) is refused by KMS itself.
        for context in [
            json!({ "vault:tenant": "joneses", "vault:object": id }),
            json!({ "vault:tenant": "smiths", "vault:object": "another" }),
            json!({}),
        ] {
            let out = kms_tool(&["kms-decrypt", endpoint, arn, &blob, &context.to_string()]);
            assert_eq!(out.status.code(), Some(3), "{context}");
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "InvalidCiphertextException");
        }
    }
    // The official AWS Encryption SDK (Python) with a KMS key provider decrypts the
    // object as stored, with either region's key alone.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("object.esdk");
    std::fs::write(&input, &message).unwrap();
    for ((_, arn, _), endpoint) in keys.iter().zip([&aws.primary, &aws.replica]) {
        let output = dir.path().join("plain");
        let out = kms_tool(&[
            "esdk-decrypt",
            endpoint,
            arn,
            input.to_str().unwrap(),
            output.to_str().unwrap(),
            "smiths",
            &id,
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(std::fs::read(&output).unwrap() == plaintext, "the SDK's plaintext differs");
    }
    // Through the API, the other family gets nothing.
    let denied = jones.post(&format!("/v1/recordings/{id}/key"), json!({})).status();
    assert!(denied == StatusCode::NOT_FOUND || denied == StatusCode::FORBIDDEN, "{denied}");
}

/// Creates a recording, then takes `region` away, then uploads and commits it.
fn upload_pausing(api: &Api, title: &str, plaintext: &[u8], region: &Moto) -> (String, Vec<u8>) {
    let created = api.create_recording(title, plaintext.len(), "client");
    let id = created["recording"]["id"].as_str().unwrap().to_owned();
    let message = encrypt_for(&created, plaintext);
    region.pause();
    for (i, part) in split_parts(&created, &message).iter().enumerate() {
        api.ok(api.put_part(&id, i + 1, part));
    }
    assert_eq!(api.ok(api.post(&format!("/v1/recordings/{id}/complete"), json!({})))["status"], "committed");
    (id, message)
}

#[test]
fn a_region_down_is_survived_and_replication_catches_up_after_it_returns_or_after_a_crash() {
    let (primary, replica) = (Moto::start(), Moto::start());
    let mut server = Server::start_on(
        Some(AwsEnv::new(&primary.url, &replica.url)),
        &[
            ("VAULT_AWS_ATTEMPT_TIMEOUT_SECS", "1"),
            ("VAULT_AWS_CONNECT_TIMEOUT_SECS", "1"),
            ("VAULT_AWS_MAX_ATTEMPTS", "2"),
            ("VAULT_AWS_DATA_KEY_CACHE_SECS", "1"),
            ("VAULT_HEALTH_CHECK_SECS", "1"),
        ],
    );
    let aws = server.aws.clone().unwrap();
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let a = media(5 << 20, 1);
    let (id_a, message_a) = alice.upload("a", &a);
    wait_replicated(&alice, &id_a, Duration::from_secs(30));

    // The replica region goes away. New recordings are refused (their data key could
    // not be wrapped for the replica region's KMS)...
    replica.pause();
    let refused = alice.post(
        "/v1/recordings",
        json!({ "title": "x", "kind": "audio", "content_type": "audio/ogg",
        "plaintext_size": 10, "encryption": "client" }),
    );
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    // The outage shows in /healthz and the metrics; the instance stays ready (every
    // instance shares the region: none is taken out of the load balancer for it).
    let health = server.health_when("object_store", Some(REPLICA_REGION), false);
    let down = |name: &str, region: &str| {
        health["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == name && d["region"] == region && d["up"] == false)
    };
    assert!(down("key_service", REPLICA_REGION), "{health}");
    assert!(!down("object_store", PRIMARY_REGION) && !down("key_service", PRIMARY_REGION), "{health}");
    assert_eq!(server.http.get(format!("{}/readyz", server.url)).send().unwrap().status(), StatusCode::OK);
    let metrics = server.http.get(format!("{}/metrics", server.url)).send().unwrap().text().unwrap();
    let gauge = format!("vault_dependency_up{{dependency=\"object_store\",region=\"{REPLICA_REGION}\"}} 0");
    assert!(metrics.contains(&gauge), "{metrics}");
    replica.resume();
    server.health_when("object_store", Some(REPLICA_REGION), true);
    // ...but one started before commits, and its copy waits in the outbox.
    let (id_b, message_b) = upload_pausing(&alice, "b", &media(1 << 20, 2), &replica);
    std::thread::sleep(Duration::from_secs(3));
    assert!(alice.ok(alice.get(&format!("/v1/recordings/{id_b}")))["replica"].is_null());
    let pending = server.http.get(format!("{}/metrics", server.url)).send().unwrap().text().unwrap();
    assert!(pending.contains("vault_replication_pending 1"), "{pending}");
    replica.resume();
    let b = wait_replicated(&alice, &id_b, Duration::from_secs(60));
    assert_eq!(b["replica"]["sha256"], hex::encode(Sha256::digest(&message_b)).as_str());
    let key_b = server.object_key(&id_b);
    let copy = s3(&replica.url, Method::GET, &format!("{}/{key_b}", aws.replica_bucket));
    assert_eq!(copy.0, StatusCode::OK);

    // The primary region goes away: key release (KMS) and downloads come from the replica region.
    std::thread::sleep(Duration::from_millis(1100)); // past the data-key cache
    primary.pause();
    let key = alice.data_key(&id_a);
    assert_eq!(alice.content(&id_a), message_a);
    let ranged = alice
        .req(Method::GET, &format!("/v1/recordings/{id_a}/content"))
        .header("range", "bytes=100-199")
        .send()
        .unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.bytes().unwrap().as_ref(), &message_a[100..200]);
    let header = match ParsedHeader::parse(&message_a, &DecryptPolicy::default()).unwrap() {
        HeaderParse::Complete(h) => h,
        HeaderParse::NeedMore(_) => unreachable!(),
    };
    header.verify(&key).expect("the replica region's KMS released the right key");
    let metrics = server.http.get(format!("{}/metrics", server.url)).send().unwrap().text().unwrap();
    assert!(metrics.contains(&format!("region=\"{REPLICA_REGION}\",op=\"Decrypt\"")), "{metrics}");
    primary.resume();

    // The server dies between the primary write and the copy: the outbox finishes it after restart.
    let (id_c, message_c) = upload_pausing(&alice, "c", &media(2 << 20, 3), &replica);
    server.kill();
    replica.resume();
    server.kill_and_restart();
    let alice = server.as_user("smiths", "alice");
    let c = wait_replicated(&alice, &id_c, Duration::from_secs(60));
    assert_eq!(c["replica"]["sha256"], hex::encode(Sha256::digest(&message_c)).as_str());
    let audit = alice.ok(alice.get("/v1/family/audit?limit=500"));
    let replicated =
        audit["items"].as_array().unwrap().iter().filter(|r| r["action"] == "recording.replicated").count();
    assert_eq!(replicated, 3);
}

#[test]
fn throttling_and_server_errors_are_retried_without_duplicate_objects() {
    let (moto_primary, moto_replica) = shared_moto();
    let proxy = FaultProxy::start(&moto_primary);
    let server = Server::start_on(Some(AwsEnv::new(&proxy.url, &moto_replica)), &[]);
    let aws = server.aws.clone().unwrap();
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    proxy.inject(&["TrentService.GenerateDataKey"], 2, Fault::KmsThrottling);
    proxy.inject(&["PUT ", "partNumber="], 2, Fault::S3SlowDown);
    proxy.inject(&["POST ", "uploadId="], 1, Fault::S3InternalAfterForward);
    // The server unwraps the data key once, to check the first part's header.
    proxy.inject(&["TrentService.Decrypt"], 1, Fault::KmsInternal);
    let plaintext = media(11 << 20, 4);
    let (id, message) = alice.upload("scan", &plaintext);
    let key = alice.data_key(&id);
    assert_eq!(proxy.pending(), 0, "every fault was injected");
    assert_eq!(alice.content(&id), message);
    let header = match ParsedHeader::parse(&message, &DecryptPolicy::default()).unwrap() {
        HeaderParse::Complete(h) => h,
        HeaderParse::NeedMore(_) => unreachable!(),
    };
    header.verify(&key).unwrap();
    // Exactly one version of the object, and no upload left behind.
    let object = server.object_key(&id);
    let versions = s3(&moto_primary, Method::GET, &format!("{}?versions&prefix={object}", aws.primary_bucket)).1;
    assert_eq!(versions.matches("<Version>").count(), 1, "{versions}");
    assert_eq!(aws.primary_uploads(), 0);
    wait_replicated(&alice, &id, Duration::from_secs(30));
    let metrics = server.http.get(format!("{}/metrics", server.url)).send().unwrap().text().unwrap();
    assert!(
        metrics.contains(&format!("vault_kms_requests_total{{region=\"{PRIMARY_REGION}\",op=\"Decrypt\"}} 1")),
        "{metrics}"
    );
}

#[test]
fn the_service_database_role_may_only_append_to_the_audit_log() {
    let (server, service_url) = service_role_server(&[]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    alice.upload("scan", &media(1000, 1));
    alice.invite("bob", "member");
    assert!(alice.audit_count() >= 4);
    for statement in [
        "UPDATE audit_log SET actor = 'nobody'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "DROP TRIGGER audit_log_no_update_delete ON audit_log",
        "CREATE TABLE intruder (x INT)",
    ] {
        let err = psql(&service_url, statement).unwrap_err();
        assert!(err.contains("permission denied") || err.contains("must be owner"), "{statement}: {err}");
    }
    assert!(psql(&service_url, "SELECT COUNT(*) FROM audit_log").unwrap().parse::<u32>().unwrap() >= 4);
}

/// A server on the shared moto whose database role is the documented service role
/// (`vault-server/sql/postgres-service-role.sql`), as the README's production section runs it.
fn service_role_server(env: &[(&str, &str)]) -> (Server, String) {
    let aws = AwsEnv::shared();
    let setup = Command::new(vault_bin())
        .arg("setup")
        .envs(aws.vars())
        .env("VAULT_DATA_DIR", tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(setup.status.success(), "{}", String::from_utf8_lossy(&setup.stderr));
    let script = workspace().join("vault-server/sql/postgres-service-role.sql");
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &aws.database, "-f", script.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let service_url = aws.database.replacen("postgres@", "vault_service@", 1);
    let mut settings = vec![("VAULT_DATABASE_URL", service_url.as_str()), ("VAULT_DATABASE_MIGRATE", "false")];
    settings.extend_from_slice(env);
    (Server::start_on(Some(aws), &settings), service_url)
}

#[test]
fn every_background_job_runs_under_the_service_database_role() {
    let (server, service_url) = service_role_server(&[
        ("VAULT_SCRUB_INTERVAL_SECS", "1"),
        ("VAULT_UPLOAD_SWEEP_SECS", "1"),
        ("VAULT_UPLOAD_TTL_SECS", "2"),
    ]);
    // The role may touch every table the jobs use: each table of the schema but the
    // audit log has all four rights.
    let owner = server.aws.as_ref().unwrap().database.clone();
    let tables = psql(&owner, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").unwrap();
    for table in tables.lines().filter(|t| !["audit_log", "_sqlx_migrations"].contains(t)) {
        for right in ["SELECT", "INSERT", "UPDATE", "DELETE"] {
            let has =
                psql(&owner, &format!("SELECT has_table_privilege('vault_service', '{table}', '{right}')")).unwrap();
            assert_eq!(has, "t", "vault_service lacks {right} on {table}");
        }
    }
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let (id, _) = alice.upload("scan", &media(100_000, 1)); // replication
    alice.create_recording("abandoned", 10, "client"); // the sweep expires it
    let (gone, _) = alice.upload("deleted", &media(1000, 2));
    alice.ok(alice.req(Method::DELETE, &format!("/v1/recordings/{gone}")).send().unwrap()); // the purge looks at it
    let (binned, _) = alice.upload("binned", &media(1000, 3));
    alice.post(&format!("/v1/recordings/{binned}/trash"), json!({})); // the trash job erases it
    psql(&owner, &format!("UPDATE recordings SET trash_until = 1 WHERE id = '{binned}'")).unwrap();
    // An expired share link: the share link job drops its sealed key.
    let link = json!({ "id": "AAAAAAAAAAAAAAAAAAAAAA", "name": "old", "recordings": [{ "recording_id": id, "sealed": "c2VhbGVk" }] });
    alice.ok(alice.post("/v1/family/links", link));
    psql(&owner, "UPDATE share_links SET expires_at = 1").unwrap();
    // An export link nobody used: the job drops it with its sealed recovery key.
    alice.ok(alice.post("/v1/family/export", json!({})));
    psql(&owner, "UPDATE export_links SET expires_at = 1").unwrap();
    // Studio deliveries: one accepted before the studio's date (the job hands it off),
    // one whose invitation expired, kept no days by its studio (the job erases it).
    let ana = server.as_user("lumen", "ana");
    ana.ok(ana.post("/v1/studios", json!({ "name": "Lumen" })));
    ana.ok(ana.req(Method::PUT, "/v1/studio/policy").json(&json!({ "unclaimed_days": 0 })).send().unwrap());
    let until = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64 + 60_000;
    let dated = ana.ok(ana.post("/v1/studio/deliveries", json!({ "customer": "Garcías", "contribute_until": until })));
    let dated_id = dated["id"].as_str().unwrap().to_owned();
    let secret = ana.ok(ana.post(&format!("/v1/studio/deliveries/{dated_id}/invitation"), json!({})))["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let luis = server.as_user(dated["family_id"].as_str().unwrap(), "luis");
    luis.ok(luis.post("/v1/invitations/accept", json!({ "secret": secret })));
    psql(&owner, &format!("UPDATE deliveries SET contribute_until = 1 WHERE id = '{dated_id}'")).unwrap();
    let unclaimed = ana.ok(ana.post("/v1/studio/deliveries", json!({ "customer": "Lees" })));
    let unclaimed_id = unclaimed["id"].as_str().unwrap().to_owned();
    ana.ok(ana.post(&format!("/v1/studio/deliveries/{unclaimed_id}/invitation"), json!({})));
    psql(&owner, &format!("UPDATE deliveries SET invited_until = 1 WHERE id = '{unclaimed_id}'")).unwrap();
    wait_replicated(&alice, &id, Duration::from_secs(30));
    let jobs = [
        "anchor",
        "scrub",
        "replication",
        "purge",
        "upload_sweep",
        "trash",
        "share_links",
        "export_links",
        "deliveries",
    ];
    let start = std::time::Instant::now();
    loop {
        let metrics = server.http.get(format!("{}/metrics", server.url)).send().unwrap().text().unwrap();
        let failures: Vec<&str> =
            metrics.lines().filter(|l| l.starts_with("vault_job_failures_total{") && !l.ends_with(" 0")).collect();
        assert!(failures.is_empty(), "jobs failed as the service role: {failures:?}");
        let done = jobs
            .iter()
            .all(|job| metrics.contains(&format!("vault_job_last_success_timestamp_seconds{{job=\"{job}\"}}")));
        let actions = psql(&service_url, "SELECT action FROM audit_log").unwrap();
        let binned_status =
            psql(&service_url, &format!("SELECT status FROM recordings WHERE id = '{binned}'")).unwrap();
        let sealed =
            psql(&service_url, "SELECT (SELECT COUNT(*) FROM share_link_items) + (SELECT COUNT(*) FROM export_links)")
                .unwrap();
        let delivered = psql(
            &service_url,
            "SELECT COUNT(*) FROM deliveries WHERE handed_off_at IS NOT NULL \
            OR erased_at IS NOT NULL",
        )
        .unwrap();
        if done
            && sealed == "0"
            && delivered == "2"
            && actions.contains("delivery.invitation_expired")
            && actions.contains("upload.expired")
            && actions.contains("recording.replicated")
            && binned_status == "deleted"
        {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "not every job ran: {metrics}");
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(psql(&service_url, "SELECT COUNT(*) FROM scrub_runs WHERE finished_at IS NOT NULL").unwrap() != "0");
    let aws = server.aws.as_ref().unwrap();
    assert!(!s3_keys(&aws.primary, &aws.primary_bucket, "anchors/").is_empty());
    assert!(!s3_keys(&aws.replica, &aws.replica_bucket, "anchors/").is_empty());
}

#[test]
fn an_anchor_hidden_by_a_delete_marker_fails_verification() {
    let server = Server::start_on(Some(AwsEnv::shared()), &[("VAULT_SCRUB_INTERVAL_SECS", "0")]);
    let aws = server.aws.clone().unwrap();
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    for i in 0..2 {
        alice.invite(&format!("member{i}"), "member");
        let out = server.vault(&["audit", "anchor"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let out = server.vault(&["audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["anchors"]["anchors"].as_u64(), report["anchors"]["regions"].clone()),
        (Some(2), json!(["primary", "replica"]))
    );
    // Someone deletes rows and hides the newest anchor behind a delete marker (what
    // Object Lock lets anyone with DeleteObject do): a plain listing no longer shows it.
    let newest = s3_keys(&aws.primary, &aws.primary_bucket, "anchors/").pop().unwrap();
    let (status, body) = s3(&aws.primary, Method::DELETE, &format!("{}/{newest}", aws.primary_bucket));
    assert!(status.is_success(), "{status}: {body}");
    assert_eq!(s3_keys(&aws.primary, &aws.primary_bucket, "anchors/").len(), 1, "hidden from a plain listing");
    let out = server.vault(&["audit", "verify"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("delete marker"), "{stderr}");
    // A new anchor still links to the hidden one, so the chain does not pretend it away.
    let out = server.vault(&["audit", "anchor"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&server.vault(&["audit", "verify"]).stdout).unwrap();
    let problems = report["anchors"]["problems"].as_array().unwrap();
    assert!(problems.iter().all(|p| p["problem"].as_str().unwrap().contains("delete marker")), "{problems:?}");
}

#[test]
fn with_the_default_timeouts_a_hanging_primary_fails_over_within_one_request() {
    let (primary, replica) = (Moto::start(), Moto::start());
    // Every AWS setting as shipped (attempts, timeouts, budgets, cache).
    let mut server = Server::start_on(Some(AwsEnv::new(&primary.url, &replica.url)), &[]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let (id, message) = alice.upload("scan", &media(8 << 20, 7));
    wait_replicated(&alice, &id, Duration::from_secs(60));
    // A restart empties the data-key cache; then the primary region hangs.
    server.kill_and_restart();
    let alice = server.as_user("smiths", "alice");
    primary.pause();
    // Key release: the primary's KMS gets its budget, then the replica's answers, all
    // within the request's 30 s.
    let (s, text) = status(alice.post(&format!("/v1/recordings/{id}/key"), json!({})));
    assert_eq!(s, StatusCode::OK, "{text}");
    // The download fails over to the replica bucket.
    assert_eq!(alice.content(&id), message);
    // A new recording needs both regions' keys: refused at once, 503, while the
    // primary is marked down.
    let refused = alice.post(
        "/v1/recordings",
        json!({ "title": "x", "kind": "audio", "content_type": "audio/ogg", "plaintext_size": 10, "encryption": "client" }),
    );
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().contains_key("retry-after"));
    primary.resume();
}

#[test]
fn a_flood_of_readiness_and_health_checks_costs_no_kms_call() {
    // Every setting as shipped: the background probe asks each region's KMS once every
    // 15 s, whoever asks /readyz and /healthz meanwhile.
    let server = Server::start_on(Some(AwsEnv::shared()), &[]);
    server.health_when("key_service", Some(REPLICA_REGION), true);
    for _ in 0..50 {
        assert_eq!(server.http.get(format!("{}/readyz", server.url)).send().unwrap().status(), StatusCode::OK);
        assert_eq!(server.http.get(format!("{}/healthz", server.url)).send().unwrap().status(), StatusCode::OK);
    }
    let metrics = server.http.get(format!("{}/metrics", server.url)).send().unwrap().text().unwrap();
    let list_keys: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("vault_kms_requests_total{") && l.contains("op=\"ListKeys\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    // One probe per region, two if the test straddled the next round.
    assert!((2..=4).contains(&list_keys), "{list_keys} ListKeys calls for 100 checks: {metrics}");
}

#[test]
fn setup_refuses_a_bucket_without_object_lock_and_serve_refuses_missing_buckets() {
    let aws = AwsEnv::shared();
    let data = tempfile::tempdir().unwrap();
    let vault = |command: &str| {
        Command::new(vault_bin())
            .arg(command)
            .envs(aws.vars())
            .env("VAULT_DATA_DIR", data.path())
            .env("VAULT_LISTEN", "127.0.0.1:0")
            .output()
            .unwrap()
    };
    let out = vault("serve");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("run `vault setup`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A plain bucket (no Object Lock) under the primary's name.
    let create = reqwest::blocking::Client::new()
        .put(format!("{}/{}", aws.primary, aws.primary_bucket))
        .body(format!(
            "<CreateBucketConfiguration><LocationConstraint>{PRIMARY_REGION}</LocationConstraint></CreateBucketConfiguration>"
        ))
        .send()
        .unwrap();
    assert!(create.status().is_success(), "{}", create.text().unwrap());
    let out = vault("setup");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not have Object Lock") && stderr.contains(&aws.primary_bucket), "{stderr}");
    aws.drop_database();
}

#[test]
fn scrub_repairs_copies_damaged_behind_the_servers_back_in_either_region() {
    let server = Server::start_on(Some(AwsEnv::shared()), &[]);
    let aws = server.aws.clone().unwrap();
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let (overwritten, a) = alice.upload("a", &media(6 << 20, 1));
    let (deleted, b) = alice.upload("b", &media(200_000, 2));
    for id in [&overwritten, &deleted] {
        wait_replicated(&alice, id, Duration::from_secs(30));
    }
    // With the bucket's credentials one can still add versions and delete markers
    // (Object Lock keeps the old versions): a garbage latest version in the replica,
    // a delete marker in the primary.
    let key_a = server.object_key(&overwritten);
    let put = reqwest::blocking::Client::new()
        .put(format!("{}/{}/{key_a}", aws.replica, aws.replica_bucket))
        .body(vec![0u8; 1000])
        .send()
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    let key_b = server.object_key(&deleted);
    let (s, body) = s3(&aws.primary, Method::DELETE, &format!("{}/{key_b}", aws.primary_bucket));
    assert!(s.is_success(), "{body}");
    assert_eq!(s3(&aws.primary, Method::GET, &format!("{}/{key_b}", aws.primary_bucket)).0, StatusCode::NOT_FOUND);

    let out = server.vault(&["scrub"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let envelope: Value = serde_json::from_slice(&out.stdout).unwrap();
    let report: Value = serde_json::from_str(envelope["payload"].as_str().unwrap()).unwrap();
    assert_eq!((report["repaired"].as_i64(), report["failed"].as_i64()), (Some(2), Some(0)), "{report}");
    // The latest version in each bucket is the original again, locked; nothing was
    // overwritten (the replica key now has three versions).
    let sha = |bytes: &[u8]| hex::encode(Sha256::digest(bytes));
    for (endpoint, bucket, key, message) in
        [(&aws.replica, &aws.replica_bucket, &key_a, &a), (&aws.primary, &aws.primary_bucket, &key_b, &b)]
    {
        let (s, stored) = s3_bytes(endpoint, Method::GET, &format!("{bucket}/{key}"));
        assert_eq!(s, StatusCode::OK);
        assert_eq!(sha(&stored), sha(message), "{bucket}");
        assert_eq!(head_lock(endpoint, bucket, key).0, "COMPLIANCE", "{bucket}: the restored version is locked");
    }
    let versions = s3(&aws.replica, Method::GET, &format!("{}?versions&prefix={key_a}", aws.replica_bucket)).1;
    assert_eq!(versions.matches("<Version>").count(), 3, "{versions}");
    assert_eq!(alice.content(&overwritten), a);
}

#[test]
fn erasing_a_family_schedules_its_kms_keys_for_deletion_and_vault_refuses_at_once() {
    let server = Server::start_on(Some(AwsEnv::shared()), &[]);
    let aws = server.aws.clone().unwrap();
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let (id, message) = alice.upload("scan", &media(100_000, 7));
    let receipt =
        alice.ok(alice.req(Method::DELETE, "/v1/family").json(&json!({ "confirm": "smiths" })).send().unwrap());
    let payload: Value = serde_json::from_str(receipt["payload"].as_str().unwrap()).unwrap();
    let keys = payload["customer_key"]["keys"].as_array().unwrap();
    assert_eq!(payload["customer_key"]["operation"], "ScheduleKeyDeletion");
    assert_eq!(keys.len(), 2, "{payload}");
    for (key, endpoint) in keys.iter().zip([&aws.primary, &aws.replica]) {
        assert_eq!(key["requested_pending_window_days"], 7, "{key}");
        let in_days = (key["deletion_date"].as_i64().unwrap() - now() as i64) as f64 / 86_400.0;
        assert!((6.9..7.1).contains(&in_days), "{key}");
        let arn = key["key_arn"].as_str().unwrap();
        let out = kms_tool(&["key-state", endpoint, arn]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "PendingDeletion",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Vault refuses by its own state at once (moto would still decrypt with a key
    // pending deletion; AWS refuses, and destroys it after the waiting period).
    let (s, _) = status(alice.post(&format!("/v1/recordings/{id}/key"), json!({})));
    assert_eq!(s, StatusCode::GONE);
    let out = server.vault(&["export", "--family", "smiths", "-o", "/dev/null"]);
    assert!(!out.status.success());
    assert_eq!(payload["objects"][0]["ciphertext_sha256"], hex::encode(Sha256::digest(&message)));
}

#[test]
fn an_export_from_s3_and_kms_decrypts_with_the_official_python_sdk() {
    let server = Server::start_on(Some(AwsEnv::shared()), &[]);
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let plaintext = media(6 << 20, 8);
    let (id, _) = alice.upload("scan", &plaintext);
    let archive = tempfile::NamedTempFile::new().unwrap();
    let out = server.vault(&["export", "--family", "smiths", "-o", archive.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let plain = decrypt_export(archive.path(), &key);
    assert_eq!(plain[&id], plaintext);
}

/// The rounds of a background job a server ran so far (its `vault_job_rounds_total`).
fn rounds(server: &Server, job: &str) -> u64 {
    let metrics = server.http.get(format!("{}/metrics", server.url)).send().unwrap().text().unwrap();
    let prefix = format!("vault_job_rounds_total{{job=\"{job}\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(&prefix)).map_or(0, |n| n.parse().unwrap())
}

/// Three instances of `vault serve` on one database and one pair of buckets, as behind
/// a load balancer: recordings uploaded through different instances are each copied to
/// the replica region once and audited once; the sweep's rounds and the anchors are one
/// instance's at a time (not three times as many); when the sweep's holder dies,
/// another instance takes the rounds over.
#[test]
fn three_instances_share_the_background_jobs_and_do_each_once() {
    let aws = AwsEnv::shared();
    let settings = |i: usize| {
        vec![
            ("VAULT_UPLOAD_SWEEP_SECS".to_owned(), "1".to_owned()),
            ("VAULT_UPLOAD_TTL_SECS".to_owned(), "2".to_owned()),
            ("VAULT_SCRUB_INTERVAL_SECS".to_owned(), "2".to_owned()),
            ("VAULT_INSTANCE_ID".to_owned(), format!("instance-{i}")),
        ]
    };
    let mut servers: Vec<Server> = (0..3)
        .map(|i| {
            let env = settings(i);
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            Server::start_on(Some(aws.clone()), &env)
        })
        .collect();
    let started = std::time::Instant::now();
    let users: Vec<Api> = servers.iter().map(|s| s.as_user("smiths", "alice")).collect();
    users[0].create_family("Smiths");
    let ids: Vec<String> = (0..6).map(|i| users[i % 3].upload(&format!("scan {i}"), &media(50_000 + i, 7)).0).collect();
    for (i, id) in ids.iter().enumerate() {
        wait_replicated(&users[(i + 1) % 3], id, Duration::from_secs(60));
    }
    std::thread::sleep(Duration::from_secs(3)); // a copy made twice would show by now
    for id in &ids {
        let rows = psql(
            &aws.database,
            &format!("SELECT COUNT(*) FROM audit_log WHERE action = 'recording.replicated' AND target = '{id}'"),
        )
        .unwrap();
        assert_eq!(rows, "1", "{id} copied and audited once");
    }
    let replica_versions = s3(&aws.replica, Method::GET, &format!("{}?versions&prefix=families/", aws.replica_bucket))
        .1
        .matches("<Version>")
        .count();
    assert_eq!(replica_versions, ids.len(), "one replica version per recording");

    // The sweep runs about once a second in all, not three times; the anchor every 2 s.
    let anchored = std::time::Instant::now();
    while s3_keys(&aws.primary, &aws.primary_bucket, "anchors/").len() < 2 || started.elapsed() < Duration::from_secs(8)
    {
        assert!(anchored.elapsed() < Duration::from_secs(40), "no anchors written");
        std::thread::sleep(Duration::from_millis(250));
    }
    let elapsed = started.elapsed().as_secs();
    let sweeps: u64 = servers.iter().map(|s| rounds(s, "upload_sweep")).sum();
    assert!(sweeps >= 2 && sweeps <= elapsed + 2, "{sweeps} sweep rounds in {elapsed} s with three instances");
    let anchors = s3_keys(&aws.primary, &aws.primary_bucket, "anchors/").len() as u64;
    assert!(anchors >= 1 && anchors <= elapsed / 2 + 2, "{anchors} anchors in {elapsed} s with three instances");
    let scrubs: u64 = psql(&aws.database, "SELECT COUNT(*) FROM scrub_runs").unwrap().parse().unwrap();
    assert!(scrubs <= elapsed / 2 + 2, "{scrubs} scrubs in {elapsed} s");
    eprintln!("three instances, {elapsed} s: {sweeps} sweep rounds, {anchors} anchors, {scrubs} scrubs");

    // The sweep's holder dies: another instance runs the next rounds (an abandoned
    // upload still expires), and the lease names it.
    let holder = psql(&aws.database, "SELECT holder FROM job_leases WHERE name = 'sweep'").unwrap();
    let dead = holder.strip_prefix("instance-").unwrap().parse::<usize>().unwrap();
    servers[dead].kill();
    let alive = (dead + 1) % 3;
    let abandoned =
        users[alive].create_recording("abandoned", 10, "client")["recording"]["id"].as_str().unwrap().to_owned();
    let start = std::time::Instant::now();
    loop {
        let status = psql(&aws.database, &format!("SELECT status FROM recordings WHERE id = '{abandoned}'")).unwrap();
        if status == "expired" {
            break;
        }
        // A holder killed mid-round holds the next round up by its round lease (30 s here).
        assert!(start.elapsed() < Duration::from_secs(60), "nobody took the sweep over: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let holder = psql(&aws.database, "SELECT holder FROM job_leases WHERE name = 'sweep'").unwrap();
    assert_ne!(holder, format!("instance-{dead}"));
}

/// HAProxy from Debian, round-robin per request, in front of three instances, as the
/// README's several-instances setup: one upload's parts land on different instances
/// and it commits, is copied once, and reads back the same through the balancer.
#[test]
fn behind_haproxy_one_uploads_parts_land_on_three_instances() {
    let aws = AwsEnv::shared();
    let lb = Haproxy::free_port();
    let origin = format!("http://127.0.0.1:{lb}");
    // 5 MiB parts: a small upload has several.
    let servers = haproxy::instances(&aws, &origin, "lb", 3, &[("VAULT_PART_SIZE", "5242880")]);
    let urls: Vec<&str> = servers.iter().map(|s| s.url.as_str()).collect();
    let _haproxy = Haproxy::start_on(lb, &urls);
    let alice = Api { base: origin.clone(), ..servers[0].as_user("smiths", "alice") };
    alice.create_family("Smiths");
    let video = media(18 * 1024 * 1024 + 11, 5);
    let (id, message) = alice.upload("through the balancer", &video);
    let parts_on = |s: &Server| {
        let metrics = s.http.get(format!("{}/metrics", s.url)).send().unwrap().text().unwrap();
        metrics
            .lines()
            .filter(|l| l.contains("route=\"/v1/recordings/{id}/parts/{part}\"") && l.contains("status=\"200\""))
            .filter(|l| l.starts_with("vault_http_requests_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum::<u64>()
    };
    let spread: Vec<u64> = servers.iter().map(parts_on).collect();
    assert_eq!(spread.iter().sum::<u64>(), 4, "four parts: {spread:?}");
    assert!(spread.iter().filter(|n| **n > 0).count() >= 2, "the parts went to several instances: {spread:?}");
    assert_eq!(alice.content(&id), message, "read back through the balancer");
    wait_replicated(&alice, &id, Duration::from_secs(60));
    let parts = psql(&aws.database, &format!("SELECT COUNT(*) FROM upload_parts WHERE recording_id = '{id}'"));
    assert_eq!(parts.unwrap(), "0", "the parts' rows went with the commit");
    for action in ["recording.committed", "recording.replicated"] {
        assert_eq!(audit_rows(&aws, action, &id), "1", "{action} once");
    }
    let audit = alice.ok(alice.get("/v1/family/audit?limit=500"));
    let mine: Vec<&Value> = audit["items"].as_array().unwrap().iter().filter(|r| r["actor"] == "alice").collect();
    assert!(!mine.is_empty() && mine.iter().all(|r| r["ip"] == "127.0.0.1"), "the client's address, from the proxy");
}

/// How many audit rows of `action` name `target`.
fn audit_rows(aws: &AwsEnv, action: &str, target: &str) -> String {
    psql(&aws.database, &format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}' AND target = '{target}'"))
        .unwrap()
}

/// How many object versions the replica bucket holds under `families/`.
fn replica_versions(aws: &AwsEnv) -> usize {
    let listed = s3(&aws.replica, Method::GET, &format!("{}?versions&prefix=families/", aws.replica_bucket));
    listed.1.matches("<Version>").count()
}

/// The instance that claimed the copy of recording `id`, once one has (30 s at most).
fn copy_holder(aws: &AwsEnv, id: &str) -> String {
    let claim = format!("SELECT COALESCE(claimed_by, '') FROM replication_outbox WHERE recording_id = '{id}'");
    let started = std::time::Instant::now();
    loop {
        let holder = psql(&aws.database, &claim).unwrap();
        if !holder.is_empty() {
            return holder;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "nobody claimed the copy");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Three instances behind HAProxy, one SIGKILLed mid-copy and another mid-upload: the
/// copy the first had claimed is made by another instance once its claim lapses; the
/// CLI's upload goes on through the instances left (a part cut off is sent again, a
/// refused connection is sent elsewhere by the balancer); each recording is committed,
/// copied and audited exactly once, with one version in the replica region.
#[test]
fn behind_haproxy_instances_killed_mid_copy_and_mid_upload_lose_nothing_and_do_nothing_twice() {
    let (primary, replica) = (Moto::start(), Moto::start());
    let aws = AwsEnv::new(&primary.url, &replica.url);
    let lb = Haproxy::free_port();
    let origin = format!("http://127.0.0.1:{lb}");
    // 5 MiB parts: a small upload has several.
    let mut servers = haproxy::instances(&aws, &origin, "killed", 3, &[("VAULT_PART_SIZE", "5242880")]);
    let urls: Vec<&str> = servers.iter().map(|s| s.url.as_str()).collect();
    let _haproxy = Haproxy::start_on(lb, &urls);
    let alice = Api { base: origin.clone(), ..servers[0].as_user("smiths", "alice") };
    alice.create_family("Smiths");

    // Mid-copy: the replica region hangs, so the instance that claims the copy is
    // still at it when it is killed.
    let (first, first_message) = upload_pausing(&alice, "copied by another", &media(3 << 20, 1), &replica);
    let holder = copy_holder(&aws, &first);
    let dead = holder.strip_prefix("killed-").unwrap().parse::<usize>().unwrap();
    servers[dead].kill();
    replica.resume();
    let copied = wait_replicated(&alice, &first, Duration::from_secs(120));
    assert_eq!(copied["replica"]["sha256"], hex::encode(Sha256::digest(&first_message)).as_str());
    eprintln!("the copy claimed by {holder} was made by another instance after its death");

    // Mid-upload: the CLI sends 40 MiB in 5 MiB parts through the balancer; once a
    // few parts are in, a second instance dies.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("long video.mp4");
    let video = media(40 * 1024 * 1024 + 3, 2);
    std::fs::write(&file, &video).unwrap();
    let cli = Command::new(vault_bin())
        .args(["client", "--server", &origin, "upload", file.to_str().unwrap(), "--title", "through a death"])
        .env("VAULT_TOKEN", servers[(dead + 1) % 3].token("smiths", "alice"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while psql(&aws.database, "SELECT COUNT(*) FROM upload_parts").unwrap().parse::<u32>().unwrap() < 3 {
        assert!(started.elapsed() < Duration::from_secs(60), "the upload did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = (dead + 1) % 3;
    servers[second].kill();
    let out = cli.wait_with_output().unwrap();
    assert!(out.status.success(), "the upload went on: {}", String::from_utf8_lossy(&out.stderr));
    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let message = alice.content(&id);
    assert_eq!(decrypt_all(&message, &alice.data_key(&id), "smiths", &id), video);
    wait_replicated(&alice, &id, Duration::from_secs(60));

    std::thread::sleep(Duration::from_secs(2)); // a copy made twice would show by now
    for target in [&first, &id] {
        for action in ["recording.committed", "recording.replicated"] {
            assert_eq!(audit_rows(&aws, action, target), "1", "{action} of {target} once");
        }
    }
    assert_eq!(replica_versions(&aws), 2, "one replica version per recording");
    let audit = alice.ok(alice.get("/v1/family/audit?limit=500"));
    assert!(audit["items"].as_array().unwrap().len() > 4, "the family's log reads through the survivor");
    let out = servers[3 - dead - second].vault(&["audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// An instance frozen (SIGSTOP) while it holds a copy, past its claim: another
/// instance takes the copy over and records it; when the frozen one wakes and ends
/// its own copy, it records nothing (the first to finish does) and stores no second
/// version, so the copy is audited once.
#[test]
fn a_frozen_instance_waking_after_its_copy_was_taken_over_records_nothing_twice() {
    let (primary, replica) = (Moto::start(), Moto::start());
    let aws = AwsEnv::new(&primary.url, &replica.url);
    let servers: Vec<Server> =
        (0..2).map(|i| Server::start_on(Some(aws.clone()), &[("VAULT_INSTANCE_ID", &format!("frozen-{i}"))])).collect();
    let alice = servers[0].as_user("smiths", "alice");
    alice.create_family("Smiths");
    let (id, message) = upload_pausing(&alice, "copied twice", &media(3 << 20, 4), &replica);
    let holder = copy_holder(&aws, &id);
    let frozen = holder.strip_prefix("frozen-").unwrap().parse::<usize>().unwrap();
    let signal = |sig: &str| {
        let pid = servers[frozen].pid().to_string();
        assert!(Command::new("kill").args([sig, &pid]).status().unwrap().success());
    };
    signal("-STOP");
    replica.resume();
    let awake = servers[1 - frozen].as_user("smiths", "alice");
    let copied = wait_replicated(&awake, &id, Duration::from_secs(120));
    assert_eq!(copied["replica"]["sha256"], hex::encode(Sha256::digest(&message)).as_str());
    signal("-CONT");
    std::thread::sleep(Duration::from_secs(10)); // the woken instance ends its copy meanwhile
    assert_eq!(audit_rows(&aws, "recording.replicated", &id), "1", "the copy is recorded once");
    // The woken copy's completion is refused (write-once: `If-None-Match: *`).
    assert_eq!(replica_versions(&aws), 1, "one replica version");
    let out = servers[frozen].vault(&["audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
