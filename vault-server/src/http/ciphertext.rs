//! The HTTP answer to a ciphertext read (a member's, or a share link viewer's).

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ApiResult};
use crate::domain::playback::Read;

/// The HTTP answer to a read: 304, 416, or the bytes with their range headers.
pub(crate) fn respond(read: Read) -> ApiResult<Response> {
    let (etag, size, range, body) = match read {
        Read::NotModified { etag } => return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response()),
        Read::Unsatisfiable { size } => {
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, [(header::CONTENT_RANGE, format!("bytes */{size}"))])
                .into_response());
        }
        Read::Content { etag, size, range, body } => (etag, size, range, body),
    };
    let len = range.as_ref().map_or(size, |r| r.end - r.start);
    let mut response = Response::new(Body::from_stream(body));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ETAG, HeaderValue::from_str(&etag).map_err(ApiError::internal)?);
    if let Some(range) = range {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let value = format!("bytes {}-{}/{size}", range.start, range.end - 1);
        response
            .headers_mut()
            .insert(header::CONTENT_RANGE, HeaderValue::from_str(&value).map_err(ApiError::internal)?);
    }
    Ok(response)
}
