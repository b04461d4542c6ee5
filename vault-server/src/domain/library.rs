//! The family library: what the page shows of each recording besides its bytes, the
//! title, the "recorded on" date, a note and a poster, encrypted in the browser so
//! that the server keeps none of it in the clear.
//!
//! Each piece is a small ESDK message (suite 0x0478) under the family's **library
//! key**: one data key per family, made by the family's customer key (KMS, or the
//! embedded key file) on first use with the context `{vault:tenant: <family>,
//! vault:object: "library"}`, whose wrapped copies the families table keeps. One key
//! for the whole library, released once per page load, is what lets a page list 500
//! recordings without 500 key releases; each message still has its own derived key
//! (the format's per-message HKDF). The details name their recording inside the
//! encrypted JSON, so the page ignores details moved to another recording; posters
//! are bound only by the family's key (threat-model.md says so). The server checks
//! what it can without the key: the header parses, names the library context and
//! carries the library key's wrapped copies.

use serde_json::json;
use vault_core::{DecryptPolicy, EncryptionContext, EncryptionMaterials, HeaderParse, ParsedHeader};

use super::audit::{Action, Outcome};
use super::{DomainError, DomainResult, Member, Services};
use crate::keys::FamilyKeyId;

/// The `vault:object` of every library message.
pub(crate) const LIBRARY_OBJECT: &str = "library";
/// Largest encrypted details (a title, a date, a note, a fingerprint).
pub(crate) const MAX_DETAILS: usize = 16 << 10;
/// Largest encrypted poster (a downscaled frame or photo).
pub(crate) const MAX_POSTER: usize = 256 << 10;

fn context(family: &str) -> EncryptionContext {
    EncryptionContext::for_vault_object(family, LIBRARY_OBJECT)
}

/// The family's library key with its wrapped copies and context, made on first use.
/// Rate-limited and audited as a key release.
pub(crate) async fn key(s: &Services, m: &Member) -> DomainResult<EncryptionMaterials> {
    const ACTION: Action = Action::LibraryKeyReleased;
    if !s.limits.allow_key_release(&format!("{}/{}", m.family.id, m.user)) {
        return Err(m.refuse(s, ACTION, LIBRARY_OBJECT, DomainError::RateLimited).await);
    }
    let family_key = FamilyKeyId(m.family.key_id.clone());
    let context = context(&m.family.id);
    let edks = match s.db.library_edks(&m.family.id).await? {
        Some(edks) => edks,
        None => {
            let made = s.keys.generate_data_key(&family_key, &context).await?;
            if s.db.set_library_edks(&m.family.id, made.encrypted_data_keys()).await? {
                m.audit(s, ACTION, LIBRARY_OBJECT, Outcome::Success, json!({ "created": true })).await?;
                return Ok(made);
            }
            // Another request made the family's key first: that one is the key.
            s.db.library_edks(&m.family.id).await?.ok_or_else(|| DomainError::internal("library key vanished"))?
        }
    };
    let data_key = s.keys.decrypt_data_key(&family_key, &edks, &context).await?;
    let materials = EncryptionMaterials::new(context, data_key, edks).map_err(DomainError::internal)?;
    s.metrics.key_releases.inc();
    m.audit(s, ACTION, LIBRARY_OBJECT, Outcome::Success, json!({})).await?;
    Ok(materials)
}

/// What a library piece is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Piece {
    Details,
    Poster,
}

/// Stores a recording's encrypted details or poster (its creator, or an owner or admin).
pub(crate) async fn set(s: &Services, m: &Member, id: &str, piece: Piece, message: &[u8]) -> DomainResult<()> {
    let (action, max) = match piece {
        Piece::Details => (Action::RecordingDetailsSet, MAX_DETAILS),
        Piece::Poster => (Action::RecordingPosterSet, MAX_POSTER),
    };
    let r = super::recordings::find(s, m, id, action).await?;
    m.require_creator_or_manager(s, action, &r).await?;
    if message.len() > max {
        return Err(DomainError::TooLarge(format!("at most {max} bytes").into()));
    }
    check(s, m, message).await?;
    let stored = match piece {
        Piece::Details => s.db.set_details(&m.family.id, id, message).await?,
        Piece::Poster => s.db.set_poster(&m.family.id, id, message).await?,
    };
    if !stored {
        return Err(DomainError::conflict("the recording changed meanwhile; try again"));
    }
    m.audit(s, action, id, Outcome::Success, json!({ "bytes": message.len() })).await
}

/// A recording's encrypted poster.
pub(crate) async fn poster(s: &Services, m: &Member, id: &str) -> DomainResult<Vec<u8>> {
    super::recordings::find(s, m, id, Action::RecordingRead).await?;
    s.db.poster(&m.family.id, id).await?.ok_or(DomainError::NotFound)
}

/// A whole ESDK message under this family's library key, as far as the server can tell.
async fn check(s: &Services, m: &Member, message: &[u8]) -> DomainResult<()> {
    let invalid = || DomainError::invalid("not a message under this family's library key");
    let policy = DecryptPolicy::requiring(context(&m.family.id));
    let header = match ParsedHeader::parse(message, &policy) {
        Ok(HeaderParse::Complete(header)) => header,
        _ => return Err(invalid()),
    };
    let library = s.db.library_edks(&m.family.id).await?.ok_or_else(invalid)?;
    if header.encrypted_data_keys() != library.as_slice() || header.len() >= message.len() {
        return Err(invalid());
    }
    Ok(())
}
