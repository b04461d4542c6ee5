//! Extractors for who is calling: [`RequestMeta`] (address, user agent, request id),
//! [`Caller`] (a verified token) and [`Member`] (a verified token whose family lists
//! the caller). Tenancy comes from here only: handlers never take a family id from
//! the client.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use serde_json::json;

use super::client_ip::client_ip;
use crate::app::AppState;
use crate::audit::{Event, Outcome, RequestMeta, SYSTEM_TENANT};
use crate::auth::{AuthError, Identity, Verifier};
use crate::db::{Family, Role};
use crate::error::ApiError;

impl FromRequestParts<AppState> for RequestMeta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let connected = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        let peer = connected.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        Ok(RequestMeta {
            ip: client_ip(peer, &parts.headers, &state.config.trusted_proxies).to_string(),
            user_agent: header(header::USER_AGENT),
            request_id: header(header::HeaderName::from_static("x-request-id")),
            peer: connected,
        })
    }
}

/// A caller whose token verified.
#[derive(Debug)]
pub struct Caller {
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

async fn auth_failure(state: &AppState, meta: &RequestMeta, err: AuthError) -> ApiError {
    if matches!(err, AuthError::Unavailable) {
        return err.into();
    }
    state.metrics.auth_failures.inc();
    if !state.limits.allow_auth_failure(&meta.ip) {
        // Over budget: answer without writing more rows, so a flood cannot fill the log.
        return ApiError::too_many_requests();
    }
    let event = Event {
        tenant: SYSTEM_TENANT.into(),
        actor: String::new(),
        action: "auth.failed",
        target: String::new(),
        outcome: Outcome::Denied,
        metadata: json!({ "reason": err.to_string() }),
    };
    if let Err(e) = state.audit.record(&event, meta).await {
        return ApiError::internal(format!("audit: {e}"));
    }
    err.into()
}

/// A verified caller who is a member of the family their token names.
#[derive(Debug)]
pub struct Member {
    /// The issuer of the caller's token: with `user`, who the member is.
    pub issuer: String,
    /// The token's subject.
    pub user: String,
    /// The sign-in session (`Identity::session`).
    pub session: String,
    pub family: Family,
    pub role: Role,
    pub meta: RequestMeta,
}

impl FromRequestParts<AppState> for Member {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let user = caller.identity.subject.clone();
        let Some(family_id) = caller.identity.family.clone() else {
            return Err(ApiError::forbidden("the token names no family"));
        };
        if !crate::routes::families::valid_id(&family_id) {
            // Never a family (nor the system chain's tenant): no lookup at all.
            return Err(ApiError::forbidden("the token's family id is not a valid family id"));
        }
        let family = state.db.family(&family_id).await?;
        let membership = match &family {
            Some(f) => state.db.membership(&f.id, &caller.identity.issuer, &user).await?,
            None => None,
        };
        match (family, membership) {
            (Some(family), Some(_)) if family.erased_at.is_some() => {
                let event = Event {
                    tenant: family.id.clone(),
                    actor: user,
                    action: "authz.denied",
                    target: parts.uri.path().to_owned(),
                    outcome: Outcome::Denied,
                    metadata: json!({ "reason": "the family was erased" }),
                };
                record_refusal(state, &caller.identity, &event, &caller.meta).await?;
                Err(ApiError::new(
                    axum::http::StatusCode::GONE,
                    "family-erased",
                    "this family was erased on its owner's request: its recordings can no longer be decrypted",
                ))
            }
            (Some(family), Some(m)) => {
                let Identity { issuer, session, .. } = caller.identity;
                Ok(Member { issuer, user, session, family, role: m.role, meta: caller.meta })
            }
            (family, _) => {
                let tenant = family.map_or_else(|| SYSTEM_TENANT.to_owned(), |f| f.id);
                let event = Event {
                    tenant,
                    actor: user,
                    action: "authz.denied",
                    target: parts.uri.path().to_owned(),
                    outcome: Outcome::Denied,
                    metadata: json!({ "reason": "not a member of the family", "family": family_id }),
                };
                record_refusal(state, &caller.identity, &event, &caller.meta).await?;
                Err(ApiError::forbidden("you are not a member of this family"))
            }
        }
    }
}

/// Writes a refusal's audit row, unless this caller or address has written its
/// budget of refusal rows this minute (the request is refused all the same).
async fn record_refusal(state: &AppState, who: &Identity, event: &Event, meta: &RequestMeta) -> Result<(), ApiError> {
    if !state.limits.allow_denial_row(&format!("{} {}", who.issuer, who.subject), &meta.ip) {
        tracing::debug!(action = event.action, "refusal not recorded: over the refusal-row budget");
        return Ok(());
    }
    state.audit.record(event, meta).await.map_err(|e| ApiError::internal(format!("audit: {e}")))
}

impl Member {
    /// Writes an audit row for an action of this member (refusals within the
    /// member's refusal-row budget).
    pub async fn audit(
        &self,
        state: &AppState,
        action: &'static str,
        target: &str,
        outcome: Outcome,
        metadata: serde_json::Value,
    ) -> Result<(), ApiError> {
        let event = Event {
            tenant: self.family.id.clone(),
            actor: self.user.clone(),
            action,
            target: target.to_owned(),
            outcome,
            metadata,
        };
        if outcome == Outcome::Denied
            && !state.limits.allow_denial_row(&format!("{} {}", self.issuer, self.user), &self.meta.ip)
        {
            tracing::debug!(action, "refusal not recorded: over the refusal-row budget");
            return Ok(());
        }
        state.audit.record(&event, &self.meta).await.map_err(|e| ApiError::internal(format!("audit: {e}")))
    }

    /// Refuses an action the member's role does not allow, and records the attempt.
    pub async fn require_manager(&self, state: &AppState, action: &'static str, target: &str) -> Result<(), ApiError> {
        if self.role.can_manage() {
            return Ok(());
        }
        self.audit(state, action, target, Outcome::Denied, json!({ "reason": "requires owner or admin" })).await?;
        Err(ApiError::forbidden("this needs an owner or admin of the family"))
    }

    /// Records an attempt on an id that is not this family's, and answers 404.
    pub async fn not_found(&self, state: &AppState, action: &'static str, target: &str) -> ApiError {
        match self.audit(state, action, target, Outcome::Denied, json!({ "reason": "not found in this family" })).await
        {
            Ok(()) => ApiError::not_found(),
            Err(e) => e,
        }
    }
}
