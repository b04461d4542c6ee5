//! vault-core for the browser, through wasm-bindgen.
//!
//! The page's workers (`web/crypto.js`) use two objects:
//!
//! - [`Sealer`] writes one message: the header, then frames. Either it seals frames
//!   itself (pure WASM, `aes-gcm` in software: the fallback), or it only hands out
//!   each frame's prefix, IV and AAD for WebCrypto to seal (hardware AES, ~14× faster
//!   in Chromium). It assigns sequence numbers itself, so JavaScript cannot reuse an IV.
//! - [`Opener`] checks a stored message's header against a data key (commitment,
//!   header tag, the required encryption context), locates the frames holding a
//!   plaintext range, and either decrypts them or describes each frame (IV, AAD,
//!   where its ciphertext and tag lie) for WebCrypto, under vault-core's ordering rules.
//!
//! In both modes vault-core computes the format (key derivation, commitment, IVs,
//! AADs, framing); only the AES-GCM of frame bodies moves to WebCrypto.
//!
//! Keys: data keys and frame keys live in `Zeroizing` buffers and are wiped when the
//! object is dropped; JavaScript must call `free()` when done (the workers do, in
//! `finally`). [`Sealer::frame_key`] and [`Opener::frame_key`] copy the frame key out
//! once for `crypto.subtle.importKey` (non-extractable); the caller zeroes that copy.

#![forbid(unsafe_code)]

mod grant;
mod opener;
mod sealer;

pub use opener::{FrameRef, Opener, Span};
pub use sealer::{FramePlan, Sealer};

use wasm_bindgen::JsError;

/// vault-core errors carry no key or plaintext bytes, so their text is safe to show.
fn js_error(e: vault_core::Error) -> JsError {
    JsError::new(&e.to_string())
}
