//! Playback: ciphertext reads (whole, or one range) and key release.
//!
//! The server serves ciphertext only; the client decrypts the frames it fetched with
//! the data key from key release (vault-core's random access). Key release is the
//! consequential act: every one is audited and rate-limited per user. Reads are
//! audited once per user, recording and sign-in session whatever their offset
//! (`super::reads`), so a seek-heavy session does not flood the log and no whole
//! read escapes it.

use std::ops::Range;

use serde_json::json;
use vault_core::DataKey;

use super::audit::{Action, Outcome};
use super::ranges::{Ranged, interpret};
use super::recordings::{data_key, find};
use super::{DomainError, DomainResult, Member, Services};
use crate::db::{Recording, RecordingStatus};
use crate::store::ByteStream;

/// What a read asks for: the request's conditional and range headers, as sent.
#[derive(Debug, Default, Clone)]
pub(crate) struct ReadRequest<'a> {
    pub range: Option<&'a str>,
    pub if_none_match: Option<&'a str>,
    pub if_range: Option<&'a str>,
    /// What the client says the read is for (`x-vault-purpose`): `play` or `download`.
    /// Only a label for the family's log (so that a play does not read as a download);
    /// the read is logged whatever it says.
    pub purpose: Option<&'a str>,
}

/// The purposes a read may name; anything else is not recorded.
const PURPOSES: [&str; 2] = ["play", "download"];

/// The answer to a read.
pub(crate) enum Read {
    /// The client's copy is current (`If-None-Match`).
    NotModified { etag: String },
    /// The range selects nothing of an object of `size` bytes.
    Unsatisfiable { size: u64 },
    /// The bytes: the whole object, or `range` of it.
    Content { etag: String, size: u64, range: Option<Range<u64>>, body: ByteStream },
}

impl std::fmt::Debug for Read {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotModified { .. } => f.write_str("NotModified"),
            Self::Unsatisfiable { size } => write!(f, "Unsatisfiable({size})"),
            Self::Content { range, .. } => write!(f, "Content({range:?})"),
        }
    }
}

/// Reads a committed recording's ciphertext.
pub(crate) async fn read(s: &Services, m: &Member, id: &str, request: &ReadRequest<'_>) -> DomainResult<Read> {
    let r = find(s, m, id, Action::RecordingDownloaded).await?;
    if r.status != RecordingStatus::Committed {
        return Err(DomainError::conflict("the recording is still uploading"));
    }
    let (etag, size, range) = match select(&r, request) {
        Ok(selected) => selected,
        Err(answer) => return Ok(answer),
    };
    // A whole read is always logged; ranged reads once per user, recording, session and
    // purpose (a download after a play in the same session is logged too).
    let purpose = request.purpose.filter(|p| PURPOSES.contains(p));
    let session = format!("{}:{}", m.session, purpose.unwrap_or("-"));
    let first = range.is_none() || s.reads.first(&m.family.id, &m.issuer, &m.user, id, &session);
    if first {
        let mut metadata = json!({ "range": range.as_ref().map(|r| [r.start, r.end]), "session": m.session });
        if let Some(purpose) = purpose {
            metadata["purpose"] = json!(purpose);
        }
        m.audit(s, Action::RecordingDownloaded, id, Outcome::Success, metadata).await?;
    }
    content(s, &r, etag, size, range).await
}

/// What a read of a committed recording asks for: its ETag, size and range, or the
/// answer that needs no bytes (not modified, unsatisfiable).
pub(crate) fn select(r: &Recording, request: &ReadRequest<'_>) -> Result<(String, u64, Option<Range<u64>>), Read> {
    let size = r.ciphertext_size.unwrap_or(0);
    let etag = format!("\"{}\"", r.sha256.map(hex::encode).unwrap_or_default());
    if request.if_none_match == Some(etag.as_str()) {
        return Err(Read::NotModified { etag });
    }
    // If-Range with another validator means: send the whole (new) object.
    let asked = request.range.filter(|_| request.if_range.is_none_or(|v| v == etag));
    let range = match interpret(asked, size) {
        Ranged::Whole => None,
        Ranged::Part(range) => Some(range),
        Ranged::Unsatisfiable => return Err(Read::Unsatisfiable { size }),
    };
    Ok((etag, size, range))
}

/// The selected bytes of a recording's object, as a stream.
pub(crate) async fn content(
    s: &Services,
    r: &Recording,
    etag: String,
    size: u64,
    range: Option<Range<u64>>,
) -> DomainResult<Read> {
    let body = s.store.get(&r.object_key, range.clone()).await?;
    s.metrics.download_bytes.inc_by(range.as_ref().map_or(size, |r| r.end - r.start));
    Ok(Read::Content { etag, size, range, body })
}

/// The data key of a recording, for playback (or, for the member who started it,
/// to resume an upload).
pub(crate) async fn release_key(s: &Services, m: &Member, id: &str) -> DomainResult<(Recording, DataKey)> {
    if !s.limits.allow_key_release(&format!("{}/{}", m.family.id, m.user)) {
        return Err(m.refuse(s, Action::KeyReleased, id, DomainError::RateLimited).await);
    }
    let r = find(s, m, id, Action::KeyReleased).await?;
    if r.status == RecordingStatus::Pending && r.created_by != m.user {
        return Err(DomainError::conflict("the recording is still uploading"));
    }
    let key = data_key(s, &r, &m.family.key_id).await?;
    s.metrics.key_releases.inc();
    m.audit(s, Action::KeyReleased, id, Outcome::Success, json!({ "status": r.status })).await?;
    Ok((r, key))
}
