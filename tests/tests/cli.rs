//! The `vault encrypt` / `vault decrypt` command line: results on stdout, one-line
//! errors on stderr, atomic output files, and only verified plaintext ever written.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use vault_tests::vault_bin;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let env = Self { dir: tempfile::tempdir().expect("tempdir") };
        std::fs::write(env.key(), format!("{}\n", "ab".repeat(32))).expect("key");
        std::fs::write(env.path("other.key"), "cd".repeat(32)).expect("key");
        env
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn key(&self) -> PathBuf {
        self.path("family.key")
    }

    fn vault(&self, args: &[&str], key: &Path, stdin: Option<&[u8]>) -> Output {
        let mut child = Command::new(vault_bin())
            .args(args)
            .arg("--key-file")
            .arg(key)
            .args(["--key-namespace", "vault", "--key-name", "family"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn vault");
        let mut pipe = child.stdin.take().expect("stdin");
        let input = stdin.unwrap_or_default().to_vec();
        let writer = std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
        let out = child.wait_with_output().expect("vault output");
        writer.join().expect("stdin writer");
        out
    }
}

fn stderr_line(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(text.trim_end().lines().count(), 1, "error must be one line: {text:?}");
    text
}

#[test]
fn round_trip_through_pipes_and_files() {
    let env = Env::new();
    let plain: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let enc =
        env.vault(&["encrypt", "--frame-length", "4096", "--context", "vault:tenant=fam-1"], &env.key(), Some(&plain));
    assert!(enc.status.success(), "{}", String::from_utf8_lossy(&enc.stderr));
    assert!(enc.stderr.is_empty(), "nothing but the result: {:?}", String::from_utf8_lossy(&enc.stderr));
    let msg = enc.stdout;
    assert_eq!(&msg[..3], &[0x02, 0x04, 0x78]);

    std::fs::write(env.path("msg"), &msg).expect("write");
    let out_path = env.path("plain.out");
    let dec = env.vault(
        &[
            "decrypt",
            "--context",
            "vault:tenant=fam-1",
            "-i",
            env.path("msg").to_str().unwrap(),
            "-o",
            out_path.to_str().unwrap(),
        ],
        &env.key(),
        None,
    );
    assert!(dec.status.success(), "{}", String::from_utf8_lossy(&dec.stderr));
    assert!(dec.stdout.is_empty());
    assert_eq!(std::fs::read(&out_path).expect("output"), plain);
}

#[test]
fn failed_decrypt_to_file_leaves_nothing() {
    let env = Env::new();
    let plain = vec![7u8; 100_000];
    let mut msg = env.vault(&["encrypt", "--frame-length", "1024"], &env.key(), Some(&plain)).stdout;
    let last = msg.len() - 1;
    msg[last] ^= 1;
    std::fs::write(env.path("bad"), &msg).expect("write");
    let out_path = env.path("never");
    let dec = env.vault(
        &["decrypt", "-i", env.path("bad").to_str().unwrap(), "-o", out_path.to_str().unwrap()],
        &env.key(),
        None,
    );
    assert_eq!(dec.status.code(), Some(1));
    assert!(stderr_line(&dec).contains("failed authentication"));
    assert!(!out_path.exists(), "no output file after a failed decryption");
    let leftovers: Vec<_> = std::fs::read_dir(env.dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(
        leftovers.iter().all(|n| !n.to_string_lossy().starts_with(".vault-partial")),
        "temporary file left behind: {leftovers:?}"
    );
}

#[test]
fn stdout_gets_only_verified_frames() {
    let env = Env::new();
    let plain: Vec<u8> = (0..10_000u32).map(|i| (i % 256) as u8).collect();
    let mut msg = env.vault(&["encrypt", "--frame-length", "1000"], &env.key(), Some(&plain)).stdout;
    // Corrupt frame 6: frames 1-5 verified, nothing of 6 or later may appear.
    let header_len = msg.len() - (10 * 1032 + 40); // ten full frames, an empty final frame
    msg[header_len + 5 * 1032 + 100] ^= 0x10;
    let dec = env.vault(&["decrypt"], &env.key(), Some(&msg));
    assert_eq!(dec.status.code(), Some(1));
    assert!(stderr_line(&dec).contains("frame 6"));
    assert_eq!(dec.stdout, plain[..5000]);
}

#[test]
fn clear_errors_for_bad_input() {
    let env = Env::new();
    let msg = env.vault(&["encrypt", "--context", "vault:tenant=a"], &env.key(), Some(b"hello")).stdout;
    let cases: Vec<(Vec<&str>, PathBuf, Vec<u8>, &str)> = vec![
        (vec!["decrypt"], env.path("other.key"), msg.clone(), "no keyring could decrypt"),
        (vec!["decrypt", "--context", "vault:tenant=b"], env.key(), msg.clone(), "has another value"),
        (vec!["decrypt", "--context", "vault:object=x"], env.key(), msg.clone(), "missing"),
        (vec!["decrypt"], env.key(), msg[..msg.len() - 3].to_vec(), "truncated"),
        (vec!["decrypt"], env.key(), b"not a message".to_vec(), "unsupported message: message format version 110"),
        (vec!["decrypt"], env.key(), Vec::new(), "truncated"),
        (vec!["decrypt"], env.path("missing.key"), msg.clone(), "cannot read key file"),
        (vec!["encrypt", "--context", "aws-crypto-x=1"], env.key(), b"x".to_vec(), "reserved prefix"),
    ];
    for (args, key, input, expect) in cases {
        let out = env.vault(&args, &key, Some(&input));
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let line = stderr_line(&out);
        assert!(line.contains(expect), "{args:?}: {line}");
        assert!(!line.contains(&"ab".repeat(8)), "key material in error: {line}");
        assert!(out.stdout.is_empty(), "{args:?} printed output");
    }
    let bad_frame = env.vault(&["encrypt", "--frame-length", "0"], &env.key(), Some(b"x"));
    assert_eq!(bad_frame.status.code(), Some(2), "usage errors exit 2 (clap)");
}
