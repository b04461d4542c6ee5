//! The encryption context: UTF-8 key-value pairs bound to a message.
//!
//! Specification: `data-format/message-header.md` ("AAD", "Key Value Pairs") and
//! `framework/structures.md` ("Encryption Context"). Serialised as
//!
//! ```text
//! count u16 | (key_len u16 | key | value_len u16 | value) * count     sorted by key bytes
//! ```
//! and an empty context serialises to *no bytes at all* (the header then stores an
//! AAD length of 0 and no count). The same serialisation is the AAD of the raw AES
//! keyring's wrapping and is appended to the header-auth AAD for context that is
//! authenticated but not stored.
//!
//! Keys starting with `aws-crypto-` are reserved for the SDKs; callers may not set
//! them on encryption, and a message that carries `aws-crypto-public-key` claims a
//! signature that suite 0x0478 does not have, so it is refused on decryption.

use std::collections::BTreeMap;

use crate::error::{ContextProblem, Error, Limit};
use crate::wire::{ReadError, Reader, put_short_bytes};

/// Prefix of context keys reserved for the AWS Encryption SDK.
pub const RESERVED_PREFIX: &str = "aws-crypto-";
/// The reserved key under which signing suites store their public key.
pub(crate) const PUBLIC_KEY_KEY: &str = "aws-crypto-public-key";

/// The key naming the tenant (the family) in every Vault object's context.
pub const VAULT_TENANT: &str = "vault:tenant";
/// The key naming the object (the recording) in every Vault object's context.
pub const VAULT_OBJECT: &str = "vault:object";

/// An encryption context. Ordered by key bytes, which is the serialisation order
/// (`String`'s `Ord` compares UTF-8 bytes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Vault's context for one object: exactly `{vault:tenant, vault:object}`. Data
    /// keys are bound to it (raw AES wrapping, KMS), and decryption requires it, so
    /// one family's object cannot pass for another's, nor one recording for another.
    pub fn for_vault_object(tenant: &str, object: &str) -> Self {
        let mut context = Self::new();
        context.insert(VAULT_TENANT, tenant).insert(VAULT_OBJECT, object);
        context
    }

    /// Adds or replaces a pair.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.0.insert(key.into(), value.into());
        self
    }

    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Pairs in serialisation order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Refuses reserved keys: what a caller asks to encrypt under must not
    /// impersonate fields the SDKs set themselves.
    pub fn check_caller_keys(&self) -> Result<(), Error> {
        match self.0.keys().find(|k| k.starts_with(RESERVED_PREFIX)) {
            Some(key) => Err(Error::ContextMismatch { key: key.clone(), problem: ContextProblem::Reserved }),
            None => Ok(()),
        }
    }

    /// The canonical serialisation (empty for an empty context).
    pub fn serialize(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        if self.0.is_empty() {
            return Ok(out);
        }
        let count = u16::try_from(self.0.len()).map_err(|_| Error::LimitExceeded(Limit::ContextSize))?;
        out.extend_from_slice(&count.to_be_bytes());
        for (k, v) in &self.0 {
            put_short_bytes(&mut out, k.as_bytes())?;
            put_short_bytes(&mut out, v.as_bytes())?;
        }
        if out.len() > usize::from(u16::MAX) {
            return Err(Error::LimitExceeded(Limit::ContextSize));
        }
        Ok(out)
    }

    /// Parses the AAD section of a header (`bytes` is exactly the section, without
    /// its length). Pairs may come in any order; duplicates and non-UTF-8 are refused.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let mut ctx = BTreeMap::new();
        if bytes.is_empty() {
            return Ok(Self(ctx));
        }
        let mut r = Reader::new(bytes);
        let count = r.u16().map_err(section_error)?;
        if count == 0 {
            return Err(Error::Malformed("encryption context with a length but no pairs"));
        }
        for _ in 0..count {
            let key = utf8(r.short_bytes().map_err(section_error)?)?;
            let value = utf8(r.short_bytes().map_err(section_error)?)?;
            if ctx.contains_key(&key) {
                return Err(Error::ContextMismatch { key, problem: ContextProblem::Duplicate });
            }
            ctx.insert(key, value);
        }
        if r.position() != bytes.len() {
            return Err(Error::Malformed("encryption context length disagrees with its pairs"));
        }
        Ok(Self(ctx))
    }

    /// Union of two contexts with no key in common.
    pub(crate) fn union(&self, other: &Self) -> Self {
        let mut all = self.0.clone();
        all.extend(other.0.iter().map(|(k, v)| (k.clone(), v.clone())));
        Self(all)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for EncryptionContext {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

fn utf8(bytes: &[u8]) -> Result<String, Error> {
    String::from_utf8(bytes.to_vec()).map_err(|_| Error::Malformed("encryption context is not UTF-8"))
}

/// Inside a section whose length is already known, running short is malformation.
fn section_error(e: ReadError) -> Error {
    match e {
        ReadError::Incomplete(_) => Error::Malformed("encryption context shorter than its pairs"),
        ReadError::Invalid(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_serialises_to_nothing() {
        assert!(EncryptionContext::new().serialize().unwrap().is_empty());
        assert!(EncryptionContext::parse(&[]).unwrap().is_empty());
    }

    #[test]
    fn serialises_sorted_by_key_bytes() {
        let ctx: EncryptionContext = [("b", "2"), ("a", "1"), ("é", "3")].into_iter().collect();
        let bytes = ctx.serialize().unwrap();
        assert_eq!(&bytes[..2], &[0, 3]);
        assert_eq!(&bytes[2..7], &[0, 1, b'a', 0, 1]);
        assert_eq!(EncryptionContext::parse(&bytes).unwrap(), ctx);
    }

    #[test]
    fn refuses_duplicates_and_bad_lengths() {
        let dup = [0, 2, 0, 1, b'a', 0, 0, 0, 1, b'a', 0, 0];
        assert!(matches!(
            EncryptionContext::parse(&dup),
            Err(Error::ContextMismatch { problem: ContextProblem::Duplicate, .. })
        ));
        assert!(matches!(EncryptionContext::parse(&[0, 1, 0, 5, b'a']), Err(Error::Malformed(_))));
        assert!(matches!(EncryptionContext::parse(&[0, 0]), Err(Error::Malformed(_))));
        assert!(matches!(EncryptionContext::parse(&[0, 1, 0, 1, 0xff, 0, 0]), Err(Error::Malformed(_))));
        assert!(matches!(EncryptionContext::parse(&[0, 1, 0, 0, 0, 0, 9]), Err(Error::Malformed(_))));
    }

    #[test]
    fn reserved_keys_refused_for_callers() {
        let ctx: EncryptionContext = [("aws-crypto-public-key", "x")].into_iter().collect();
        assert!(matches!(
            ctx.check_caller_keys(),
            Err(Error::ContextMismatch { problem: ContextProblem::Reserved, .. })
        ));
    }

    #[test]
    fn oversized_context_refused() {
        let ctx: EncryptionContext = [("k", "v".repeat(65_530))].into_iter().collect();
        assert_eq!(ctx.serialize(), Err(Error::LimitExceeded(Limit::ContextSize)));
        // count 2 + key 2 + 1 + value 2 + 65 528: exactly the most the AAD length field holds.
        let ctx: EncryptionContext = [("k", "v".repeat(65_528))].into_iter().collect();
        assert_eq!(ctx.serialize().unwrap().len(), 65_535);
        let ctx: EncryptionContext = [("k", "v".repeat(65_529))].into_iter().collect();
        assert_eq!(ctx.serialize(), Err(Error::LimitExceeded(Limit::ContextSize)));
    }

    #[test]
    fn accessors() {
        let ctx = EncryptionContext::for_vault_object("family-a", "obj-1");
        assert_eq!(ctx.iter().collect::<Vec<_>>(), [(VAULT_OBJECT, "obj-1"), (VAULT_TENANT, "family-a")]);
        assert_eq!((ctx.len(), ctx.is_empty()), (2, false));
        assert_eq!((EncryptionContext::new().len(), EncryptionContext::new().is_empty()), (0, true));
    }
}
