//! Families: created by their first owner, named by the token's family claim.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::app::AppState;
use crate::audit::{Event, Outcome};
use crate::db::{Role, is_unique_violation};
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::middleware::caller::{Caller, Member};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateFamily {
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct FamilyView {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub role: Role,
}

/// `POST /v1/families`: creates the family the caller's token names, with the
/// caller as its first owner, and the family's customer key.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateFamily>,
) -> ApiResult<(StatusCode, Json<FamilyView>)> {
    let name = body.name.trim();
    if !crate::text::is_visible_text(name, 200) {
        return Err(ApiError::bad_request(
            "name must be 1 to 200 visible characters (no control or invisible characters)",
        ));
    }
    let Some(family_id) = caller.identity.family.clone() else {
        return Err(ApiError::bad_request("the token names no family to create"));
    };
    if !valid_id(&family_id) {
        return Err(ApiError::bad_request(
            "the token's family id must be 1 to 64 characters of [A-Za-z0-9_-], starting with a letter or digit",
        ));
    }
    // Whoever creates a family owns it. With an identity provider, only its
    // administrators may (a plain member of the organisation could otherwise take the
    // vault before them); the development issuer is one person's machine.
    let creators = &state.config.auth.creator_roles;
    let is_dev = caller.identity.issuer == crate::auth::DevIssuer::ISSUER;
    if !is_dev && !creators.is_empty() && !caller.identity.idp_role.as_ref().is_some_and(|r| creators.contains(r)) {
        return Err(ApiError::forbidden(
            "only an administrator of your organisation at the identity provider can create its vault; ask one to, \
             or to invite you",
        ));
    }
    if state.db.family(&family_id).await?.is_some() {
        return Err(ApiError::conflict("this family exists already"));
    }
    let key = state.keys.create_family_key(&family_id).await?;
    let family =
        match state.db.create_family(&family_id, name, &key.0, &caller.identity.issuer, &caller.identity.subject).await
        {
            Err(e) if is_unique_violation(&e) => return Err(ApiError::conflict("this family exists already")),
            other => other?,
        };
    let event = Event {
        tenant: family.id.clone(),
        actor: caller.identity.subject.clone(),
        action: "family.created",
        target: family.id.clone(),
        outcome: Outcome::Success,
        metadata: json!({ "name": family.name, "key_id": key.0 }),
    };
    state.audit.record(&event, &caller.meta).await?;
    Ok((
        StatusCode::CREATED,
        Json(FamilyView { id: family.id, name: family.name, created_at: family.created_at, role: Role::Owner }),
    ))
}

/// `GET /v1/family`: the caller's family and role.
pub async fn get(member: Member) -> Json<FamilyView> {
    Json(FamilyView {
        id: member.family.id.clone(),
        name: member.family.name.clone(),
        created_at: member.family.created_at,
        role: member.role,
    })
}

/// Family and user ids come from the identity provider; they must also be safe in
/// object keys and logs. They start with a letter or digit, so no family id can be
/// the system audit chain's tenant (`audit::SYSTEM_TENANT`).
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EraseFamily {
    /// The family id again, so a stray request cannot erase a family.
    pub confirm: String,
}

/// `DELETE /v1/family`: erases the whole family on its owner's request: every
/// recording's keys destroyed, the customer key destroyed, objects purged when
/// retention allows. Irreversible. Answers the signed erasure receipt.
pub async fn erase(
    State(state): State<AppState>,
    member: Member,
    Json(body): Json<EraseFamily>,
) -> ApiResult<Json<crate::signing::Envelope>> {
    let family = member.family.id.clone();
    if member.role != Role::Owner {
        member.audit(&state, "family.erase", &family, Outcome::Denied, json!({ "reason": "requires owner" })).await?;
        return Err(ApiError::forbidden("only an owner can erase the family"));
    }
    if body.confirm != family {
        return Err(ApiError::bad_request("confirm must repeat the family id"));
    }
    crate::erasure::erase_family(&state, &family, &member.user, &member.meta)
        .await
        .map(Json)
        .map_err(|e| ApiError::internal(format!("erasure: {e:#}")))
}
