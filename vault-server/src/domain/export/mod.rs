//! Exports (GDPR/CCPA access and portability). The owner asks for one and gets the
//! recovery key (shown once) and a one-time link; the link streams the archive
//! ([`archive`]). The link is the credential so a browser can download it natively
//! (straight to disk, no script holding the archive): 256 random bits, single use,
//! valid for 15 minutes, answered by any instance.
//!
//! Between the two requests the database keeps the link (`export_links`): the token's
//! SHA-256, who asked, and the recovery key sealed under a key derived from the token:
//!
//! ```text
//! link key = HKDF-SHA256(salt = export id, ikm = token [32], info = "vault export link v1")
//! sealed   = message (suite 0x0478), one raw AES EDK: namespace "vault-export-link",
//!            key name = export id, context {vault:tenant: family, vault:object: "export-link"}
//! ```
//! so a copy of the table opens no export, and the key never rests in the clear.

pub(crate) mod archive;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rand_core::{OsRng, RngCore};
use serde_json::json;
use tokio::io::AsyncRead;
use vault_core::{DecryptPolicy, EncryptionContext, EncryptionMaterials, RawAesKeyring};
use zeroize::Zeroizing;

pub(crate) use archive::{ExportKey, RECOVERY_NAMESPACE, export_audited};

use super::audit::{Action, Event, Outcome, RequestMeta};
use super::{DomainError, DomainResult, Member, Services};
use crate::db::{ExportLinkRow, Role, now_ms};

/// How long an export link lives.
pub(crate) const LINK_TTL: Duration = Duration::from_secs(15 * 60);

const LINK_NAMESPACE: &str = "vault-export-link";
const LINK_OBJECT: &str = "export-link";
const LINK_INFO: &[u8] = b"vault export link v1";

/// The keyring only the link's token opens.
fn link_keyring(token: &[u8; 32], export_id: &str) -> anyhow::Result<RawAesKeyring> {
    let mut key = Zeroizing::new([0u8; 32]);
    hkdf::Hkdf::<sha2::Sha256>::new(Some(export_id.as_bytes()), token)
        .expand(LINK_INFO, key.as_mut())
        .map_err(|_| anyhow::anyhow!("HKDF output length"))?;
    Ok(RawAesKeyring::new(LINK_NAMESPACE, export_id, *key)?)
}

/// The recovery key, sealed for the database under the link's token.
fn seal(token: &[u8; 32], family: &str, key: &ExportKey) -> anyhow::Result<String> {
    let keyring = link_keyring(token, &key.export_id)?;
    let context = EncryptionContext::for_vault_object(family, LINK_OBJECT);
    let materials = EncryptionMaterials::generate(context, &[&keyring], &mut OsRng)?;
    Ok(B64.encode(vault_core::encrypt(&materials, 4096, key.bytes().as_ref(), &mut OsRng)?))
}

/// The recovery key back from the database, with the link's token.
fn open(token: &[u8; 32], row: &ExportLinkRow) -> anyhow::Result<ExportKey> {
    let keyring = link_keyring(token, &row.export_id)?;
    let policy = DecryptPolicy::requiring(EncryptionContext::for_vault_object(&row.family_id, LINK_OBJECT));
    let (plain, _) = vault_core::decrypt(&B64.decode(&row.sealed)?, &[&keyring], policy)?;
    let plain = Zeroizing::new(plain);
    let key: [u8; 32] =
        plain.as_slice().try_into().map_err(|_| anyhow::anyhow!("a sealed export key of another size"))?;
    Ok(ExportKey::restore(row.export_id.clone(), Zeroizing::new(key)))
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
    let mut token = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(token.as_mut());
    let now = now_ms();
    let row = ExportLinkRow {
        family_id: family.clone(),
        issuer: m.issuer.clone(),
        actor: m.user.clone(),
        export_id: key.export_id.clone(),
        sealed: seal(&token, family, &key)?,
        expires_at: now.saturating_add(i64::try_from(LINK_TTL.as_millis()).unwrap_or(i64::MAX)),
    };
    let token = hex::encode(token.as_ref());
    let digest = super::secret_digest(&token);
    if !s.db.insert_export_link(&digest, &row, now).await? {
        return Err(DomainError::conflict("an export of this family is already waiting for its download"));
    }
    let metadata = json!({ "export_id": key.export_id });
    if let Err(e) = m.audit(s, Action::FamilyExportStarted, family, Outcome::Success, metadata).await {
        // Unaudited, the link is not given out; nor may it block the next request.
        let _ = s.db.take_export_link(&digest, now).await;
        return Err(e);
    }
    Ok(Started { key, token })
}

/// An export taken from its link.
struct Pending {
    family: String,
    issuer: String,
    actor: String,
    key: ExportKey,
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
    let mut raw = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(token, raw.as_mut()).map_err(|_| DomainError::NotFound)?;
    let row = s.db.take_export_link(&super::secret_digest(token), now_ms()).await?.ok_or(DomainError::NotFound)?;
    let pending = Pending { key: open(&raw, &row)?, family: row.family_id, issuer: row.issuer, actor: row.actor };
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
