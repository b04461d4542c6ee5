//! The one algorithm suite Vault writes and reads.
//!
//! Specification: `framework/algorithm-suites.md`, suite `0x0478`
//! (AES_256_GCM_HKDF_SHA512_COMMIT_KEY): AES-256-GCM with 12-byte IVs and 16-byte
//! tags, HKDF-SHA512 key derivation salted with the message id, a 32-byte key
//! commitment, and no signature. Committing and unsigned is the right pair for
//! Vault: commitment stops a message from decrypting to two plaintexts under two
//! keys, and every reader of a family's object is also trusted to write it.

/// The algorithm suite id, big-endian on the wire.
pub const SUITE_ID: u16 = 0x0478;
/// Message format version.
pub const MESSAGE_FORMAT_VERSION: u8 = 0x02;
/// Content type for framed content, the only one Vault reads or writes.
pub(crate) const CONTENT_TYPE_FRAMED: u8 = 0x02;

/// AES-256 key length, for data keys, derived keys and wrapping keys.
pub const KEY_LEN: usize = 32;
/// GCM IV length.
pub const IV_LEN: usize = 12;
/// GCM tag length.
pub const TAG_LEN: usize = 16;
/// Message id length (version 2).
pub const MESSAGE_ID_LEN: usize = 32;
/// Key commitment length (the suite data of 0x0478).
pub const COMMITMENT_LEN: usize = 32;
