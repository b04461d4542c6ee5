//! Vault messages made and read by the tests as a client would: with the key and the
//! part plan the server grants, through vault-core's readers and writers.

use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;
use vault_core::io::{DecryptReader, EncryptWriter};
use vault_core::{
    DataKey, DecryptPolicy, EncryptedDataKey, EncryptionContext, EncryptionMaterials, Encryptor, PartPlan,
};

/// Encrypts with the data key and context the server granted at creation.
pub fn encrypt_for(created: &Value, plaintext: &[u8]) -> Vec<u8> {
    let key = &created["key"];
    let context: EncryptionContext = key["encryption_context"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    encrypt_with(key, &context, created["upload"]["frame_length"].as_u64().unwrap() as u32, plaintext)
}

pub fn encrypt_with(key: &Value, context: &EncryptionContext, frame_length: u32, plaintext: &[u8]) -> Vec<u8> {
    let dk = DataKey::try_from_slice(&B64.decode(key["data_key"].as_str().unwrap()).unwrap()).unwrap();
    let edks: Vec<EncryptedDataKey> = key["encrypted_data_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| EncryptedDataKey {
            provider_id: e["provider_id"].as_str().unwrap().to_owned(),
            provider_info: B64.decode(e["provider_info"].as_str().unwrap()).unwrap(),
            ciphertext: B64.decode(e["ciphertext"].as_str().unwrap()).unwrap(),
        })
        .collect();
    let materials = EncryptionMaterials::new(context.clone(), dk, edks).unwrap();
    let mut writer =
        EncryptWriter::new(Vec::new(), Encryptor::new(&materials, frame_length, &mut rand_core::OsRng).unwrap());
    writer.write_all(plaintext).unwrap();
    writer.finish().unwrap()
}

/// The part plan the server granted at creation.
pub fn plan_of(created: &Value) -> PartPlan {
    let number = |name: &str| u32::try_from(created["upload"][name].as_u64().unwrap()).unwrap();
    PartPlan::new(number("frame_length"), number("part_frames")).unwrap()
}

/// Cuts a message into upload parts as the server's plan says: the header and the
/// first frames, then the same number of frames per part.
pub fn split_parts(created: &Value, message: &[u8]) -> Vec<Vec<u8>> {
    let plan = plan_of(created);
    let ranges = plan.part_ranges(header_len(message) as u64, message.len() as u64);
    ranges.map(|r| message[r.start as usize..r.end as usize].to_vec()).collect()
}

/// The length of a message's header.
pub fn header_len(message: &[u8]) -> usize {
    match vault_core::ParsedHeader::parse(message, &DecryptPolicy::default()).unwrap() {
        vault_core::HeaderParse::Complete(h) => h.len(),
        vault_core::HeaderParse::NeedMore(_) => panic!("incomplete header"),
    }
}

/// Decrypts a whole message with its data key, requiring its family and id in the context.
pub fn decrypt_all(message: &[u8], key: &DataKey, family: &str, id: &str) -> Vec<u8> {
    let policy = DecryptPolicy::requiring(EncryptionContext::for_vault_object(family, id));
    let mut reader = DecryptReader::new(message, policy, |d| d.unlock(key));
    let mut out = Vec::new();
    reader.read_to_end(&mut out).unwrap();
    out
}

/// Deterministic test media.
pub fn media(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_left(u32::from(seed) % 31) as u8 ^ seed).collect()
}
