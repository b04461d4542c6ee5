//! Extractors for who is calling: [`RequestMeta`] (address, user agent, request id),
//! [`Caller`] (a verified token) and the domain's [`Member`] (a verified token whose
//! family lists the caller). Tenancy comes from here only: handlers never take a
//! family id from the client.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use serde_json::json;

use super::client_ip::client_ip;
use crate::auth::{AuthError, Identity, Verifier};
use crate::domain::audit::{Action, Event, Outcome, RequestMeta, SYSTEM_TENANT};
use crate::domain::studios::StaffMember;
use crate::domain::{Member, Services};
use crate::http::AppState;
use crate::http::error::ApiError;

impl FromRequestParts<AppState> for RequestMeta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let connected = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        let peer = connected.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        Ok(RequestMeta {
            ip: client_ip(peer, &parts.headers, &state.services.config.trusted_proxies).to_string(),
            user_agent: header(header::USER_AGENT),
            request_id: header(header::HeaderName::from_static("x-request-id")),
            peer: connected,
        })
    }
}

/// A caller whose token verified.
#[derive(Debug)]
pub(crate) struct Caller {
    pub identity: Identity,
    pub meta: RequestMeta,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let meta = RequestMeta::from_request_parts(parts, state).await?;
        let header = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let verified = match Verifier::bearer(header) {
            Ok(token) => state.verifier.verify(token).await,
            Err(e) => Err(e),
        };
        match verified {
            Ok(identity) => Ok(Caller { identity, meta }),
            Err(err) => Err(auth_failure(state, &meta, err).await),
        }
    }
}

/// Counts and records a failed authentication (within the address's budget), and
/// answers it.
async fn auth_failure(state: &AppState, meta: &RequestMeta, err: AuthError) -> ApiError {
    let s = &state.services;
    if matches!(err, AuthError::Unavailable) {
        return err.into();
    }
    s.metrics.auth_failures.inc();
    if !s.limits.allow_auth_failure(&meta.ip) {
        // Over budget: answer without writing more rows, so a flood cannot fill the log.
        return ApiError::too_many_requests();
    }
    let event = Event {
        tenant: SYSTEM_TENANT.into(),
        actor: String::new(),
        action: Action::AuthFailed,
        target: String::new(),
        outcome: Outcome::Denied,
        metadata: json!({ "reason": err.to_string() }),
    };
    if let Err(e) = s.audit.record(&event, meta).await {
        return ApiError::internal(format!("audit: {e}"));
    }
    err.into()
}

impl FromRequestParts<AppState> for Member {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        Ok(Member::resolve(&state.services, caller.identity, caller.meta, parts.uri.path()).await?)
    }
}

/// What a family route hands to the domain: the services and the verified member
/// making the request (one extractor, so each route states only what it parses).
pub(crate) struct MemberCall {
    pub services: Arc<Services>,
    pub member: Member,
}

impl FromRequestParts<AppState> for MemberCall {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let member = Member::from_request_parts(parts, state).await?;
        Ok(MemberCall { services: Arc::clone(&state.services), member })
    }
}

/// A studio route's caller: a verified staff member of the studio their token names.
pub(crate) struct StaffCall {
    pub services: Arc<Services>,
    pub staff: StaffMember,
}

impl FromRequestParts<AppState> for StaffCall {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let staff = StaffMember::resolve(&state.services, caller.identity, caller.meta, parts.uri.path()).await?;
        Ok(StaffCall { services: Arc::clone(&state.services), staff })
    }
}

/// The header by which a studio's staff work inside one of its deliveries.
pub(crate) const DELIVERY_HEADER: &str = "x-vault-delivery";

/// The caller of a route a studio may use as a delivery's contributor (creating,
/// uploading, describing and listing its own recordings): a family's member as
/// [`MemberCall`], or, with `x-vault-delivery`, a studio's staff member working in
/// that delivery. Every other family route takes `MemberCall`, which never admits a
/// contributor.
pub(crate) struct ContributorCall {
    pub services: Arc<Services>,
    pub member: Member,
}

impl FromRequestParts<AppState> for ContributorCall {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(delivery) = parts.headers.get(DELIVERY_HEADER) else {
            let member = Member::from_request_parts(parts, state).await?;
            return Ok(ContributorCall { services: Arc::clone(&state.services), member });
        };
        let delivery = delivery
            .to_str()
            .ok()
            .filter(|d| uuid::Uuid::parse_str(d).is_ok())
            .ok_or_else(|| ApiError::bad_request(format!("{DELIVERY_HEADER} must hold a delivery id")))?
            .to_owned();
        let caller = Caller::from_request_parts(parts, state).await?;
        let member = crate::domain::deliveries::contributor(
            &state.services,
            caller.identity,
            caller.meta,
            &delivery,
            parts.uri.path(),
        )
        .await?;
        Ok(ContributorCall { services: Arc::clone(&state.services), member })
    }
}
