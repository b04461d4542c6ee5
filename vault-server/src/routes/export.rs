//! Exports from the web page or API: the owner asks for one and gets the recovery
//! key (shown once) and a one-time link; the link streams the archive
//! (`crate::export`). The link is the credential so a browser can download it
//! natively (straight to disk, no script holding the archive): 256 random bits,
//! single use, valid for 15 minutes, on the instance that issued it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use rand_core::{OsRng, RngCore};
use serde::Serialize;
use serde_json::json;

use crate::app::AppState;
use crate::audit::{Outcome, RequestMeta};
use crate::db::Role;
use crate::error::{ApiError, ApiResult};
use crate::export::ExportKey;
use crate::extract::{Json, Path};
use crate::middleware::caller::Member;

const LINK_TTL: Duration = Duration::from_secs(15 * 60);

/// An export waiting for its download.
struct Pending {
    family: String,
    issuer: String,
    actor: String,
    key: ExportKey,
    issued: Instant,
}

/// Exports started and not yet downloaded, by link token.
#[derive(Default)]
pub struct PendingExports(Mutex<HashMap<String, Pending>>);

impl std::fmt::Debug for PendingExports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingExports").finish_non_exhaustive()
    }
}

impl PendingExports {
    /// The link token; None while the family has another export waiting (one at a
    /// time per family bounds the store reads and KMS calls an owner can cause).
    fn insert(&self, pending: Pending) -> Option<String> {
        let mut token = [0u8; 32];
        OsRng.fill_bytes(&mut token);
        let token = hex::encode(token);
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.retain(|_, p| p.issued.elapsed() < LINK_TTL);
        if map.values().any(|p| p.family == pending.family) {
            return None;
        }
        map.insert(token.clone(), pending);
        Some(token)
    }

    fn take(&self, token: &str) -> Option<Pending> {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.remove(token).filter(|p| p.issued.elapsed() < LINK_TTL)
    }
}

#[derive(Serialize)]
pub struct ExportStarted {
    pub export_id: String,
    /// 64 hex characters: shown once, never stored by Vault.
    pub recovery_key: String,
    pub key_namespace: &'static str,
    pub key_name: String,
    /// GET it within `expires_in_secs`, once.
    pub download: String,
    pub expires_in_secs: u64,
}

/// `POST /v1/family/export` (owner only).
pub async fn start(State(state): State<AppState>, member: Member) -> ApiResult<Json<ExportStarted>> {
    if member.role != Role::Owner {
        member
            .audit(&state, "family.export", &member.family.id, Outcome::Denied, json!({ "reason": "requires owner" }))
            .await?;
        return Err(ApiError::forbidden("only an owner can export the family's recordings"));
    }
    if member.family.erased_at.is_some() {
        return Err(ApiError::conflict("the family was erased"));
    }
    let key = ExportKey::generate();
    let started = ExportStarted {
        export_id: key.export_id.clone(),
        recovery_key: key.hex().to_string(),
        key_namespace: crate::export::RECOVERY_NAMESPACE,
        key_name: key.key_name(),
        download: String::new(),
        expires_in_secs: LINK_TTL.as_secs(),
    };
    let export_id = key.export_id.clone();
    let token = state
        .exports
        .insert(Pending {
            family: member.family.id.clone(),
            issuer: member.issuer.clone(),
            actor: member.user.clone(),
            key,
            issued: Instant::now(),
        })
        .ok_or_else(|| ApiError::conflict("an export of this family is already waiting for its download"))?;
    let metadata = json!({ "export_id": export_id });
    member.audit(&state, "family.export_started", &member.family.id, Outcome::Success, metadata).await?;
    Ok(Json(ExportStarted { download: format!("/v1/exports/{token}"), ..started }))
}

/// `GET /v1/exports/{token}`: streams the archive (memory: one chunk in flight). The
/// owner who asked must still be an owner; the download is audited with its own
/// address and user agent (a leaked link used elsewhere shows as such).
pub async fn download(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let pending = state.exports.take(&token).ok_or_else(ApiError::not_found)?;
    let still_owner = state
        .db
        .membership(&pending.family, &pending.issuer, &pending.actor)
        .await?
        .is_some_and(|m| m.role == Role::Owner);
    if !still_owner {
        let event = crate::audit::Event {
            tenant: pending.family.clone(),
            actor: pending.actor.clone(),
            action: "family.export",
            target: pending.family.clone(),
            outcome: Outcome::Denied,
            metadata: json!({ "reason": "no longer an owner", "export_id": pending.key.export_id }),
        };
        state.audit.record(&event, &meta).await?;
        return Err(ApiError::forbidden("the export was asked for by someone who is no longer an owner"));
    }
    let (writer, reader) = tokio::io::duplex(256 * 1024);
    let name = format!("vault-export-{}-{}.tar", pending.family, pending.key.export_id);
    tokio::spawn(async move {
        let mut writer = writer;
        let result =
            crate::export::export_audited(&state, &pending.family, &pending.actor, &meta, &pending.key, &mut writer)
                .await;
        // An error drops the writer mid-archive: the client sees a cut body, never a
        // complete-looking archive.
        if let Err(e) = result {
            tracing::warn!(family = %pending.family, error = %e, "export failed");
        }
    });
    let mut response = Body::from_stream(tokio_util::io::ReaderStream::new(reader)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-tar"));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).map_err(ApiError::internal)?,
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
