//! JSON responses that carry a plaintext data key.
//!
//! `axum::Json` serialises into a buffer nobody wipes. [`SecretJson`] serialises into
//! a `Zeroizing` buffer that the response body owns and that is wiped when the body
//! is dropped. (What hyper and TLS copy on the way out is beyond this crate's reach.)

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use zeroize::Zeroizing;

use super::error::ApiError;

/// A JSON body holding a secret.
#[derive(Debug)]
pub(crate) struct SecretJson<T>(pub T);

impl<T: Serialize> IntoResponse for SecretJson<T> {
    fn into_response(self) -> Response {
        let mut buffer = Zeroizing::new(Vec::with_capacity(512));
        if let Err(e) = serde_json::to_writer(&mut *buffer, &self.0) {
            return ApiError::internal(format!("serialising a response: {e}")).into_response();
        }
        let mut response = Body::from(Bytes::from_owner(Owned(buffer))).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

/// Lets `Bytes` own (and so drop, and so wipe) the buffer.
struct Owned(Zeroizing<Vec<u8>>);

impl AsRef<[u8]> for Owned {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}
