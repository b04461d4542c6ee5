//! The trash: move a recording there, bring it back, see what is there and when it
//! will be erased.

use crate::api::Problem;
use crate::api::recordings::RecordingView;
use crate::domain::trash;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path};
use crate::http::middleware::caller::MemberCall;
use crate::http::views;

/// Moves a recording to the trash: hidden and refused, restorable until `trash.erase_after`.
#[utoipa::path(post, path = "/v1/recordings/{id}/trash", tag = "trash", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = RecordingView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn trash(call: MemberCall, Path(id): Path<String>) -> ApiResult<Json<RecordingView>> {
    Ok(Json(views::recording(&trash::trash(&call.services, &call.member, &id).await?)))
}

/// Brings a recording back from the trash.
#[utoipa::path(post, path = "/v1/recordings/{id}/restore", tag = "trash", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = RecordingView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn restore(call: MemberCall, Path(id): Path<String>) -> ApiResult<Json<RecordingView>> {
    Ok(Json(views::recording(&trash::restore(&call.services, &call.member, &id).await?)))
}

/// The family's trash, the soonest erased first.
#[utoipa::path(get, path = "/v1/trash", tag = "trash", security(("bearer" = [])),
    responses((status = 200, body = Vec<RecordingView>), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn list(call: MemberCall) -> ApiResult<Json<Vec<RecordingView>>> {
    Ok(Json(trash::list(&call.services, &call.member).await?.iter().map(views::recording).collect()))
}
