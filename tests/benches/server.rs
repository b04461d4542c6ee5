#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "benchmark code")]
//! Server benchmark (run: `cargo bench -p vault-tests --bench server`; size with
//! VAULT_BENCH_MIB, default 1024): upload and download of one large recording through
//! a real `vault serve` on loopback (the `vault client` path: local encryption, parts,
//! local decryption), the server's peak RSS, and the latency of 64 KiB ranged reads
//! under 50 concurrent readers; on the AWS backends (`VAULT_BENCH_BACKEND=aws`, with
//! scripts/services running) also the KMS requests of one playback session (a fresh
//! server, then 100 × key release + range request). Prints figures; asserts nothing
//! about time.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::Method;
use vault_tests::*;

fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 =
        status.lines().find(|l| l.starts_with("VmHWM:")).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024.0
}

fn main() {
    let mib: usize = std::env::var("VAULT_BENCH_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
    let backend = match std::env::var("VAULT_BENCH_BACKEND").as_deref() {
        Ok("aws") => Backend::Aws,
        Ok("embedded") | Err(_) => Backend::Embedded,
        Ok(other) => panic!("VAULT_BENCH_BACKEND={other:?}: expected embedded or aws"),
    };
    let mut server =
        Server::start_with(backend, &[("VAULT_FRAME_LENGTH", "65536"), ("VAULT_PART_SIZE", &(8 << 20).to_string())]);
    let pid = server.pid();
    let owner = server.token("bench", "alice");
    let api = server.as_user("bench", "alice");
    api.create_family("Bench");
    let dir = std::env::var("VAULT_BENCH_DIR").map(std::path::PathBuf::from).unwrap_or_else(|_| std::env::temp_dir());
    let input = dir.join("vault-bench-input");
    {
        let mut f = std::fs::File::create(&input).unwrap();
        let block = media(1 << 20, 3);
        for _ in 0..mib {
            f.write_all(&block).unwrap();
        }
    }
    let rss_idle = peak_rss_mib(pid);
    let vault = |args: &[&str]| {
        let start = Instant::now();
        let out = Command::new(vault_bin())
            .args(["client", "--server", &server.url])
            .args(args)
            .env("VAULT_TOKEN", &owner)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (String::from_utf8(out.stdout).unwrap(), start.elapsed())
    };
    let (id, up) = vault(&["upload", input.to_str().unwrap(), "--kind", "video"]);
    let id = id.trim().to_owned();
    let rss_after_upload = peak_rss_mib(pid);
    let output = dir.join("vault-bench-output");
    let (_, down) = vault(&["download", &id, "-o", output.to_str().unwrap()]);
    let rss_after_download = peak_rss_mib(pid);
    assert_eq!(std::fs::metadata(&output).unwrap().len(), (mib << 20) as u64);
    // Raw ciphertext download (no client decryption): the server's own rate.
    let start = Instant::now();
    let mut response = api.get(&format!("/v1/recordings/{id}/content"));
    let raw = std::io::copy(&mut response, &mut std::io::sink()).unwrap();
    let raw_time = start.elapsed();

    // 64 KiB ranged reads, 50 readers, 4 s.
    let size = raw;
    let deadline = Instant::now() + Duration::from_secs(4);
    let readers: Vec<_> = (0..50)
        .map(|r| {
            let api = api.clone();
            let id = id.clone();
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                let mut offset = (r as u64 * 7_919_993) % (size - 65_536);
                while Instant::now() < deadline {
                    let start = Instant::now();
                    let resp = api
                        .req(Method::GET, &format!("/v1/recordings/{id}/content"))
                        .header("range", format!("bytes={offset}-{}", offset + 65_535))
                        .send()
                        .unwrap();
                    assert_eq!(resp.status(), reqwest::StatusCode::PARTIAL_CONTENT);
                    assert_eq!(resp.bytes().unwrap().len(), 65_536);
                    latencies.push(start.elapsed());
                    offset = (offset + 104_729_999) % (size - 65_536);
                }
                latencies
            })
        })
        .collect();
    let mut all: Vec<Duration> = readers.into_iter().flat_map(|h| h.join().unwrap()).collect();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    let mb = |d: Duration, bytes: u64| bytes as f64 / 1e6 / d.as_secs_f64();
    let bytes = (mib << 20) as u64;
    println!("recording: {mib} MiB plaintext, {raw} bytes ciphertext");
    println!(
        "upload   (vault client: encrypt + parts + server verify): {:.2} s, {:.0} MB/s",
        up.as_secs_f64(),
        mb(up, bytes)
    );
    println!(
        "download (vault client: server read + client decrypt):   {:.2} s, {:.0} MB/s",
        down.as_secs_f64(),
        mb(down, bytes)
    );
    println!(
        "download (raw ciphertext over HTTP):                     {:.2} s, {:.0} MB/s",
        raw_time.as_secs_f64(),
        mb(raw_time, raw)
    );
    println!(
        "server peak RSS: idle {rss_idle:.1} MiB, after upload {rss_after_upload:.1} MiB, after downloads {rss_after_download:.1} MiB, after ranged reads {:.1} MiB",
        peak_rss_mib(pid)
    );
    println!(
        "64 KiB ranged reads, 50 readers: {} requests in 4 s, p50 {:.2} ms, p99 {:.2} ms",
        all.len(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3
    );
    if server.aws.is_some() {
        // Wait for the replica copy (it competes with the reads above), then one
        // playback session on a fresh server (empty data-key cache).
        while api.ok(api.get(&format!("/v1/recordings/{id}")))["replica"].is_null() {
            std::thread::sleep(Duration::from_millis(500));
        }
        server.kill_and_restart();
        let api = server.as_user("bench", "alice");
        let decrypts = || {
            let text = server.http.get(format!("{}/metrics", server.url)).send().unwrap().text().unwrap();
            text.lines()
                .filter(|l| l.starts_with("vault_kms_requests_total{") && l.contains("op=\"Decrypt\""))
                .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
                .sum::<u64>()
        };
        let before = decrypts();
        for i in 0..100u64 {
            api.data_key(&id);
            let offset = (i * 10_485_763) % (size - 65_536);
            let resp = api
                .req(Method::GET, &format!("/v1/recordings/{id}/content"))
                .header("range", format!("bytes={offset}-{}", offset + 65_535))
                .send()
                .unwrap();
            assert_eq!(resp.status(), reqwest::StatusCode::PARTIAL_CONTENT);
        }
        println!(
            "KMS Decrypt requests for one playback session (100 key releases + 100 ranges): {}",
            decrypts() - before
        );
    }
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&output);
}
