//! Exports (GDPR/CCPA access and portability). The owner asks for one and gets the
//! recovery key (shown once) and a one-time link; the link streams the archive
//! ([`archive`]). The link is the credential so a browser can download it natively
//! (straight to disk, no script holding the archive): 256 random bits, single use,
//! valid for 15 minutes, on the instance that issued it.

pub(crate) mod archive;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand_core::{OsRng, RngCore};
use serde_json::json;
use tokio::io::AsyncRead;

pub(crate) use archive::{ExportKey, RECOVERY_NAMESPACE, export_audited};

use super::audit::{Action, Event, Outcome, RequestMeta};
use super::{DomainError, DomainResult, Member, Services};
use crate::db::Role;

/// How long an export link lives.
pub(crate) const LINK_TTL: Duration = Duration::from_secs(15 * 60);

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
pub(crate) struct PendingExports(Mutex<HashMap<String, Pending>>);

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

/// An export just started: what the owner is shown once.
#[derive(Debug)]
pub(crate) struct Started {
    pub key: ExportKey,
    /// The one-time link's token.
    pub token: String,
}

/// Starts an export of the member's family (owners only).
pub(crate) async fn start(s: &Services, m: &Member) -> DomainResult<Started> {
    let family = &m.family.id;
    m.require_owner(s, Action::FamilyExportStarted, family, "only an owner can export the family's recordings").await?;
    if m.family.erased_at.is_some() {
        return Err(DomainError::conflict("the family was erased"));
    }
    let key = ExportKey::generate();
    let pending = Pending {
        family: family.clone(),
        issuer: m.issuer.clone(),
        actor: m.user.clone(),
        key: key.duplicate(),
        issued: Instant::now(),
    };
    let token = s
        .exports
        .insert(pending)
        .ok_or_else(|| DomainError::conflict("an export of this family is already waiting for its download"))?;
    let metadata = json!({ "export_id": key.export_id });
    m.audit(s, Action::FamilyExportStarted, family, Outcome::Success, metadata).await?;
    Ok(Started { key, token })
}

/// An archive on its way: its file name and its bytes.
pub(crate) struct Download {
    pub file_name: String,
    pub body: Box<dyn AsyncRead + Send + Unpin>,
}

/// Streams the archive of the export `token` names (memory: one chunk in flight).
/// The owner who asked must still be an owner; the download is audited with its own
/// address and user agent (a leaked link used elsewhere shows as such).
pub(crate) async fn download(s: &std::sync::Arc<Services>, token: &str, meta: RequestMeta) -> DomainResult<Download> {
    let pending = s.exports.take(token).ok_or(DomainError::NotFound)?;
    let still_owner =
        s.db.membership(&pending.family, &pending.issuer, &pending.actor).await?.is_some_and(|m| m.role == Role::Owner);
    if !still_owner {
        let event = Event {
            tenant: pending.family.clone(),
            actor: pending.actor.clone(),
            action: Action::FamilyExported,
            target: pending.family.clone(),
            outcome: Outcome::Denied,
            metadata: json!({ "reason": "no longer an owner", "export_id": pending.key.export_id }),
        };
        s.audit.record(&event, &meta).await?;
        return Err(DomainError::forbidden("the export was asked for by someone who is no longer an owner"));
    }
    let (writer, reader) = tokio::io::duplex(256 * 1024);
    let file_name = format!("vault-export-{}-{}.tar", pending.family, pending.key.export_id);
    let services = s.clone();
    tokio::spawn(async move {
        let mut writer = writer;
        let result = export_audited(&services, &pending.family, &pending.actor, &meta, &pending.key, &mut writer).await;
        // An error drops the writer mid-archive: the client sees a cut body, never a
        // complete-looking archive.
        if let Err(e) = result {
            tracing::warn!(family = %pending.family, error = %e, "export failed");
        }
    });
    Ok(Download { file_name, body: Box::new(reader) })
}
