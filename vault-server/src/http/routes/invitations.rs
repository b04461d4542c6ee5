//! Invitation links: made, listed and revoked by owners and admins; accepted by the
//! relative who signed in with the link's family.

use axum::extract::State;
use axum::http::StatusCode;

use crate::api::Problem;
use crate::api::families::FamilyView;
use crate::api::invitations::{AcceptInvitation, CreateInvitation, InvitationCreated, InvitationView};
use crate::db::{Invitation, now_ms};
use crate::domain::invitations;
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path};
use crate::http::middleware::caller::{Caller, MemberCall};
use crate::http::secret_json::SecretJson;
use crate::http::views;

fn view(i: &Invitation) -> InvitationView {
    InvitationView {
        id: i.id.clone(),
        name: i.display_name.clone(),
        role: i.role,
        state: invitations::state(i, now_ms()),
        created_by: i.created_by.clone(),
        created_at: i.created_at,
        expires_at: i.expires_at,
        accepted_by: i.accepted_by.clone(),
        accepted_at: i.accepted_at,
    }
}

/// Makes an invitation link (owners and admins; only owners invite owners). The
/// secret is answered once; only its hash is kept.
#[utoipa::path(post, path = "/v1/family/invitations", tag = "members", request_body = CreateInvitation, security(("bearer" = [])),
    responses((status = 201, body = InvitationCreated), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn create(
    call: MemberCall,
    Json(body): Json<CreateInvitation>,
) -> ApiResult<(StatusCode, SecretJson<InvitationCreated>)> {
    let (invitation, secret) =
        invitations::create(&call.services, &call.member, &body.name, body.role, body.expires_in_days).await?;
    let family_id = call.member.family.id.clone();
    Ok((StatusCode::CREATED, SecretJson(InvitationCreated { invitation: view(&invitation), secret, family_id })))
}

/// The family's invitations, newest first (owners and admins).
#[utoipa::path(get, path = "/v1/family/invitations", tag = "members", security(("bearer" = [])),
    responses((status = 200, body = Vec<InvitationView>), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn list(call: MemberCall) -> ApiResult<Json<Vec<InvitationView>>> {
    Ok(Json(invitations::list(&call.services, &call.member).await?.iter().map(view).collect()))
}

/// Revokes an unused invitation (owners and admins).
#[utoipa::path(delete, path = "/v1/family/invitations/{id}", tag = "members", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn revoke(call: MemberCall, Path(id): Path<String>) -> ApiResult<StatusCode> {
    invitations::revoke(&call.services, &call.member, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accepts an invitation into the family the caller's token names; answers the
/// family and the caller's new role.
#[utoipa::path(post, path = "/v1/invitations/accept", tag = "members", request_body = AcceptInvitation, security(("bearer" = [])),
    responses((status = 200, body = FamilyView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<AcceptInvitation>,
) -> ApiResult<Json<FamilyView>> {
    let (family, member) = invitations::accept(&state.services, &caller.identity, &caller.meta, &body.secret).await?;
    Ok(Json(views::family(&family, member.role)))
}
