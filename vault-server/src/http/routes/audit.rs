//! The family's audit log, for owners and admins.

use axum::extract::State;

use crate::api::Problem;
use crate::api::audit::{AuditPage, AuditQuery};
use crate::domain::{Member, audit};
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Query};

/// Pages through the family's audit log, newest first (owners and admins).
#[utoipa::path(get, path = "/v1/family/audit", tag = "audit", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = AuditPage), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let (items, next_before) = audit::family_page(&state.services, &member, q.before, q.limit).await?;
    Ok(Json(AuditPage { items, next_before }))
}
