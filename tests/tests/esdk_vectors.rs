//! The official AWS Encryption SDK decrypt vectors (`../shared/esdk-vectors`), run
//! through every entry point: one-shot, streaming at random splits, random access.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use serde::Deserialize;
use vault_core::{
    BodyLayout, DecryptPolicy, Decryptor, EncryptionContext, Error, HeaderParse, Keyring, ParsedHeader, RangeDecryptor,
    RawAesKeyring, Section, Unsupported,
};
use vault_tests::{pieces, shared_dir};

#[derive(Deserialize)]
struct Manifest {
    tests: BTreeMap<String, TestCase>,
}

#[derive(Deserialize)]
struct TestCase {
    ciphertext: String,
    #[serde(rename = "master-keys")]
    master_keys: Vec<MasterKey>,
    cmm: String,
    #[serde(rename = "encryption-context", default)]
    encryption_context: BTreeMap<String, String>,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct MasterKey {
    key: String,
    #[serde(rename = "provider-id")]
    provider_id: String,
    #[serde(rename = "encryption-algorithm")]
    algorithm: String,
}

#[derive(Deserialize)]
struct Keys {
    keys: BTreeMap<String, KeySpec>,
}

#[derive(Deserialize)]
struct KeySpec {
    material: String,
    #[serde(rename = "type")]
    kind: String,
}

struct Set {
    dir: std::path::PathBuf,
    manifest: Manifest,
    keys: Keys,
}

fn load(name: &str) -> Set {
    let dir = shared_dir().join("esdk-vectors").join(name);
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{}/{f}: {e}", dir.display()));
    Set {
        manifest: serde_json::from_slice(&read("manifest.json")).expect("manifest"),
        keys: serde_json::from_slice(&read("keys.json")).expect("keys"),
        dir,
    }
}

fn file_url(dir: &Path, url: &str) -> Vec<u8> {
    let rel = url.strip_prefix("file://").expect("file:// url");
    std::fs::read(dir.join(rel)).expect("vector file")
}

impl Set {
    /// The keyrings a test names that Vault implements (raw AES only).
    fn keyrings(&self, case: &TestCase) -> Vec<RawAesKeyring> {
        case.master_keys
            .iter()
            .filter(|mk| mk.algorithm == "aes")
            .map(|mk| {
                let spec = &self.keys.keys[&mk.key];
                assert_eq!(spec.kind, "symmetric");
                let bytes = base64::engine::general_purpose::STANDARD.decode(&spec.material).unwrap();
                RawAesKeyring::new(&mk.provider_id, &mk.key, bytes.try_into().expect("AES-256 key")).unwrap()
            })
            .collect()
    }

    fn policy(case: &TestCase) -> DecryptPolicy {
        let context: EncryptionContext = case.encryption_context.clone().into_iter().collect();
        match case.cmm.as_str() {
            // The reproduced context: compared where stored, authenticated where not.
            "RequiredEncryptionContext" => DecryptPolicy { authenticate_only: context, ..DecryptPolicy::default() },
            _ => DecryptPolicy::requiring(context),
        }
    }
}

/// Decrypts through the streaming API at the given split.
fn stream(message: &[u8], seed: u64, keyrings: &[&dyn Keyring], policy: DecryptPolicy) -> Result<Vec<u8>, Error> {
    let mut dec = Decryptor::new(policy);
    let mut out = Vec::new();
    for piece in pieces(message, seed) {
        let mut piece = piece;
        while !piece.is_empty() {
            let used = dec.update(piece, &mut out)?;
            piece = &piece[used..];
            if dec.header().is_some() {
                dec.unlock_with(keyrings)?;
            }
        }
    }
    if dec.header().is_some() {
        dec.unlock_with(keyrings)?;
    }
    dec.finish()?;
    Ok(out)
}

/// Decrypts every frame-aligned and unaligned range through random access.
fn check_random_access(message: &[u8], expected: &[u8], keyrings: &[&dyn Keyring], policy: &DecryptPolicy) {
    let header = match ParsedHeader::parse(message, policy).unwrap() {
        HeaderParse::Complete(h) => h.verify_with(keyrings).unwrap(),
        HeaderParse::NeedMore(_) => panic!("incomplete header"),
    };
    let layout = BodyLayout::new(&header, message.len() as u64).unwrap();
    assert_eq!(layout.plaintext_len(), expected.len() as u64);
    let n = expected.len() as u64;
    for (s, e) in [(0, n), (0, 1), (n - 1, n), (511, 513), (1000, 5000), (n / 2, n)] {
        let span = layout.locate(s..e).unwrap();
        let bytes = &message[span.ciphertext.start as usize..span.ciphertext.end as usize];
        let mut rd = RangeDecryptor::new(&header, &layout, span);
        let mut out = Vec::new();
        for p in pieces(bytes, s ^ e) {
            rd.update(p, &mut out).unwrap();
        }
        rd.finish().unwrap();
        assert_eq!(out, expected[s as usize..e as usize], "range {s}..{e}");
    }
}

#[derive(Default, Debug)]
struct Tally {
    decrypted: usize,
    unsupported_suite: usize,
    no_keyring: usize,
}

fn run_valid_set(name: &str) -> Tally {
    let set = load(name);
    let mut tally = Tally::default();
    for (id, case) in &set.manifest.tests {
        let message = file_url(&set.dir, &case.ciphertext);
        let owned = set.keyrings(case);
        let keyrings: Vec<&dyn Keyring> = owned.iter().map(|k| k as &dyn Keyring).collect();
        let policy = Set::policy(case);
        let one_shot = vault_core::decrypt(&message, &keyrings, policy.clone());
        let suite = u16::from_be_bytes([message[1], message[2]]);
        match suite {
            0x0478 if !keyrings.is_empty() => {
                let expected = file_url(&set.dir, case.result["output"]["plaintext"].as_str().expect("plaintext"));
                let (pt, _) = one_shot.unwrap_or_else(|e| panic!("{id}: {e}"));
                assert_eq!(pt, expected, "{id}");
                for seed in [1, 7, 99] {
                    assert_eq!(stream(&message, seed, &keyrings, policy.clone()).unwrap(), expected, "{id}");
                }
                check_random_access(&message, &expected, &keyrings, &policy);
                tally.decrypted += 1;
            }
            0x0478 => {
                // RSA keyrings are not implemented: a clear error, not a panic.
                assert_eq!(one_shot.unwrap_err(), Error::NoUsableDataKey, "{id}");
                tally.no_keyring += 1;
            }
            0x0578 => {
                assert_eq!(one_shot.unwrap_err(), Error::Unsupported(Unsupported::AlgorithmSuite(0x0578)), "{id}");
                tally.unsupported_suite += 1;
            }
            other => panic!("{id}: unexpected suite {other:04x}"),
        }
    }
    tally
}

#[test]
fn v4_net_4_0_1_decrypts() {
    let t = run_valid_set("v4-Net-4.0.1");
    // 3 raw-AES 0x0478 vectors decrypt; 6 RSA are refused clearly; 9 are 0x0578.
    assert_eq!((t.decrypted, t.no_keyring, t.unsupported_suite), (3, 6, 9), "{t:?}");
}

#[test]
fn valid_net_4_0_0_decrypts() {
    let t = run_valid_set("valid-Net-4.0.0");
    assert_eq!((t.decrypted, t.unsupported_suite), (1, 1), "{t:?}");
}

#[test]
fn invalid_net_4_0_0_is_rejected() {
    let set = load("invalid-Net-4.0.0");
    let mut rejected_0478 = 0;
    for (id, case) in &set.manifest.tests {
        let message = file_url(&set.dir, &case.ciphertext);
        let owned = set.keyrings(case);
        let keyrings: Vec<&dyn Keyring> = owned.iter().map(|k| k as &dyn Keyring).collect();
        // The manifest, written by the SDK that produced them, still lists an output;
        // shared/esdk-vectors/README.md explains why the specification rejects them.
        let err = vault_core::decrypt(&message, &keyrings, Set::policy(case)).unwrap_err();
        if message[1..3] == [0x04, 0x78] {
            // The .NET 4.0.0 bug: header auth over an extra empty-context prefix.
            assert_eq!(err, Error::AuthenticationFailed(Section::Header), "{id}");
            rejected_0478 += 1;
            for seed in [3, 5] {
                assert!(stream(&message, seed, &keyrings, Set::policy(case)).is_err());
            }
        } else {
            assert_eq!(err, Error::Unsupported(Unsupported::AlgorithmSuite(0x0578)), "{id}");
        }
    }
    assert_eq!(rejected_0478, 2);
}
