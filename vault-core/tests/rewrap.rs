#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! The recovery kit's primitive: the same message under another keyring.

mod common;

use common::*;
use rand_core::OsRng;
use vault_core::{DecryptPolicy, Error, HeaderParse, Keyring, ParsedHeader, RawAesKeyring};

fn parsed(msg: &[u8]) -> ParsedHeader {
    match ParsedHeader::parse(msg, &DecryptPolicy::default()).unwrap() {
        HeaderParse::Complete(h) => *h,
        HeaderParse::NeedMore(_) => panic!("incomplete header"),
    }
}

#[test]
fn a_rewrapped_header_opens_the_unchanged_body_with_the_new_key_only() {
    let plain = pattern(10_000);
    let msg = encrypt(&plain, 1000);
    let header = parsed(&msg);
    let header_len = header.len();
    let data_key =
        vault_core::keyring::unwrap_any(&[&keyring()], header.encrypted_data_keys(), &header.keyring_context())
            .unwrap();
    let recovery = RawAesKeyring::new("vault-recovery", "family/family-a", [7; 32]).unwrap();
    let new_header = parsed(&msg).rewrap(&data_key, &[&recovery as &dyn Keyring], &mut OsRng).unwrap();
    assert_ne!(new_header, msg[..header_len]);

    let mut recovered = new_header.clone();
    recovered.extend_from_slice(&msg[header_len..]);
    let (out, context) = vault_core::decrypt(&recovered, &[&recovery], DecryptPolicy::default()).unwrap();
    assert_eq!(out, plain);
    assert_eq!(context, family_ctx());
    // The old keyring cannot open the recovered message, nor the recovery key the original.
    assert!(vault_core::decrypt(&recovered, &[&keyring()], DecryptPolicy::default()).is_err());
    assert!(vault_core::decrypt(&msg, &[&recovery], DecryptPolicy::default()).is_err());
}

#[test]
fn rewrap_refuses_a_wrong_key_or_a_tampered_header() {
    let msg = encrypt(&pattern(100), 64);
    let recovery = RawAesKeyring::new("vault-recovery", "r", [7; 32]).unwrap();
    let wrong = vault_core::DataKey::from_bytes([9; 32]);
    assert!(matches!(
        parsed(&msg).rewrap(&wrong, &[&recovery as &dyn Keyring], &mut OsRng),
        Err(Error::CommitmentMismatch)
    ));
    // Version, suite, message id (35 bytes), context length (2), pair count (2), key
    // length (2): byte 41 is the first character of the first context key.
    let mut tampered = msg.clone();
    tampered[41] ^= 0x01;
    let data_key = vault_core::keyring::unwrap_any(
        &[&keyring()],
        parsed(&msg).encrypted_data_keys(),
        &parsed(&msg).keyring_context(),
    )
    .unwrap();
    assert!(parsed(&tampered).rewrap(&data_key, &[&recovery as &dyn Keyring], &mut OsRng).is_err());
    assert!(parsed(&msg).rewrap(&data_key, &[&recovery as &dyn Keyring], &mut OsRng).is_ok());
}
