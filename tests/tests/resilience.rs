#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "test code: a panic is a failed test")]
//! Resilience, bounded in count and time, loopback only: the server SIGKILLed at
//! random points of uploads, replication and purges; the database connection lost;
//! a soak of resumable uploads over a network that cuts connections at random; and a
//! load test of 200 concurrent clients. Random choices come from a seed printed by
//! each test (set `VAULT_TEST_SEED` to replay one).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use vault_tests::haproxy::{self, Haproxy};
use vault_tests::tcp_proxy::TcpProxy;
use vault_tests::*;

fn seed() -> u64 {
    let seed = std::env::var("VAULT_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(now);
    eprintln!("VAULT_TEST_SEED={seed}");
    seed
}

/// Whether a failed request may be tried again: the connection failed (the server
/// was restarting, or a proxy cut it), or the server answered that it cannot serve
/// now (503, or 409 upload-busy while it still receives a cut-off part). Any other
/// answer is a failure the test must see, not retry away.
fn retryable(result: &reqwest::Result<reqwest::blocking::Response>) -> bool {
    match result {
        Err(e) => e.is_connect() || e.is_request() || e.is_body() || e.is_decode() || e.is_timeout(),
        Ok(r) => r.status() == StatusCode::SERVICE_UNAVAILABLE || r.status() == StatusCode::CONFLICT,
    }
}

/// The JSON answer to a request, sent again while it fails in a retryable way (see
/// [`retryable`]) and `within` has not run out; panics on any other failure.
fn send_until(within: Instant, what: &str, send: impl Fn() -> reqwest::Result<reqwest::blocking::Response>) -> Value {
    loop {
        let result = send();
        if !retryable(&result) {
            let r = result.unwrap();
            let status = r.status();
            // An answer cut off mid-body is a connection failure too.
            if let Ok(text) = r.text() {
                assert!(status.is_success(), "{what}: {status} {text}");
                return if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
            }
        }
        assert!(Instant::now() < within, "{what}: still failing at the deadline");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends the parts an upload still needs (asking the server which) and commits it.
fn finish_upload(api: &Api, id: &str, parts: &[Vec<u8>], within: Duration) {
    let deadline = Instant::now() + within;
    let r = send_until(deadline, "read", || api.req(Method::GET, &format!("/v1/recordings/{id}")).send());
    if r["status"] == "committed" {
        return;
    }
    let status =
        send_until(deadline, "upload status", || api.req(Method::GET, &format!("/v1/recordings/{id}/upload")).send());
    let next = status["next_part"].as_u64().unwrap() as usize;
    for (i, part) in parts.iter().enumerate().skip(next - 1) {
        send_until(deadline, "part", || {
            api.req(Method::PUT, &format!("/v1/recordings/{id}/parts/{}", i + 1))
                .header("x-vault-sha256", hex::encode(Sha256::digest(part)))
                .body(part.clone())
                .send()
        });
    }
    let done = send_until(deadline, "complete", || {
        api.req(Method::POST, &format!("/v1/recordings/{id}/complete")).json(&json!({})).send()
    });
    assert_eq!(done["status"], "committed");
}

fn committed_ids(api: &Api) -> Vec<String> {
    let list = api.ok(api.get("/v1/recordings?limit=100"));
    let mut ids: Vec<String> =
        list["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

/// What was under way when the server was killed, read from its database and from
/// the uploader: the evidence that each kill interrupted work that had to resume.
#[derive(Debug, Default)]
struct InFlight {
    /// Bytes of the last part handed to the connection (of `part_len`).
    part_sent: usize,
    part_len: usize,
    /// Copies to the second region not yet made (rows of the replication outbox).
    copies_pending: usize,
    /// Erased recordings whose retention has ended and whose objects are not yet purged.
    purges_due: usize,
}

fn in_flight(server: &Server, part: &trickle::Progress) -> InFlight {
    let count = |sql: &str| server.sql(sql).unwrap().parse::<usize>().unwrap();
    InFlight {
        part_sent: part.sent(),
        part_len: part.len(),
        copies_pending: count("SELECT COUNT(*) FROM replication_outbox"),
        purges_due: count(&format!(
            "SELECT COUNT(*) FROM recordings WHERE deleted_at IS NOT NULL AND purged_at IS NULL AND retain_until < {}",
            now() * 1000
        )),
    }
}

/// The second region, which the test takes away and brings back: the replica
/// directory swapped for a file (writes fail even as root), or a proxy in front of the
/// replica region's S3 and KMS that refuses connections.
enum SecondRegion {
    Dir(std::path::PathBuf),
    Proxy(TcpProxy),
}

impl SecondRegion {
    fn of(server: &Server, proxy: Option<TcpProxy>) -> Self {
        match proxy {
            Some(proxy) => Self::Proxy(proxy),
            None => Self::Dir(server.replica.as_ref().unwrap().path().join("objects")),
        }
    }

    fn down(&self) {
        match self {
            Self::Dir(dir) => {
                std::fs::rename(dir, dir.with_extension("away")).unwrap();
                std::fs::write(dir, b"not a directory").unwrap();
            }
            Self::Proxy(proxy) => proxy.down(),
        }
    }

    fn up(&self) {
        match self {
            Self::Dir(dir) => {
                std::fs::remove_file(dir).unwrap();
                std::fs::rename(dir.with_extension("away"), dir).unwrap();
            }
            Self::Proxy(proxy) => proxy.up(),
        }
    }
}

fn random_kills_during_uploads_replication_and_purges_lose_nothing_and_show_nothing_half_done(backend: Backend) {
    let mut rng = StdRng::seed_from_u64(seed());
    let settings = [("VAULT_UPLOAD_SWEEP_SECS", "1")];
    let (mut server, proxy) = match backend {
        Backend::Embedded => (Server::replicated(backend, &settings), None),
        Backend::Aws => {
            let (primary, replica) = aws::shared_moto();
            let proxy = TcpProxy::start(replica.trim_start_matches("http://"));
            let env = aws::AwsEnv::new(&primary, &format!("http://{}", proxy.addr));
            (Server::start_on(Some(env), &settings), Some(proxy))
        }
    };
    let second = SecondRegion::of(&server, proxy);
    let mut alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let mut kept = Vec::new();
    let mut erased = Vec::new();
    let mut evidence = Vec::new();
    for round in 0..5u8 {
        // An erased recording whose retention is about to end...
        let (gone, _) = alice.upload(&format!("gone {round}"), &media(100_000, round));
        wait_replicated(&alice, &gone, Duration::from_secs(30));
        alice.ok(alice.req(Method::DELETE, &format!("/v1/recordings/{gone}")).send().unwrap());
        erased.push(gone.clone());
        // ...a recording all sent but not yet committed...
        let message = media(300_000, 50 + round);
        let created = alice.create_recording(&format!("fresh {round}"), message.len(), "client");
        let fresh = created["recording"]["id"].as_str().unwrap().to_owned();
        for (i, part) in split_parts(&created, &encrypt_for(&created, &message)).iter().enumerate() {
            alice.ok(alice.put_part(&fresh, i + 1, part));
        }
        kept.push((fresh.clone(), message));
        // ...and a multi-part upload whose last part is trickling in.
        let video = media(11 << 20, 100 + round);
        let created = alice.create_recording(&format!("video {round}"), video.len(), "client");
        let id = created["recording"]["id"].as_str().unwrap().to_owned();
        let parts = split_parts(&created, &encrypt_for(&created, &video));
        assert!(parts.len() >= 2);
        let last = parts.len();
        for (i, part) in parts[..last - 1].iter().enumerate() {
            alice.ok(alice.put_part(&id, i + 1, part));
        }
        let (body, progress) = trickle(parts[last - 1].clone());
        let uploader = {
            let (api, id) = (alice.clone(), id.clone());
            let sha = hex::encode(Sha256::digest(&parts[last - 1]));
            std::thread::spawn(move || {
                let path = format!("/v1/recordings/{id}/parts/{last}");
                let _ = api.req(Method::PUT, &path).header("x-vault-sha256", sha).body(body).send();
            })
        };
        // The second region goes away: the purge now due and the copy of the recording
        // committed now cannot finish before the kill.
        server.expire_retention(&gone);
        second.down();
        let done = alice.ok(alice.post(&format!("/v1/recordings/{fresh}/complete"), json!({})));
        assert_eq!(done["status"], "committed");
        // Killed at a random moment while the last part is still arriving.
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..300)));
        progress.wait_for(1);
        let state = in_flight(&server, &progress);
        server.kill();
        second.up();
        server.restart_with(&[]);
        let _ = uploader.join();
        eprintln!("round {round}: killed with {state:?}");
        evidence.push(state);
        alice = Api { base: server.url.clone(), ..alice };
        // Nothing half-done is visible: the upload is listed only once committed.
        assert!(!committed_ids(&alice).contains(&id));
        assert_eq!(alice.ok(alice.get(&format!("/v1/recordings/{id}")))["status"], "pending");
        finish_upload(&alice, &id, &parts, Duration::from_secs(60));
        kept.push((id, video));
    }
    // Each kill interrupted a part mid-body, a copy to the second region and (unless
    // the purge job ran in the moment before the region went away) a purge.
    assert!(evidence.iter().all(|e| e.part_sent > 0 && e.part_sent < e.part_len), "{evidence:?}");
    assert!(evidence.iter().all(|e| e.copies_pending > 0), "{evidence:?}");
    assert!(evidence.iter().any(|e| e.purges_due > 0), "no kill found a purge due: {evidence:?}");
    // Everything resumes: every upload committed once, replicated, and decrypting to
    // its plaintext; every due purge done in both regions.
    let mut want: Vec<String> = kept.iter().map(|(id, _)| id.clone()).collect();
    want.sort();
    assert_eq!(committed_ids(&alice), want);
    for (id, plaintext) in &kept {
        wait_replicated(&alice, id, Duration::from_secs(30));
        assert_eq!(decrypt_all(&alice.content(id), &alice.data_key(id), "smiths", id), *plaintext, "{id}");
    }
    let start = Instant::now();
    let keys: Vec<String> = erased.iter().map(|id| server.object_key(id)).collect();
    let stored = |key: &String| [Region::Primary, Region::Replica].into_iter().any(|r| server.stored(r, key).is_some());
    while keys.iter().any(stored) {
        assert!(start.elapsed() < Duration::from_secs(30), "purges did not resume");
        std::thread::sleep(Duration::from_millis(200));
    }
    // No stray store-side uploads, both regions consistent, and the log intact.
    assert_eq!(server.store_uploads(), 0);
    let out = server.vault(&["scrub"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = server.vault(&["audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn resumable_uploads_soak_through_random_disconnects(backend: Backend) {
    let seed = seed();
    let server = Server::start(backend);
    let proxy = TcpProxy::start(server.url.trim_start_matches("http://"));
    let direct = server.as_user("smiths", "alice");
    direct.create_family("Smiths");
    // A third of connections cut somewhere in their first 6 MiB of request bytes.
    proxy.flaky(seed, 0.33, 6 << 20);
    let alice = direct.via(&proxy.addr);
    let mut done = Vec::new();
    for i in 0..6u8 {
        let video = media((11 << 20) + usize::from(i) * 4099, i);
        // Creating can be cut too: a lost answer leaves a pending recording that expires.
        let created = send_until(Instant::now() + Duration::from_secs(60), "create", || {
            alice
                .req(Method::POST, "/v1/recordings")
                .json(&json!({ "title": format!("soak {i}"), "kind": "video", "content_type": "video/webm",
                               "plaintext_size": video.len(), "encryption": "client" }))
                .send()
        });
        let id = created["recording"]["id"].as_str().unwrap().to_owned();
        let parts = split_parts(&created, &encrypt_for(&created, &video));
        finish_upload(&alice, &id, &parts, Duration::from_secs(120));
        done.push((id, video));
    }
    proxy.steady();
    for (id, video) in &done {
        assert_eq!(decrypt_all(&alice.content(id), &alice.data_key(id), "smiths", id), *video, "{id}");
    }
    let listed = committed_ids(&alice);
    assert_eq!(listed.len(), done.len(), "each upload committed exactly once");
}

#[test]
fn losing_the_database_fails_requests_cleanly_and_everything_resumes_after() {
    // PostgreSQL behind a proxy that can drop every connection (embedded mode's
    // SQLite cannot be disconnected).
    let aws = aws::AwsEnv::shared();
    let upstream = aws.database.split('@').nth(1).unwrap().split('/').next().unwrap().to_owned();
    let proxy = TcpProxy::start(&upstream);
    let through_proxy = aws.database.replace(&upstream, &proxy.addr);
    let server = Server::start_on(
        Some(aws),
        &[("VAULT_DATABASE_URL", through_proxy.as_str()), ("VAULT_HEALTH_CHECK_SECS", "1")],
    );
    let alice = server.as_user("smiths", "alice");
    alice.create_family("Smiths");
    let video = media(6 << 20, 3);
    let created = alice.create_recording("during the outage", video.len(), "client");
    let id = created["recording"]["id"].as_str().unwrap().to_owned();
    let parts = split_parts(&created, &encrypt_for(&created, &video));
    alice.ok(alice.put_part(&id, 1, &parts[0]));

    proxy.down();
    // Requests fail with a retryable status and a problem document, not a hang or a crash.
    for (method, path) in
        [(Method::GET, "/v1/recordings".to_owned()), (Method::POST, format!("/v1/recordings/{id}/complete"))]
    {
        let started = Instant::now();
        let (s, body) = status(alice.req(method, &path).json(&json!({})).send().unwrap());
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
        assert!(body.contains("urn:vault:"), "{body}");
        assert!(started.elapsed() < Duration::from_secs(30));
    }
    assert_eq!(
        server.http.get(format!("{}/readyz", server.url)).send().unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    // Liveness holds (a restart would not bring the database back); the details say why.
    server.health_when("database", None, false);
    proxy.up();

    // After: the upload resumes where it was and commits once; the log verifies.
    finish_upload(&alice, &id, &parts, Duration::from_secs(60));
    assert_eq!(committed_ids(&alice), vec![id.clone()]);
    assert_eq!(decrypt_all(&alice.content(&id), &alice.data_key(&id), "smiths", &id), video);
    let out = server.vault(&["audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Latency percentile (ms) of sorted samples.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The 200 clients: 20 families of 10 members (one owner invites the other nine), each
/// member reaching the service at `base`.
fn load_clients(server: &Server, base: &str, tag: &str) -> Vec<Api> {
    const CLIENTS: usize = 200;
    const FAMILIES: usize = 20;
    let mut apis = Vec::new();
    for f in 0..FAMILIES {
        let family = format!("load-{tag}{f}");
        let owner = server.as_user(&family, "u0");
        owner.create_family(&family);
        for m in 1..CLIENTS / FAMILIES {
            owner.invite(&format!("u{m}"), "member");
        }
        apis.push(owner);
        for m in 1..CLIENTS / FAMILIES {
            apis.push(server.as_user(&family, &format!("u{m}")));
        }
    }
    apis.into_iter().map(|api| Api { base: base.to_owned(), ..api }).collect()
}

/// Each client in a loop for `seconds`: upload a recording (create, one part,
/// complete), have its key released, read a range of it, list the family. Returns the
/// report (counts, uploads per second, latency percentiles, errors, memory samples of
/// each of `pids`), after asserting no errors and flat memory in every instance.
fn drive_load(apis: Vec<Api>, pids: &[u32], seconds: u64) -> Value {
    let latencies: Arc<Mutex<Vec<(&'static str, f64)>>> = Arc::default();
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let clients = apis.len();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let samplers: Vec<_> = pids
        .iter()
        .map(|&pid| {
            std::thread::spawn(move || {
                let mut samples = Vec::new();
                while Instant::now() < deadline {
                    samples.push(rss_kib(pid));
                    std::thread::sleep(Duration::from_millis(500));
                }
                samples
            })
        })
        .collect();
    let threads: Vec<_> = apis
        .into_iter()
        .enumerate()
        .map(|(n, api)| {
            let (latencies, errors) = (latencies.clone(), errors.clone());
            std::thread::spawn(move || {
                let timed = |what: &'static str, f: &mut dyn FnMut() -> Result<(), String>| {
                    let start = Instant::now();
                    let result = f();
                    latencies.lock().unwrap().push((what, start.elapsed().as_secs_f64() * 1000.0));
                    if let Err(e) = result {
                        errors.lock().unwrap().push(format!("{what}: {e}"));
                    }
                };
                let check = |r: reqwest::Result<reqwest::blocking::Response>| -> Result<Value, String> {
                    let r = r.map_err(|e| e.to_string())?;
                    let s = r.status();
                    let text = r.text().map_err(|e| e.to_string())?;
                    if s.is_success() {
                        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
                    } else {
                        Err(format!("{s}: {text}"))
                    }
                };
                let mut i = 0u32;
                while Instant::now() < deadline {
                    let plaintext = media(64 * 1024 + n, (n % 251) as u8);
                    let mut id = String::new();
                    timed("upload", &mut || {
                        let created = check(
                            api.req(Method::POST, "/v1/recordings")
                                .json(&json!({
                            "title": format!("load {n}/{i}"), "kind": "audio", "content_type": "audio/wav",
                            "plaintext_size": plaintext.len(), "encryption": "client" }))
                                .send(),
                        )?;
                        id = created["recording"]["id"].as_str().unwrap_or_default().to_owned();
                        let message = encrypt_for(&created, &plaintext);
                        check(
                            api.req(Method::PUT, &format!("/v1/recordings/{id}/parts/1"))
                                .header("x-vault-sha256", hex::encode(Sha256::digest(&message)))
                                .body(message)
                                .send(),
                        )?;
                        check(api.req(Method::POST, &format!("/v1/recordings/{id}/complete")).json(&json!({})).send())
                            .map(drop)
                    });
                    timed("key release", &mut || {
                        check(api.req(Method::POST, &format!("/v1/recordings/{id}/key")).json(&json!({})).send())
                            .map(drop)
                    });
                    timed("ranged read", &mut || {
                        let r = api
                            .req(Method::GET, &format!("/v1/recordings/{id}/content"))
                            .header("range", "bytes=1000-9191")
                            .send()
                            .map_err(|e| e.to_string())?;
                        if r.status() != StatusCode::PARTIAL_CONTENT {
                            return Err(r.status().to_string());
                        }
                        (r.bytes().map_err(|e| e.to_string())?.len() == 8192)
                            .then_some(())
                            .ok_or_else(|| "short range".to_owned())
                    });
                    timed("list", &mut || check(api.req(Method::GET, "/v1/recordings?limit=20").send()).map(drop));
                    i += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let rss: Vec<Vec<u64>> = samplers.into_iter().map(|t| t.join().unwrap()).collect();
    let errors = errors.lock().unwrap();
    let mut by_kind: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
    for (what, ms) in latencies.lock().unwrap().iter() {
        by_kind.entry(what).or_default().push(*ms);
    }
    let uploads = by_kind.get("upload").map_or(0, Vec::len);
    let mut report = json!({
        "clients": clients, "instances": pids.len(), "seconds": seconds, "errors": errors.len(),
        "uploads_per_sec": uploads as f64 / seconds as f64, "rss_kib": rss,
    });
    for (what, mut ms) in by_kind {
        ms.sort_by(f64::total_cmp);
        report[what] = json!({ "count": ms.len(), "p50_ms": percentile(&ms, 0.5), "p99_ms": percentile(&ms, 0.99) });
    }
    eprintln!("load: {report}");
    assert!(errors.is_empty(), "{} errors, first: {:?}", errors.len(), errors.iter().take(5).collect::<Vec<_>>());
    // Flat memory: the last third of the run holds no more than the first third
    // after warm-up plus a margin (growth with the number of requests would not).
    for rss in &rss {
        let third = rss.len() / 3;
        let early = *rss[1..third.max(2)].iter().max().unwrap();
        let late = *rss[rss.len() - third..].iter().max().unwrap();
        assert!(
            late <= early + early / 4 + 32 * 1024,
            "server memory grew: {early} KiB early, {late} KiB late ({rss:?})"
        );
    }
    report
}

/// Where the load reports go (`target/load-report*.json`), for the closing notes.
fn save_report(name: &str, report: &Value) {
    let out =
        std::path::PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into())).join(name);
    let _ = std::fs::write(out, report.to_string());
}

fn load_seconds() -> u64 {
    std::env::var("VAULT_LOAD_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(20)
}

/// Embedded: 200 clients straight at one `vault serve` on SQLite.
#[test]
fn two_hundred_clients_upload_and_play_back_with_no_errors_and_flat_memory() {
    let server = Server::start_with(Backend::Embedded, &[("VAULT_KEY_RELEASES_PER_MINUTE", "100000")]);
    let apis = load_clients(&server, &server.url, "");
    save_report("load-report.json", &drive_load(apis, &[server.pid()], load_seconds()));
}

/// PostgreSQL, KMS and S3: the same 200 clients through HAProxy (the README's
/// several-instances configuration), first in front of one instance, then of three on
/// the same database and buckets; no errors and flat memory in each instance, and the
/// uploads per second of both (their ratio is reported, not asserted: the three share
/// this machine's two cores with the database, moto and the clients).
#[test]
fn two_hundred_clients_through_haproxy_on_one_then_three_instances_with_no_errors_and_flat_memory() {
    let aws = aws::AwsEnv::shared();
    let (one, three) = (Haproxy::free_port(), Haproxy::free_port());
    let origins = format!("http://127.0.0.1:{one},http://127.0.0.1:{three}");
    let servers = haproxy::instances(&aws, &origins, "load", 3, &[("VAULT_KEY_RELEASES_PER_MINUTE", "100000")]);
    let seconds = load_seconds();
    let mut reports = Vec::new();
    for (port, count) in [(one, 1), (three, 3)] {
        let instances = &servers[..count];
        let urls: Vec<&str> = instances.iter().map(|s| s.url.as_str()).collect();
        let haproxy = Haproxy::start_on(port, &urls);
        let apis = load_clients(&servers[0], &haproxy.url, &format!("{count}-"));
        let pids: Vec<u32> = instances.iter().map(Server::pid).collect();
        reports.push(drive_load(apis, &pids, seconds));
    }
    let ratio = reports[1]["uploads_per_sec"].as_f64().unwrap() / reports[0]["uploads_per_sec"].as_f64().unwrap();
    eprintln!("uploads per second, three instances over one: {ratio:.2}");
    save_report("load-report-haproxy.json", &json!({ "one": reports[0], "three": reports[1], "ratio": ratio }));
}

fn idle_and_half_open_connections_neither_starve_others_nor_hold_up_shutdown(backend: Backend) {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    // The shipped defaults: 10 s to send a request head, 256 connections per address.
    let mut server = Server::start(backend);
    let addr = server.url.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for i in 0..300 {
        let mut c = TcpStream::connect(&addr).unwrap();
        if i % 2 == 1 {
            // Half a request head, never finished.
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").unwrap();
        }
        held.push(c);
    }
    // Another client (another loopback address) is served all the while.
    let other = reqwest::blocking::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    for _ in 0..5 {
        assert_eq!(other.get(format!("{}/readyz", server.url)).send().unwrap().status(), StatusCode::OK);
    }
    // The server closes every one of them: those over the per-address cap at once, the
    // rest when their time to send a head runs out.
    let start = Instant::now();
    for c in &mut held {
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = [0u8; 256];
        match c.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => assert!(
                String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"),
                "{}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) => assert!(
                e.kind() != std::io::ErrorKind::WouldBlock && e.kind() != std::io::ErrorKind::TimedOut,
                "still open: {e}"
            ),
        }
    }
    assert!(start.elapsed() < Duration::from_secs(30));
    // Shutdown does not wait on connections with no request under way.
    let _lingering: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut c = TcpStream::connect(&addr).unwrap();
            c.write_all(b"POST /v1/families HTTP/1.1\r\nHost: 127.0.0.1\r\n").unwrap();
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let status = server.terminate_within(Duration::from_secs(5)).expect("SIGTERM waited on half-sent requests");
    assert!(status.success(), "{status}");
}

per_backend! {
    random_kills_during_uploads_replication_and_purges_lose_nothing_and_show_nothing_half_done,
    resumable_uploads_soak_through_random_disconnects,
    idle_and_half_open_connections_neither_starve_others_nor_hold_up_shutdown,
}
