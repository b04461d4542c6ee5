#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod aead;
pub mod context;
mod decrypt;
pub mod edk;
mod encrypt;
mod error;
pub mod frame;
mod frame_run;
pub mod header;
#[cfg(feature = "std")]
pub mod io;
mod kdf;
pub mod keyring;
mod keys;
pub mod link;
mod oneshot;
pub mod parts;
mod policy;
pub mod random_access;
pub mod suite;
mod wire;

pub use context::{EncryptionContext, VAULT_OBJECT, VAULT_TENANT};
pub use decrypt::Decryptor;
pub use edk::EncryptedDataKey;
pub use encrypt::Encryptor;
pub use error::{ContextProblem, Error, Limit, Result, Section, Unsupported};
pub use frame_run::{FrameRun, FrameRunEnd};
pub use header::{HeaderParse, ParsedHeader, VerifiedHeader};
pub use keyring::{EncryptionMaterials, Keyring, RawAesKeyring};
pub use keys::{DataKey, FrameKey};
pub use oneshot::{decrypt, encrypt};
pub use parts::{FinalPart, PartPlan};
pub use policy::{DecryptPolicy, MAX_ENCRYPTED_DATA_KEYS, MAX_FRAME_LENGTH};
pub use random_access::{BodyLayout, FrameSpan, RangeDecryptor};
