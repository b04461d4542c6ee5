//! vault-core for the browser, through wasm-bindgen.
//!
//! The page's workers (`web/crypto.js`) use three objects:
//!
//! - [`PartPlan`] says how a message is cut into upload parts (vault-core's
//!   `PartPlan`, built from the two numbers the server announces), so the page's
//!   parts are the ones the server checks.
//! - [`Sealer`] writes one message: the header, then frames. Either it seals frames
//!   itself (pure WASM, `aes-gcm` in software: the fallback), or it only hands out
//!   each frame's prefix, IV and AAD for WebCrypto to seal (hardware AES, ~14× faster
//!   in Chromium). It assigns sequence numbers itself, so JavaScript cannot reuse an IV.
//! - [`Opener`] checks a stored message's header against a data key (commitment,
//!   header tag, the required encryption context), locates the frames holding a
//!   plaintext range, and either decrypts them or describes each frame (IV, AAD,
//!   where its ciphertext and tag lie) for WebCrypto, under vault-core's ordering rules.
//!
//! [`link`] seals and opens what a share link carries (raw AES keyring, Argon2id for
//! a passphrase).
//!
//! In both modes vault-core computes the format (key derivation, commitment, IVs,
//! AADs, framing); only the AES-GCM of frame bodies moves to WebCrypto.
//!
//! Errors reach JavaScript as `Error`s with a stable `code` ([`ErrorCode`], one per
//! `vault_core::Error` variant) and a `message` for people: see [`error`].
//!
//! Keys: data keys and frame keys live in `Zeroizing` buffers and are wiped when the
//! object is dropped; JavaScript must call `free()` when done (the workers do, in
//! `finally`). [`Sealer::frame_key`] and [`Opener::frame_key`] copy the frame key out
//! once for `crypto.subtle.importKey` (non-extractable); the caller zeroes that copy.

#![forbid(unsafe_code)]

pub mod error;
mod grant;
pub mod link;
mod opener;
mod parts;
mod sealer;

pub use error::{ErrorCode, VaultError};
pub use opener::{FrameRef, Opener, Span};
pub use parts::PartPlan;
pub use sealer::{FramePlan, Sealer};

use vault_core::Error;

/// A byte count or offset from JavaScript: a whole number below 2^53.
fn to_u64(value: f64) -> Result<u64, Error> {
    if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value < 9_007_199_254_740_992.0 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "checked just above")]
        Ok(value as u64)
    } else {
        Err(Error::Misuse("offsets are whole numbers of bytes below 2^53"))
    }
}

/// A byte count or offset for JavaScript (exact: recordings stay far below 2^53 bytes).
#[allow(clippy::cast_precision_loss, reason = "byte counts stay far below 2^53")]
fn to_f64(value: u64) -> f64 {
    value as f64
}
