//! Browser bindings of `vault-core`. **Empty for now**: the wasm-bindgen API, the
//! WebCrypto frame path and the Web Worker arrive with the browser issue. Until then
//! this crate only proves that `vault-core` links into it.

#![forbid(unsafe_code)]

/// The format version the bindings will speak, re-exported so the crate links vault-core.
pub const MESSAGE_FORMAT_VERSION: u8 = vault_core::suite::MESSAGE_FORMAT_VERSION;
