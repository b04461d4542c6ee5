//! The boundary between the format and whoever holds wrapping keys.
//!
//! Specification: `framework/keyring-interface.md`, `framework/structures.md`
//! ("Encryption Materials", "Decryption Materials").
//!
//! The core never calls a network. A message needs *materials*: one plaintext
//! [`DataKey`] and one or more [`EncryptedDataKey`]s (one per keyring, later one per
//! region). Callers obtain them however their keys live:
//!
//! - a synchronous [`Keyring`] such as [`RawAesKeyring`], through
//!   [`EncryptionMaterials::generate`] and [`crate::Decryptor::unlock_with`];
//! - an asynchronous service such as AWS KMS (`GenerateDataKey`, `Decrypt`), by
//!   building [`EncryptionMaterials::new`] from its answer and handing the data key
//!   it unwraps to [`crate::Decryptor::unlock`]. The header parsed before that
//!   ([`crate::ParsedHeader`]) exposes the encrypted data keys and the context the
//!   service must be given.

mod raw_aes;

pub use raw_aes::RawAesKeyring;

use rand_core::CryptoRngCore;

use crate::context::EncryptionContext;
use crate::edk::EncryptedDataKey;
use crate::error::Error;
use crate::keys::DataKey;

/// A holder of a wrapping key that can wrap and unwrap data keys without I/O.
pub trait Keyring {
    /// Wraps `data_key` under this keyring's key, bound to `context`.
    fn wrap(
        &self,
        data_key: &DataKey,
        context: &EncryptionContext,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<EncryptedDataKey, Error>;

    /// Unwraps the first of `edks` that belongs to this keyring and authenticates
    /// under `context`; `Ok(None)` when none does.
    fn unwrap(&self, edks: &[EncryptedDataKey], context: &EncryptionContext) -> Result<Option<DataKey>, Error>;
}

/// Everything an encryptor needs: the data key, its wrapped copies, and the context
/// they are bound to.
#[derive(Debug)]
pub struct EncryptionMaterials {
    pub(crate) data_key: DataKey,
    pub(crate) edks: Vec<EncryptedDataKey>,
    pub(crate) context: EncryptionContext,
}

impl EncryptionMaterials {
    /// Materials from a data key and wrapped copies made elsewhere (e.g. by KMS).
    /// Refuses reserved context keys and an empty list of wrapped keys.
    pub fn new(context: EncryptionContext, data_key: DataKey, edks: Vec<EncryptedDataKey>) -> Result<Self, Error> {
        context.check_caller_keys()?;
        if edks.is_empty() {
            return Err(Error::Misuse("a message needs at least one encrypted data key"));
        }
        Ok(Self { data_key, edks, context })
    }

    /// A fresh data key wrapped by each keyring in turn.
    pub fn generate(
        context: EncryptionContext,
        keyrings: &[&dyn Keyring],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Self, Error> {
        let data_key = DataKey::generate(rng);
        let edks = keyrings.iter().map(|k| k.wrap(&data_key, &context, rng)).collect::<Result<Vec<_>, _>>()?;
        Self::new(context, data_key, edks)
    }

    /// The context the message will store.
    pub fn context(&self) -> &EncryptionContext {
        &self.context
    }

    /// The wrapped copies of the data key.
    pub fn encrypted_data_keys(&self) -> &[EncryptedDataKey] {
        &self.edks
    }

    /// The plaintext data key (for a server that hands it to a browser).
    pub fn data_key(&self) -> &DataKey {
        &self.data_key
    }
}

/// Asks each keyring in turn to unwrap one of `edks`; the first success wins.
pub fn unwrap_any(
    keyrings: &[&dyn Keyring],
    edks: &[EncryptedDataKey],
    context: &EncryptionContext,
) -> Result<DataKey, Error> {
    for keyring in keyrings {
        if let Some(key) = keyring.unwrap(edks, context)? {
            return Ok(key);
        }
    }
    Err(Error::NoUsableDataKey)
}
