//! The trash: deleting a recording from the page moves it here, hidden from the
//! library and refused like an erased one (no key release, no bytes), yet
//! restorable for `trash_days`; then the trash job erases it as an immediate
//! deletion would, with a signed receipt. Nobody's mistake is final at once, and
//! "delete forever" (`super::recordings::erase`) stays for those who mean it.

use serde_json::json;

use super::audit::{Action, Outcome};
use super::{DomainError, DomainResult, Member, Services};
use crate::db::{Recording, RecordingStatus, now_ms};

/// Moves a committed recording to the trash (its creator, or an owner or admin).
pub(crate) async fn trash(s: &Services, m: &Member, id: &str) -> DomainResult<Recording> {
    const ACTION: Action = Action::RecordingTrashed;
    let r = super::recordings::find(s, m, id, ACTION).await?;
    if r.status != RecordingStatus::Committed {
        return Err(DomainError::conflict("the recording is still uploading: discard the upload instead"));
    }
    m.require_creator_or_manager(s, ACTION, &r).await?;
    let at = now_ms();
    let until = at.saturating_add(s.config.trash_period_ms());
    if !s.db.trash_recording(&m.family.id, id, &m.user, at, until).await? {
        return Err(DomainError::conflict("the recording changed meanwhile; try again"));
    }
    m.audit(s, ACTION, id, Outcome::Success, json!({ "erase_after": until })).await?;
    in_trash(s, m, id, ACTION).await
}

/// Brings a recording back from the trash (whoever may trash it).
pub(crate) async fn restore(s: &Services, m: &Member, id: &str) -> DomainResult<Recording> {
    const ACTION: Action = Action::RecordingRestored;
    let r = in_trash(s, m, id, ACTION).await?;
    m.require_creator_or_manager(s, ACTION, &r).await?;
    if !s.db.restore_recording(&m.family.id, id).await? {
        return Err(m.not_found(s, ACTION, id).await);
    }
    let trashed_at = r.trash.as_ref().map(|t| t.at);
    m.audit(s, ACTION, id, Outcome::Success, json!({ "trashed_at": trashed_at })).await?;
    super::recordings::find(s, m, id, ACTION).await
}

/// The family's trash, the soonest erased first.
pub(crate) async fn list(s: &Services, m: &Member) -> DomainResult<Vec<Recording>> {
    Ok(s.db.trashed_recordings(&m.family.id).await?)
}

/// A recording of the member's family that is in the trash, or the miss recorded.
pub(crate) async fn in_trash(s: &Services, m: &Member, id: &str, action: Action) -> DomainResult<Recording> {
    match s.db.recording(&m.family.id, id).await? {
        Some(r) if r.status == RecordingStatus::Committed && r.trash.is_some() => Ok(r),
        _ => Err(m.not_found(s, action, id).await),
    }
}

/// The trash job: erases every recording whose time in the trash ended by `now`
/// (a restore that wins the race keeps its recording); returns how many.
pub(crate) async fn empty(s: &Services, now: i64) -> anyhow::Result<usize> {
    let mut erased = 0;
    loop {
        let due = s.db.trash_due(now, 100).await?;
        let round = due.len();
        for r in &due {
            if super::erasure::erase_from_trash(s, r, now).await?.is_some() {
                erased += 1;
            }
        }
        if round < 100 {
            return Ok(erased);
        }
    }
}
