//! Families: created by their first owner, named by the token's family claim.

use axum::extract::State;
use axum::http::StatusCode;

use crate::api::Problem;
use crate::api::families::{CreateFamily, EraseFamily, FamilyView, Role, SetSharing};
use crate::db::Sharing;
use crate::domain::{Member, families};
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::Json;
use crate::http::middleware::caller::Caller;
use crate::http::middleware::caller::MemberCall;
use crate::http::views;
use crate::signing::Envelope;

/// Creates the family your token names; you become its owner.
#[utoipa::path(post, path = "/v1/families", tag = "families", request_body = CreateFamily, security(("bearer" = [])),
    responses((status = 201, body = FamilyView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateFamily>,
) -> ApiResult<(StatusCode, Json<FamilyView>)> {
    let family = families::create(&state.services, &caller.identity, &caller.meta, &body.name).await?;
    Ok((StatusCode::CREATED, Json(views::family(&family, Role::Owner))))
}

/// Your family and your role in it.
#[utoipa::path(get, path = "/v1/family", tag = "families", security(("bearer" = [])),
    responses((status = 200, body = FamilyView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn get(member: Member) -> Json<FamilyView> {
    Json(views::family(&member.family, member.role))
}

/// Erases the family (owner; body `{confirm}`): keys destroyed at once, objects purged
/// after retention. Answers the signed erasure receipt.
#[utoipa::path(delete, path = "/v1/family", tag = "families", request_body = EraseFamily, security(("bearer" = [])),
    responses((status = 200, body = Envelope), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn erase(call: MemberCall, Json(body): Json<EraseFamily>) -> ApiResult<Json<Envelope>> {
    Ok(Json(families::erase(&call.services, &call.member, &body.confirm).await?))
}

/// Sets who may make share links and for how long at most (owners).
#[utoipa::path(put, path = "/v1/family/sharing", tag = "families", request_body = SetSharing, security(("bearer" = [])),
    responses((status = 200, body = FamilyView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn set_sharing(call: MemberCall, Json(body): Json<SetSharing>) -> ApiResult<Json<FamilyView>> {
    let sharing = Sharing { members_may_share: body.members_may_share, max_link_days: body.max_link_days };
    let family = families::set_sharing(&call.services, &call.member, sharing).await?;
    Ok(Json(views::family(&family, call.member.role)))
}
