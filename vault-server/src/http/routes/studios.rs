//! Studios: their staff, log and policy, and their deliveries to families. The
//! uploads into a delivery go through the family routes with `x-vault-delivery`.

use axum::extract::State;
use axum::http::StatusCode;

use crate::api::Problem;
use crate::api::audit::{AuditPage, AuditQuery};
use crate::api::studios::{
    AddStaff, CreateDelivery, CreateStudio, DeliveryView, EraseStudio, InviteParents, ParentsInvited, StaffRole,
    StaffView, StudioPolicy, StudioView,
};
use crate::db::{Delivery, Staff, Studio, now_ms};
use crate::domain::{deliveries, studios};
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path, Query};
use crate::http::middleware::caller::{Caller, StaffCall};
use crate::http::secret_json::SecretJson;
use crate::signing::Envelope;

fn studio_view(st: &Studio, role: StaffRole) -> StudioView {
    StudioView {
        id: st.id.clone(),
        name: st.name.clone(),
        role,
        unclaimed_days: st.unclaimed_days,
        created_at: st.created_at,
    }
}

fn staff_view(s: Staff) -> StaffView {
    StaffView { issuer: s.issuer, user_id: s.user_id, role: s.role, added_at: s.added_at, added_by: s.added_by }
}

fn delivery_view(d: &Delivery, recordings: u64, studio: &Studio) -> DeliveryView {
    let erase_after = match (d.expired_at, d.accepted_at, d.erased_at) {
        (Some(expired), None, None) => Some(expired.saturating_add(i64::from(studio.unclaimed_days) * 86_400_000)),
        _ => None,
    };
    let now = now_ms();
    DeliveryView {
        id: d.id.clone(),
        customer: d.customer.clone(),
        family_id: d.family_id.clone(),
        state: deliveries::state(d, now),
        recordings,
        created_by: d.created_by.clone(),
        created_at: d.created_at,
        invited_until: d.invited_until,
        contribute_until: d.contribute_until,
        accepted_at: d.accepted_at,
        handed_off_at: deliveries::handed_off_at(d, now),
        expired_at: d.expired_at,
        erased_at: d.erased_at,
        erase_after,
        into_family_vault: d.studio_invitation_id.is_some(),
    }
}

/// Creates the studio your token's organisation names; you become its first admin.
#[utoipa::path(post, path = "/v1/studios", tag = "studios", request_body = CreateStudio, security(("bearer" = [])),
    responses((status = 201, body = StudioView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateStudio>,
) -> ApiResult<(StatusCode, Json<StudioView>)> {
    let studio = studios::create(&state.services, &caller.identity, &caller.meta, &body.name).await?;
    Ok((StatusCode::CREATED, Json(studio_view(&studio, StaffRole::Admin))))
}

/// Your studio and your role there.
#[utoipa::path(get, path = "/v1/studio", tag = "studios", security(("bearer" = [])),
    responses((status = 200, body = StudioView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn get(call: StaffCall) -> Json<StudioView> {
    Json(studio_view(&call.staff.studio, call.staff.role))
}

/// Deletes the studio's records (admins; body `{confirm}` = the studio's id): staff,
/// customers' names, its name. Refused (409) while a delivery is open.
#[utoipa::path(delete, path = "/v1/studio", tag = "studios", request_body = EraseStudio, security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn erase_studio(call: StaffCall, Json(body): Json<EraseStudio>) -> ApiResult<StatusCode> {
    studios::erase(&call.services, &call.staff, &body.confirm).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The studio's records as one JSON document (admins): the studio, staff, deliveries
/// and its whole audit log.
#[utoipa::path(get, path = "/v1/studio/export", tag = "studios", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn export(call: StaffCall) -> ApiResult<impl axum::response::IntoResponse> {
    let records = studios::export(&call.services, &call.staff).await?;
    let name = format!("attachment; filename=\"studio-{}.json\"", call.staff.studio.id);
    Ok(([(axum::http::header::CONTENT_DISPOSITION, name)], Json(records)))
}

/// Sets how long an unclaimed delivery is kept (admins).
#[utoipa::path(put, path = "/v1/studio/policy", tag = "studios", request_body = StudioPolicy, security(("bearer" = [])),
    responses((status = 200, body = StudioView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn set_policy(call: StaffCall, Json(body): Json<StudioPolicy>) -> ApiResult<Json<StudioView>> {
    let studio = studios::set_policy(&call.services, &call.staff, body.unclaimed_days).await?;
    Ok(Json(studio_view(&studio, call.staff.role)))
}

/// The studio's people.
#[utoipa::path(get, path = "/v1/studio/staff", tag = "studios", security(("bearer" = [])),
    responses((status = 200, body = Vec<StaffView>), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn staff(call: StaffCall) -> ApiResult<Json<Vec<StaffView>>> {
    Ok(Json(studios::staff(&call.services, &call.staff).await?.into_iter().map(staff_view).collect()))
}

/// Adds a user of your identity provider to the staff (admins).
#[utoipa::path(post, path = "/v1/studio/staff", tag = "studios", request_body = AddStaff, security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn add_staff(call: StaffCall, Json(body): Json<AddStaff>) -> ApiResult<StatusCode> {
    studios::add_staff(&call.services, &call.staff, &body.user_id, body.role).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes someone from the staff (admins; the last admin stays).
#[utoipa::path(delete, path = "/v1/studio/staff/{user}", tag = "studios", params(("user" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn remove_staff(call: StaffCall, Path(user): Path<String>) -> ApiResult<StatusCode> {
    studios::remove_staff(&call.services, &call.staff, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pages through the studio's audit log, newest first (admins).
#[utoipa::path(get, path = "/v1/studio/audit", tag = "studios", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = AuditPage), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn audit(call: StaffCall, Query(q): Query<AuditQuery>) -> ApiResult<Json<AuditPage>> {
    let (items, next_before) = studios::audit_page(&call.services, &call.staff, q.before, q.limit).await?;
    Ok(Json(AuditPage { items, next_before }))
}

/// Starts a delivery: a new family vault for the customer, with its own key; or, with
/// a family's invitation, a delivery into that family's own vault.
#[utoipa::path(post, path = "/v1/studio/deliveries", tag = "studios", request_body = CreateDelivery, security(("bearer" = [])),
    responses((status = 201, body = DeliveryView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn create_delivery(
    call: StaffCall,
    Json(body): Json<CreateDelivery>,
) -> ApiResult<(StatusCode, Json<DeliveryView>)> {
    let d = match &body.family_invitation {
        Some(secret) => {
            deliveries::create_in_family(&call.services, &call.staff, secret, &body.customer, body.contribute_until)
                .await?
        }
        None => {
            deliveries::create(
                &call.services,
                &call.staff,
                &body.customer,
                body.family_name.as_deref(),
                body.contribute_until,
            )
            .await?
        }
    };
    Ok((StatusCode::CREATED, Json(delivery_view(&d, 0, &call.staff.studio))))
}

/// The studio's deliveries, newest first, with their state.
#[utoipa::path(get, path = "/v1/studio/deliveries", tag = "studios", security(("bearer" = [])),
    responses((status = 200, body = Vec<DeliveryView>), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn deliveries(call: StaffCall) -> ApiResult<Json<Vec<DeliveryView>>> {
    let list = deliveries::list(&call.services, &call.staff).await?;
    Ok(Json(list.iter().map(|(d, n)| delivery_view(d, *n, &call.staff.studio)).collect()))
}

/// Sends the parents' invitation, or a new one (the last is withdrawn). The link's
/// secret is answered once; the link is `/#invite=<secret>&family=<family_id>`.
#[utoipa::path(post, path = "/v1/studio/deliveries/{id}/invitation", tag = "studios", params(("id" = String, Path)),
    request_body = InviteParents, security(("bearer" = [])),
    responses((status = 201, body = ParentsInvited), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn invite(
    call: StaffCall,
    Path(id): Path<String>,
    Json(body): Json<InviteParents>,
) -> ApiResult<(StatusCode, SecretJson<ParentsInvited>)> {
    let (d, secret) = deliveries::invite(&call.services, &call.staff, &id, body.expires_in_days).await?;
    let recordings = call.services.db.deliveries(&call.staff.studio.id).await?;
    let count = recordings.iter().find(|(x, _)| x.id == d.id).map_or(0, |(_, n)| *n);
    let delivery = delivery_view(&d, count, &call.staff.studio);
    Ok((StatusCode::CREATED, SecretJson(ParentsInvited { delivery, secret })))
}

/// Erases a delivery not yet handed off (admins): the family's key is destroyed.
/// Answers the signed erasure receipt.
#[utoipa::path(delete, path = "/v1/studio/deliveries/{id}", tag = "studios", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Envelope), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn erase(call: StaffCall, Path(id): Path<String>) -> ApiResult<Json<Envelope>> {
    Ok(Json(deliveries::erase(&call.services, &call.staff, &id).await?))
}
