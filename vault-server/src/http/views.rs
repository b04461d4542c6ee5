//! Database models as the wire shows them (`crate::api`), in one place for every
//! route that answers with them.

use crate::api::families::{FamilyView, SharingView};
use crate::api::recordings::{RecordingView, ReplicaView, TrashView};
use crate::api::uploads::{PartView, UploadStatus};
use crate::db::{Family, PartRow, Recording, Role};
use crate::domain::media_type;
use crate::domain::uploads::Status;

pub(crate) fn family(f: &Family, role: Role) -> FamilyView {
    FamilyView {
        id: f.id.clone(),
        name: f.name.clone(),
        created_at: f.created_at,
        role,
        sharing: SharingView { members_may_share: f.sharing.members_may_share, max_link_days: f.sharing.max_link_days },
    }
}

pub(crate) fn recording(r: &Recording) -> RecordingView {
    RecordingView {
        id: r.id.clone(),
        title: r.title.clone(),
        kind: r.kind,
        // Rows from before the allowlist may name an active type.
        content_type: media_type::stored(&r.content_type).unwrap_or_else(|| media_type::OPAQUE.into()),
        plaintext_size: r.plaintext_size,
        status: r.status,
        encryption: r.encryption,
        created_by: r.created_by.clone(),
        created_at: r.created_at,
        committed_at: r.committed_at,
        ciphertext_size: r.ciphertext_size,
        sha256: r.sha256.map(hex::encode),
        frame_length: r.plan.frame_length(),
        retain_until: r.retain_until,
        replica: r.replica.as_ref().map(|c| ReplicaView {
            version: c.version.clone(),
            sha256: c.sha256.map(hex::encode),
            replicated_at: c.replicated_at,
        }),
        trash: r.trash.as_ref().map(|t| TrashView { trashed_at: t.at, trashed_by: t.by.clone(), erase_after: t.until }),
        details: r.details.as_ref().map(|d| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, d)),
        has_poster: r.poster_size.is_some(),
    }
}

pub(crate) fn part(p: &PartRow) -> PartView {
    PartView { part_number: p.part_number, size: p.size, sha256: hex::encode(p.sha256), is_final: p.is_final }
}

/// The first part the server does not hold (parts may arrive out of order).
fn first_missing(parts: &[PartRow]) -> u32 {
    parts
        .iter()
        .zip(1u32..)
        .find(|(p, n)| p.part_number != *n)
        .map_or_else(|| u32::try_from(parts.len() + 1).unwrap_or(u32::MAX), |(_, n)| n)
}

pub(crate) fn upload_status(s: &Status) -> UploadStatus {
    let r = &s.recording;
    let next_part = first_missing(&s.parts);
    UploadStatus {
        recording_id: r.id.clone(),
        next_part,
        ready: next_part > s.parts.last().map_or(0, |p| p.part_number) && s.parts.last().is_some_and(|p| p.is_final),
        parts: s.parts.iter().map(part).collect(),
        part_frames: r.plan.part_frames(),
        frame_length: r.plan.frame_length(),
        expires_at: s.upload.expires_at,
        header: s.upload.header.as_ref().map(hex::encode),
    }
}
