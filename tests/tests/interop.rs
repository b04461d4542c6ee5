//! Interoperability with the official AWS Encryption SDKs (Python and JavaScript):
//! they encrypt randomised messages that `vault decrypt` must read, and decrypt what
//! `vault encrypt` writes. Randomised per run; the seed is printed, and
//! `VAULT_INTEROP_SEED=n` replays a run.
//!
//! Needs the SDKs installed as `scripts/setup` does: `$VAULT_PYTHON` (default
//! `python3`) with `aws-encryption-sdk`, and `tests/interop/node_modules`.

use std::path::{Path, PathBuf};
use std::process::Command;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use vault_core::{BodyLayout, DecryptPolicy, HeaderParse, ParsedHeader, RangeDecryptor, RawAesKeyring};
use vault_tests::{vault_bin, workspace};

#[derive(Serialize, Clone)]
struct KeySpec {
    namespace: String,
    name: String,
    key_hex: String,
}

#[derive(Serialize, Clone)]
struct Case {
    input: PathBuf,
    output: PathBuf,
    frame_length: u32,
    context: std::collections::BTreeMap<String, String>,
    keys: Vec<KeySpec>,
}

const OUR_NAMESPACE: &str = "vault-interop";
const OUR_NAME: &str = "family-key-ü";

struct Run {
    dir: tempfile::TempDir,
    rng: StdRng,
    ours: KeySpec,
    key_file: PathBuf,
}

impl Run {
    fn new(label: &str) -> Self {
        let seed = std::env::var("VAULT_INTEROP_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| rand::thread_rng().r#gen::<u64>());
        eprintln!("{label}: VAULT_INTEROP_SEED={seed}");
        let mut rng = StdRng::seed_from_u64(seed);
        let dir = tempfile::tempdir().expect("tempdir");
        let ours = KeySpec {
            namespace: OUR_NAMESPACE.into(),
            name: OUR_NAME.into(),
            key_hex: hex::encode(rng.r#gen::<[u8; 32]>()),
        };
        let key_file = dir.path().join("ours.key");
        std::fs::write(&key_file, format!("{}\n", ours.key_hex)).expect("key file");
        Self { dir, rng, ours, key_file }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Frame lengths from tiny to 1 MiB, each with the sizes around its boundary,
    /// plus a several-MiB message for the larger frames.
    fn cases(&mut self, frames: &[u32]) -> Vec<Case> {
        let mut cases = Vec::new();
        for &frame in frames {
            let f = frame as usize;
            let mut sizes = vec![0, 1, f - 1, f, f + 1];
            if frame >= 4096 {
                sizes.push((3 << 20) + self.rng.gen_range(0..f));
            }
            sizes.dedup();
            for size in sizes {
                let i = cases.len();
                let input = self.path(&format!("case{i}.plain"));
                let mut data = vec![0u8; size];
                self.rng.fill(&mut data[..]);
                std::fs::write(&input, &data).expect("plaintext");
                cases.push(Case {
                    input,
                    output: self.path(&format!("case{i}.out")),
                    frame_length: frame,
                    context: self.context(i),
                    keys: self.keys(),
                });
            }
        }
        cases
    }

    /// A random context: 0 to 4 pairs, non-ASCII included.
    fn context(&mut self, i: usize) -> std::collections::BTreeMap<String, String> {
        const KEYS: [&str; 6] = ["vault:tenant", "vault:object", "titre", "家族", "emoji 👶", "a"];
        const VALUES: [&str; 6] = ["family-😀", "échographie", "録音", "", "plain", "x=y"];
        let n = self.rng.gen_range(0..=4);
        (0..n)
            .map(|j| {
                (
                    KEYS[(i + j * 5 + self.rng.gen_range(0..6)) % KEYS.len()].to_string(),
                    VALUES[self.rng.gen_range(0..VALUES.len())].to_string(),
                )
            })
            .collect()
    }

    /// 1 to 3 raw AES keys, of which exactly one is ours, at a random position.
    fn keys(&mut self) -> Vec<KeySpec> {
        let others = self.rng.gen_range(0..=2);
        let mut keys: Vec<KeySpec> = (0..others)
            .map(|j| KeySpec {
                namespace: if j == 0 { OUR_NAMESPACE.into() } else { "someone-else".into() },
                name: format!("other-{j}"),
                key_hex: hex::encode(self.rng.r#gen::<[u8; 32]>()),
            })
            .collect();
        let at = self.rng.gen_range(0..=keys.len());
        keys.insert(at, self.ours.clone());
        keys
    }

    fn manifest(&self, name: &str, cases: &[Case]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, serde_json::to_vec(cases).expect("json")).expect("manifest");
        path
    }

    fn vault(&self, args: &[&str], extra: &[String]) {
        let out = Command::new(vault_bin())
            .args(args)
            .args(["--key-file", self.key_file.to_str().expect("utf-8 path")])
            .args(["--key-namespace", OUR_NAMESPACE, "--key-name", OUR_NAME])
            .args(extra)
            .output()
            .expect("run vault");
        assert!(out.status.success(), "vault {args:?} {extra:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The SDK encrypts every case; `vault decrypt` must read each one, requiring
    /// one of the stored context pairs.
    fn sdk_to_vault(&mut self, sdk: Sdk) -> Vec<Case> {
        let mut cases = self.cases(sdk.encrypt_frame_lengths());
        for (i, c) in cases.iter_mut().enumerate() {
            c.output = self.path(&format!("case{i}.{}.esdk", sdk.name()));
        }
        sdk.run("encrypt", &self.manifest("encrypt.json", &cases));
        for c in &cases {
            let plain = c.output.with_extension("vault-plain");
            let mut extra = vec!["-i".into(), c.output.display().to_string(), "-o".into(), plain.display().to_string()];
            if let Some((k, v)) = c.context.iter().next() {
                extra.extend(["--context".into(), format!("{k}={v}")]);
            }
            self.vault(&["decrypt"], &extra);
            assert_eq!(read(&plain), read(&c.input), "frame {} size {}", c.frame_length, read(&c.input).len());
        }
        cases
    }

    /// `vault encrypt` writes every case; the SDK must decrypt each one with our key
    /// alone and find the context we bound.
    fn vault_to_sdk(&mut self, sdk: Sdk) {
        let mut cases = self.cases(&[1, 13, 512, 4096, 65_536, 1 << 20]);
        for (i, c) in cases.iter_mut().enumerate() {
            let message = self.path(&format!("case{i}.vault"));
            let mut extra = vec![
                "-i".into(),
                c.input.display().to_string(),
                "-o".into(),
                message.display().to_string(),
                "--frame-length".into(),
                c.frame_length.to_string(),
            ];
            for (k, v) in &c.context {
                extra.extend(["--context".into(), format!("{k}={v}")]);
            }
            self.vault(&["encrypt"], &extra);
            c.keys = vec![self.ours.clone()];
            c.output = self.path(&format!("case{i}.{}.plain", sdk.name()));
            std::mem::swap(&mut c.input, &mut c.output);
            // input: the vault message; output: where the SDK writes plaintext.
            std::fs::rename(&message, &c.input).expect("rename");
        }
        sdk.run("decrypt", &self.manifest("decrypt.json", &cases));
        for (i, c) in cases.iter().enumerate() {
            assert_eq!(read(&c.output), read(&self.path(&format!("case{i}.plain"))), "case {i}");
        }
    }
}

#[derive(Clone, Copy)]
enum Sdk {
    Python,
    Node,
}

impl Sdk {
    fn name(self) -> &'static str {
        match self {
            Sdk::Python => "python",
            Sdk::Node => "node",
        }
    }

    /// Frame lengths the SDK will encrypt with: Python insists on multiples of 128
    /// (it compares with the AES block size in bits); every SDK decrypts any length.
    fn encrypt_frame_lengths(self) -> &'static [u32] {
        match self {
            Sdk::Python => &[128, 384, 4096, 65_536, 1 << 20],
            Sdk::Node => &[1, 13, 512, 4096, 65_536, 1 << 20],
        }
    }

    fn run(self, mode: &str, manifest: &Path) {
        let interop = workspace().join("tests").join("interop");
        let mut cmd = match self {
            Sdk::Python => {
                let python = std::env::var("VAULT_PYTHON").unwrap_or_else(|_| "python3".into());
                let mut c = Command::new(python);
                c.arg(interop.join("esdk_py.py"));
                c
            }
            Sdk::Node => {
                assert!(
                    interop.join("node_modules/@aws-crypto/client-node").is_dir(),
                    "run `npm ci` in tests/interop (scripts/setup does)"
                );
                let mut c = Command::new("node");
                c.arg(interop.join("esdk_node.mjs"));
                c
            }
        };
        let out = cmd.arg(mode).arg(manifest).output().expect("start the SDK (scripts/setup installs it)");
        assert!(
            out.status.success(),
            "{} SDK {mode} failed:\n{}{}",
            self.name(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprint!("{}", String::from_utf8_lossy(&out.stdout));
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn python_sdk_messages_decrypt_with_vault() {
    Run::new("python→vault").sdk_to_vault(Sdk::Python);
}

#[test]
fn vault_messages_decrypt_with_python_sdk() {
    Run::new("vault→python").vault_to_sdk(Sdk::Python);
}

#[test]
fn node_sdk_messages_decrypt_with_vault() {
    let mut run = Run::new("node→vault");
    let cases = run.sdk_to_vault(Sdk::Node);
    // The JS SDK ends exact multiples with an empty final frame: seek in those too.
    let ours = RawAesKeyring::new(OUR_NAMESPACE, OUR_NAME, hex_key(&run.ours.key_hex)).expect("keyring");
    for c in &cases {
        let message = read(&c.output);
        let plain = read(&c.input);
        if plain.is_empty() {
            continue;
        }
        let header = match ParsedHeader::parse(&message, &DecryptPolicy::default()).expect("header") {
            HeaderParse::Complete(h) => h.verify_with(&[&ours]).expect("verify"),
            HeaderParse::NeedMore(_) => panic!("incomplete header"),
        };
        let layout = BodyLayout::new(&header, message.len() as u64).expect("layout");
        assert_eq!(layout.plaintext_len(), plain.len() as u64);
        let n = plain.len() as u64;
        for (s, e) in [(0, n), (n - 1, n), (n / 3, n / 3 + 1 + n / 3)] {
            let span = layout.locate(s..e).expect("span");
            let bytes = &message[span.ciphertext.start as usize..span.ciphertext.end as usize];
            let mut rd = RangeDecryptor::new(&header, &layout, span);
            let mut out = Vec::new();
            rd.update(bytes, &mut out).expect("range");
            rd.finish().expect("range end");
            assert_eq!(out, plain[s as usize..e as usize]);
        }
    }
}

#[test]
fn vault_messages_decrypt_with_node_sdk() {
    Run::new("vault→node").vault_to_sdk(Sdk::Node);
}

fn hex_key(s: &str) -> [u8; 32] {
    hex::decode(s).expect("hex").try_into().expect("32 bytes")
}

/// A share link's item (`vault_core::link`: the key derived from the link's secret, raw
/// AES keyring `vault-link`/<id>) opens with the official Python SDK given that key: a
/// family holding a link can read what it carries without Vault.
#[test]
fn share_link_items_decrypt_with_python_sdk() {
    let mut run = Run::new("link→python");
    let id = "AAECAwQFBgcICQoLDA0ODw";
    let secret: [u8; 32] = run.rng.r#gen();
    let key = vault_core::link::wrapping_key(id, &secret, Some(&run.rng.r#gen::<[u8; 32]>()));
    let item = br#"{"recording":"r1","data_key":"...","title":"First scan \u00e9"}"#;
    let message = vault_core::link::seal(&key, id, "smiths", item, &mut run.rng).expect("seal");
    let input = run.path("item.esdk");
    std::fs::write(&input, &message).expect("item");
    let case = Case {
        input,
        output: run.path("item.plain"),
        frame_length: 4096,
        context: [("vault:tenant", "smiths"), ("vault:object", vault_core::link::OBJECT)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        keys: vec![KeySpec {
            namespace: vault_core::link::NAMESPACE.into(),
            name: id.into(),
            key_hex: hex::encode(*key),
        }],
    };
    Sdk::Python.run("decrypt", &run.manifest("link.json", std::slice::from_ref(&case)));
    assert_eq!(read(&case.output), item);
}
