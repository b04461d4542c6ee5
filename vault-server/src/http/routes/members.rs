//! Members of the caller's family: listed by anyone in it, managed by owners and admins.

use axum::http::StatusCode;

use crate::api::Problem;
use crate::api::members::{ChangeRole, Invite, MemberView, Rename};
use crate::domain::members;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path};
use crate::http::middleware::caller::MemberCall;

/// Lists the family's members.
#[utoipa::path(get, path = "/v1/family/members", tag = "members", security(("bearer" = [])),
    responses((status = 200, body = Vec<MemberView>), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn list(call: MemberCall) -> ApiResult<Json<Vec<MemberView>>> {
    let rows = members::list(&call.services, &call.member).await?;
    Ok(Json(rows.into_iter().map(MemberView::from).collect()))
}

/// Invites a member (owners and admins; only owners add owners).
#[utoipa::path(post, path = "/v1/family/members", tag = "members", request_body = Invite, security(("bearer" = [])),
    responses((status = 201, body = MemberView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn invite(call: MemberCall, Json(body): Json<Invite>) -> ApiResult<(StatusCode, Json<MemberView>)> {
    let added = members::invite(&call.services, &call.member, &body.user_id, body.role).await?;
    Ok((StatusCode::CREATED, Json(added.into())))
}

/// Changes a member's role (owners and admins; owner roles are an owner's business).
#[utoipa::path(patch, path = "/v1/family/members/{user_id}", tag = "members", request_body = ChangeRole,
    params(("user_id" = String, Path, description = "The member's user id")), security(("bearer" = [])),
    responses((status = 200, body = MemberView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn change_role(
    call: MemberCall,
    Path(user_id): Path<String>,
    Json(body): Json<ChangeRole>,
) -> ApiResult<Json<MemberView>> {
    Ok(Json(members::change_role(&call.services, &call.member, &user_id, body.role).await?.into()))
}

/// Removes a member (owners and admins, or yourself).
#[utoipa::path(delete, path = "/v1/family/members/{user_id}", tag = "members",
    params(("user_id" = String, Path, description = "The member's user id")), security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn remove(call: MemberCall, Path(user_id): Path<String>) -> ApiResult<StatusCode> {
    members::remove(&call.services, &call.member, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Names a member as the family calls them (owners and admins; anyone for themselves).
#[utoipa::path(put, path = "/v1/family/members/{user_id}/name", tag = "members", request_body = Rename,
    params(("user_id" = String, Path, description = "The member's user id")), security(("bearer" = [])),
    responses((status = 200, body = MemberView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn rename(
    call: MemberCall,
    Path(user_id): Path<String>,
    Json(body): Json<Rename>,
) -> ApiResult<Json<MemberView>> {
    Ok(Json(members::rename(&call.services, &call.member, &user_id, &body.name).await?.into()))
}
