//! The family's audit log, for owners and admins.

use crate::api::Problem;
use crate::api::audit::{AuditPage, AuditQuery};
use crate::domain::audit;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Query};
use crate::http::middleware::caller::MemberCall;

/// Pages through the family's audit log, newest first (owners and admins).
#[utoipa::path(get, path = "/v1/family/audit", tag = "audit", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = AuditPage), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn list(call: MemberCall, Query(q): Query<AuditQuery>) -> ApiResult<Json<AuditPage>> {
    let (items, next_before) = audit::family_page(&call.services, &call.member, q.before, q.limit).await?;
    Ok(Json(AuditPage { items, next_before }))
}
