//! API errors: RFC 9457 problem documents with a stable code (`type` is
//! `urn:vault:<code>`) and a fixed, useful message for 4xx; a generic body for 5xx,
//! whose cause is logged inside the request's span, never sent to the client.
//! Domain refusals map here to statuses, once, for every route.

use std::borrow::Cow;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::api::{ErrorCode, Problem};
use crate::auth::AuthError;
use crate::domain::DomainError;

/// An error answered to an API client.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    /// A message safe to show to the client.
    detail: Cow<'static, str>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: ErrorCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Self { status, code, detail: detail.into() }
    }

    pub(crate) fn bad_request(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, detail)
    }

    pub(crate) fn forbidden(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, detail)
    }

    /// Also what a caller gets for another family's ids: existence is not revealed.
    pub(crate) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such resource")
    }

    pub(crate) fn too_many_requests() -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited, "too many requests; try again later")
    }

    pub(crate) fn payload_too_large(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge, detail)
    }

    /// A server-side failure: the client sees a generic message; `cause` goes to the log.
    pub(crate) fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(cause = %cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, "internal server error")
    }

    pub(crate) fn unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::warn!(cause = %cause, "dependency unavailable");
        Self::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable, "service temporarily unavailable")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: format!("urn:vault:{}", self.code.as_str()),
            title: self.status.canonical_reason().unwrap_or("error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.into_owned(),
        };
        let mut response = (self.status, Json(body)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// The status of a refusal with `code`, where the code says more than its kind.
fn status_of(code: ErrorCode, otherwise: StatusCode) -> StatusCode {
    match code {
        ErrorCode::Timeout => StatusCode::REQUEST_TIMEOUT,
        ErrorCode::LengthRequired => StatusCode::LENGTH_REQUIRED,
        ErrorCode::ChecksumMismatch => StatusCode::UNPROCESSABLE_ENTITY,
        _ => otherwise,
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        match err {
            DomainError::NotFound => Self::not_found(),
            DomainError::Invalid { code, detail } => Self::new(status_of(code, StatusCode::BAD_REQUEST), code, detail),
            DomainError::Forbidden { code, detail } => Self::new(StatusCode::FORBIDDEN, code, detail),
            DomainError::Conflict { code, detail } => Self::new(StatusCode::CONFLICT, code, detail),
            DomainError::Gone { code, detail } => Self::new(StatusCode::GONE, code, detail),
            DomainError::TooLarge(detail) => Self::payload_too_large(detail),
            DomainError::RateLimited => Self::too_many_requests(),
            DomainError::InvalidCiphertext { detail, .. } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidCiphertext, detail)
            }
            DomainError::Unavailable(cause) => Self::unavailable(cause),
            DomainError::Internal(cause) => Self::internal(cause),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Unavailable => Self::unavailable(err),
            other => Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated, other.to_string()),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        DomainError::from(err).into()
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;
