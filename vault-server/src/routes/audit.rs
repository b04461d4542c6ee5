//! The family's audit log, for owners and admins.

use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::audit::AuditRow;
use crate::error::ApiResult;
use crate::extract::{Json, Query};
use crate::middleware::caller::Member;

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    /// Rows with a sequence number below this (the previous page's `next_before`).
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

#[derive(Serialize)]
pub struct AuditPage {
    pub items: Vec<AuditRow>,
    pub next_before: Option<i64>,
}

/// `GET /v1/family/audit`: newest first.
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    member.require_manager(&state, "audit.read", "").await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let items = state.audit.page(&member.family.id, q.before, limit).await?;
    let next_before = (items.len() as i64 == limit).then(|| items.last().map(|r| r.seq)).flatten();
    Ok(Json(AuditPage { items, next_before }))
}
