//! Recordings: create (with a fresh data key for the browser), list, get, erase.

use axum::http::StatusCode;

use crate::api::Problem;
use crate::api::recordings::{CreateRecording, Created, DataKeyGrant, ListQuery, Page, RecordingView, UploadPlan};
use crate::domain::recordings;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path, Query};
use crate::http::middleware::caller::ContributorCall;
use crate::http::secret_json::SecretJson;
use crate::http::views;
use crate::signing::Envelope;

/// Creates a recording; for client-side encryption, answers its data key.
#[utoipa::path(post, path = "/v1/recordings", tag = "recordings", request_body = CreateRecording, security(("bearer" = [])),
    responses((status = 201, body = Created), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn create(
    call: ContributorCall,
    Json(body): Json<CreateRecording>,
) -> ApiResult<(StatusCode, SecretJson<Created>)> {
    let created = recordings::create(&call.services, &call.member, &body).await?;
    let plan = created.recording.plan;
    let key = created.materials.as_ref().map(DataKeyGrant::from);
    Ok((
        StatusCode::CREATED,
        SecretJson(Created {
            recording: views::recording(&created.recording),
            upload: UploadPlan {
                frame_length: plan.frame_length(),
                part_frames: plan.part_frames(),
                expires_at: created.expires_at,
            },
            key,
        }),
    ))
}

/// Lists committed recordings, newest first.
#[utoipa::path(get, path = "/v1/recordings", tag = "recordings", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Page), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn list(call: ContributorCall, Query(q): Query<ListQuery>) -> ApiResult<Json<Page>> {
    let (rows, next_cursor) = recordings::list(&call.services, &call.member, q.limit, q.cursor.as_deref()).await?;
    Ok(Json(Page { items: rows.iter().map(views::recording).collect(), next_cursor }))
}

/// A recording's metadata.
#[utoipa::path(get, path = "/v1/recordings/{id}", tag = "recordings", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = RecordingView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn get(call: ContributorCall, Path(id): Path<String>) -> ApiResult<Json<RecordingView>> {
    Ok(Json(views::recording(&recordings::get(&call.services, &call.member, &id).await?)))
}

/// Erases a recording at once, in the trash or not (access and keys revoked at once);
/// answers the signed receipt. Moving to the trash is `POST …/trash`.
#[utoipa::path(delete, path = "/v1/recordings/{id}", tag = "recordings", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Envelope), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn delete(call: ContributorCall, Path(id): Path<String>) -> ApiResult<Json<Envelope>> {
    Ok(Json(recordings::erase(&call.services, &call.member, &id).await?))
}
