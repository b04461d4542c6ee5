//! A family's studios: its invitations to a studio to deliver into the family's own
//! vault, and the studios' deliveries into it, which owners and admins may end.

use axum::http::StatusCode;

use crate::api::Problem;
use crate::api::studios::{CreateStudioInvitation, FamilyDeliveryView, StudioInvitationCreated, StudioInvitationView};
use crate::db::{StudioInvitation, now_ms};
use crate::domain::{deliveries, studio_invitations};
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path};
use crate::http::middleware::caller::MemberCall;
use crate::http::secret_json::SecretJson;

fn view(i: &StudioInvitation) -> StudioInvitationView {
    StudioInvitationView {
        id: i.id.clone(),
        name: i.name.clone(),
        state: studio_invitations::state(i, now_ms()),
        created_by: i.created_by.clone(),
        created_at: i.created_at,
        expires_at: i.expires_at,
        used_at: i.used_at,
        delivery_id: i.delivery_id.clone(),
    }
}

/// Invites a studio to deliver into the family's vault (owners and admins). The
/// secret is answered once; only its hash is kept.
#[utoipa::path(post, path = "/v1/family/studio-invitations", tag = "studios", request_body = CreateStudioInvitation, security(("bearer" = [])),
    responses((status = 201, body = StudioInvitationCreated), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn create(
    call: MemberCall,
    Json(body): Json<CreateStudioInvitation>,
) -> ApiResult<(StatusCode, SecretJson<StudioInvitationCreated>)> {
    let (invitation, secret) =
        studio_invitations::create(&call.services, &call.member, &body.name, body.expires_in_days).await?;
    Ok((StatusCode::CREATED, SecretJson(StudioInvitationCreated { invitation: view(&invitation), secret })))
}

/// The family's invitations to studios, newest first (owners and admins).
#[utoipa::path(get, path = "/v1/family/studio-invitations", tag = "studios", security(("bearer" = [])),
    responses((status = 200, body = Vec<StudioInvitationView>), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn list(call: MemberCall) -> ApiResult<Json<Vec<StudioInvitationView>>> {
    Ok(Json(studio_invitations::list(&call.services, &call.member).await?.iter().map(view).collect()))
}

/// Revokes an unused invitation to a studio (owners and admins).
#[utoipa::path(delete, path = "/v1/family/studio-invitations/{id}", tag = "studios", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn revoke(call: MemberCall, Path(id): Path<String>) -> ApiResult<StatusCode> {
    studio_invitations::revoke(&call.services, &call.member, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The studios' deliveries into the family, newest first (owners and admins).
#[utoipa::path(get, path = "/v1/family/deliveries", tag = "studios", security(("bearer" = [])),
    responses((status = 200, body = Vec<FamilyDeliveryView>), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn deliveries(call: MemberCall) -> ApiResult<Json<Vec<FamilyDeliveryView>>> {
    let now = now_ms();
    let list = deliveries::in_family(&call.services, &call.member).await?;
    Ok(Json(
        list.into_iter()
            .map(|(d, studio_name, recordings)| FamilyDeliveryView {
                state: deliveries::state(&d, now),
                handed_off_at: deliveries::handed_off_at(&d, now),
                into_family_vault: d.studio_invitation_id.is_some(),
                id: d.id,
                studio_id: d.studio_id,
                studio_name,
                recordings,
                created_at: d.created_at,
                contribute_until: d.contribute_until,
            })
            .collect(),
    ))
}

/// Ends a studio's access to the family now, before its hand-off date (owners and
/// admins).
#[utoipa::path(post, path = "/v1/family/deliveries/{id}/end", tag = "studios", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn end(call: MemberCall, Path(id): Path<String>) -> ApiResult<StatusCode> {
    deliveries::end_by_family(&call.services, &call.member, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
