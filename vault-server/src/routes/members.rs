//! Members of the caller's family: listed by anyone in it, managed by owners and admins.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::audit::Outcome;
use crate::db::{Member as MemberRow, MemberChange, Role, is_unique_violation};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::middleware::caller::Member;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invite {
    pub user_id: String,
    pub role: Role,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    pub role: Role,
}

/// `GET /v1/family/members`
pub async fn list(State(state): State<AppState>, member: Member) -> ApiResult<Json<Vec<MemberRow>>> {
    Ok(Json(state.db.members(&member.family.id).await?))
}

/// `POST /v1/family/members`: adds a user (their identity provider `sub`, of the
/// inviter's issuer) in a role. Only an owner may add an owner.
pub async fn invite(
    State(state): State<AppState>,
    member: Member,
    Json(body): Json<Invite>,
) -> ApiResult<(StatusCode, Json<MemberRow>)> {
    member.require_manager(&state, "member.invite", &body.user_id).await?;
    if !crate::text::is_visible_id(&body.user_id) {
        return Err(ApiError::bad_request(
            "user_id must be the identity provider's user id: 1 to 255 visible characters, no spaces",
        ));
    }
    if body.role == Role::Owner && member.role != Role::Owner {
        return Err(deny(&state, &member, "member.invite", &body.user_id, "only an owner may add an owner").await);
    }
    let added =
        match state.db.add_member(&member.family.id, &member.issuer, &body.user_id, body.role, &member.user).await {
            Err(e) if is_unique_violation(&e) => return Err(ApiError::conflict("already a member")),
            other => other?,
        };
    member.audit(&state, "member.invited", &body.user_id, Outcome::Success, json!({ "role": body.role })).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// `PATCH /v1/family/members/{user_id}`: changes a role. Owner roles (granting or
/// taking) are an owner's business; the last owner stays.
pub async fn change_role(
    State(state): State<AppState>,
    member: Member,
    Path(user_id): Path<String>,
    Json(body): Json<ChangeRole>,
) -> ApiResult<Json<MemberRow>> {
    member.require_manager(&state, "member.change_role", &user_id).await?;
    let Some(target) = state.db.membership(&member.family.id, &member.issuer, &user_id).await? else {
        return Err(member.not_found(&state, "member.change_role", &user_id).await);
    };
    if (target.role == Role::Owner || body.role == Role::Owner) && member.role != Role::Owner {
        return Err(deny(&state, &member, "member.change_role", &user_id, "only an owner may change owner roles").await);
    }
    let by_owner = member.role == Role::Owner;
    match state.db.set_role(&member.family.id, &member.issuer, &user_id, body.role, by_owner).await? {
        MemberChange::Done => {}
        MemberChange::LastOwner => return Err(ApiError::conflict("the family's last owner cannot be demoted")),
        MemberChange::OwnersOnly => {
            return Err(
                deny(&state, &member, "member.change_role", &user_id, "only an owner may change owner roles").await
            );
        }
        MemberChange::NoSuchMember => return Err(ApiError::not_found()),
    }
    member
        .audit(
            &state,
            "member.role_changed",
            &user_id,
            Outcome::Success,
            json!({ "from": target.role, "to": body.role }),
        )
        .await?;
    Ok(Json(MemberRow { role: body.role, ..target }))
}

/// `DELETE /v1/family/members/{user_id}`: removes a member (anyone may leave).
pub async fn remove(
    State(state): State<AppState>,
    member: Member,
    Path(user_id): Path<String>,
) -> ApiResult<StatusCode> {
    if user_id != member.user {
        member.require_manager(&state, "member.remove", &user_id).await?;
    }
    let Some(target) = state.db.membership(&member.family.id, &member.issuer, &user_id).await? else {
        return Err(member.not_found(&state, "member.remove", &user_id).await);
    };
    if target.role == Role::Owner && member.role != Role::Owner {
        return Err(deny(&state, &member, "member.remove", &user_id, "only an owner may remove an owner").await);
    }
    match state.db.remove_member(&member.family.id, &member.issuer, &user_id, member.role == Role::Owner).await? {
        MemberChange::Done => {}
        MemberChange::LastOwner => return Err(ApiError::conflict("the family's last owner cannot be removed")),
        MemberChange::OwnersOnly => {
            return Err(deny(&state, &member, "member.remove", &user_id, "only an owner may remove an owner").await);
        }
        MemberChange::NoSuchMember => return Err(ApiError::not_found()),
    }
    member.audit(&state, "member.removed", &user_id, Outcome::Success, json!({ "role": target.role })).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn deny(state: &AppState, member: &Member, action: &'static str, target: &str, why: &'static str) -> ApiError {
    match member.audit(state, action, target, Outcome::Denied, json!({ "reason": why })).await {
        Ok(()) => ApiError::forbidden(why),
        Err(e) => e,
    }
}
