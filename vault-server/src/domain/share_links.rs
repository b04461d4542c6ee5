//! Share links: an owner or admin shows some recordings to someone without an
//! account. The page makes a 256-bit secret, puts it in the link's fragment (never
//! sent), and seals each recording's data key under a key derived from it; the server
//! keeps the link's id, its limits and those sealed keys. It cannot open a link on
//! its own (the family's KMS key still opens the recordings themselves).
//!
//! Opening a link (no sign-in) counts one view and answers a view token; every read
//! of that view carries it, and every read checks the link again: revocation, expiry,
//! an erased family or recording end a view at once. Openings are rate-limited per
//! address (found or not), audited in the family's log with the viewer's address and
//! browser, and a link's owner sees them.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use rand_core::{OsRng, RngCore};
use serde_json::json;
use zeroize::Zeroizing;

use super::audit::{Action, Event, Outcome, RequestMeta};
use super::playback::{Read, ReadRequest, content, select};
use super::{DomainError, DomainResult, Member, Services};
use crate::api::ErrorCode;
use crate::api::share_links::{CreateShareLink, PassphraseKdf, ShareLinkState};
use crate::db::{Recording, RecordingStatus, ShareLink, SharedItem, ViewCount, now_ms};

const DEFAULT_DAYS: u32 = 7;
const MAX_DAYS: u32 = 30;
const MAX_VIEWS: u32 = 10_000;
const MAX_RECORDINGS: usize = 50;
/// A sealed item holds a data key, a title and a small poster (≤ 64 KiB): base64 of
/// at most this many characters.
const MAX_SEALED: usize = 128 * 1024;
/// The largest request that makes a link: every item at its largest, and the rest.
pub(crate) const MAX_BODY: usize = MAX_RECORDINGS * (MAX_SEALED + 256) + 64 * 1024;
/// How long one opening's reads may go on (a long film, paused): at most this, and
/// never past the link's expiry.
const VIEW_MS: i64 = 12 * 3_600_000;
/// Argon2id bounds: at least OWASP's 19 MiB, at most what a phone can spare.
const KDF_MEMORY_KIB: std::ops::RangeInclusive<u32> = 19_456..=262_144;
const KDF_ITERATIONS: std::ops::RangeInclusive<u32> = 1..=10;

/// What a link shows a viewer: its recordings' sealed keys and how to read them.
#[derive(Debug)]
pub(crate) struct Opened {
    pub link: ShareLink,
    pub view: Zeroizing<String>,
    pub recordings: Vec<(SharedItem, Recording)>,
}

/// The id of a link: 16 bytes, base64url.
fn valid_id(id: &str) -> bool {
    id.len() == 22 && B64URL.decode(id).is_ok_and(|b| b.len() == 16)
}

/// Where a link is in its life at `now`.
pub(crate) fn state(l: &ShareLink, now: i64) -> ShareLinkState {
    if l.revoked_at.is_some() {
        ShareLinkState::Revoked
    } else if l.expires_at <= now {
        ShareLinkState::Expired
    } else if l.items == 0 {
        ShareLinkState::Empty
    } else if l.max_views.is_some_and(|max| l.views >= max) {
        ShareLinkState::UsedUp
    } else {
        ShareLinkState::Active
    }
}

fn passphrase_kdf(p: &PassphraseKdf) -> DomainResult<String> {
    let salt_ok = B64.decode(&p.salt).is_ok_and(|s| s.len() == 16);
    if p.algorithm != "argon2id"
        || !salt_ok
        || !KDF_MEMORY_KIB.contains(&p.memory_kib)
        || !KDF_ITERATIONS.contains(&p.iterations)
    {
        return Err(DomainError::invalid(
            "passphrase must be argon2id with a 16-byte salt, 19456 to 262144 KiB of memory and 1 to 10 iterations",
        ));
    }
    serde_json::to_string(p).map_err(DomainError::internal)
}

/// Makes a link to some of the family's stored recordings (owners and admins; members
/// too where the family allows it), for at most the family's longest link.
pub(crate) async fn create(s: &Services, m: &Member, request: &CreateShareLink) -> DomainResult<ShareLink> {
    const ACTION: Action = Action::LinkCreated;
    if !m.family.sharing.members_may_share {
        m.require_manager(s, ACTION, "").await?;
    }
    if !valid_id(&request.id) {
        return Err(DomainError::invalid("id must be 16 random bytes, base64url without padding"));
    }
    let name = request.name.trim();
    if !crate::text::is_visible_text(name, 100) {
        return Err(DomainError::invalid("name must be 1 to 100 visible characters, such as for Grandpa Joe"));
    }
    let most = m.family.sharing.max_link_days.min(MAX_DAYS);
    let days = request.expires_in_days.unwrap_or(DEFAULT_DAYS.min(most));
    if !(1..=most).contains(&days) {
        return Err(DomainError::invalid(format!("this family's links work for 1 to {most} days")));
    }
    if request.max_views.is_some_and(|v| !(1..=MAX_VIEWS).contains(&v)) {
        return Err(DomainError::invalid("max_views must be 1 to 10000, or left out for no limit"));
    }
    if request.recordings.is_empty() || request.recordings.len() > MAX_RECORDINGS {
        return Err(DomainError::invalid("a link shows 1 to 50 recordings"));
    }
    let passphrase = request.passphrase.as_ref().map(passphrase_kdf).transpose()?;
    let mut items = Vec::with_capacity(request.recordings.len());
    for shared in &request.recordings {
        if items.iter().any(|i: &SharedItem| i.recording_id == shared.recording_id) {
            return Err(DomainError::invalid("each recording appears once in a link"));
        }
        if shared.sealed.len() > MAX_SEALED || B64.decode(&shared.sealed).is_err() {
            return Err(DomainError::invalid("sealed must be base64 of at most 96 KiB"));
        }
        let r = super::recordings::find(s, m, &shared.recording_id, ACTION).await?;
        if r.status != RecordingStatus::Committed {
            return Err(DomainError::conflict("only stored recordings can be shared: wait for the upload to finish"));
        }
        items.push(SharedItem { recording_id: r.id, sealed: shared.sealed.clone() });
    }
    let now = now_ms();
    let link = ShareLink {
        id: request.id.clone(),
        family_id: m.family.id.clone(),
        name: name.to_owned(),
        created_by: m.user.clone(),
        created_at: now,
        expires_at: now.saturating_add(i64::from(days) * 86_400_000),
        max_views: request.max_views.map(i64::from),
        views: 0,
        allow_download: request.allow_download,
        passphrase,
        revoked_at: None,
        items: i64::try_from(items.len()).unwrap_or(i64::MAX),
    };
    match s.db.insert_share_link(&link, &items).await {
        Err(e) if crate::db::is_unique_violation(&e) => {
            return Err(DomainError::conflict("a link with this id exists already: make the link again"));
        }
        Ok(false) => {
            return Err(DomainError::conflict("a recording was deleted while the link was made: make it again"));
        }
        other => other.map(drop)?,
    }
    let recordings: Vec<&str> = items.iter().map(|i| i.recording_id.as_str()).collect();
    let metadata = json!({
        "name": name, "recordings": recordings, "expires_at": link.expires_at, "max_views": link.max_views,
        "allow_download": link.allow_download, "passphrase": link.passphrase.is_some(),
    });
    m.audit(s, ACTION, &link.id, Outcome::Success, metadata).await?;
    Ok(link)
}

/// The family's links, newest first: all of them for owners and admins, a member's
/// own for a member.
pub(crate) async fn list(s: &Services, m: &Member) -> DomainResult<Vec<ShareLink>> {
    let links = s.db.share_links(&m.family.id).await?;
    Ok(if m.role.can_manage() { links } else { links.into_iter().filter(|l| l.created_by == m.user).collect() })
}

/// A link of the member's family that the member may manage (owners and admins: any;
/// members: their own), or the refusal recorded under `action`.
async fn managed(s: &Services, m: &Member, id: &str, action: Action) -> DomainResult<ShareLink> {
    match s.db.share_link(id).await? {
        Some((l, _)) if l.family_id == m.family.id => {
            if l.created_by != m.user {
                m.require_manager(s, action, id).await?;
            }
            Ok(l)
        }
        _ => Err(m.not_found(s, action, id).await),
    }
}

/// A link's openings, newest first, from the family's log (its maker, owners and admins).
pub(crate) async fn openings(s: &Services, m: &Member, id: &str) -> DomainResult<Vec<crate::api::audit::AuditEntry>> {
    managed(s, m, id, Action::AuditRead).await?;
    Ok(s.audit.about(&m.family.id, id, Action::LinkOpened, 200).await?)
}

/// Revokes a link at once: its views end with their next read.
pub(crate) async fn revoke(s: &Services, m: &Member, id: &str) -> DomainResult<()> {
    const ACTION: Action = Action::LinkRevoked;
    managed(s, m, id, ACTION).await?;
    if !s.db.revoke_share_link(&m.family.id, id).await? {
        return Err(DomainError::conflict("this link was withdrawn already"));
    }
    m.audit(s, ACTION, id, Outcome::Success, json!({})).await
}

/// Why a link does not open (or no longer reads), in its viewer's words.
fn refusal(state: ShareLinkState) -> DomainError {
    let detail = match state {
        ShareLinkState::Revoked => "this link was withdrawn by the family who shared it",
        ShareLinkState::Expired => "this link has expired: ask the family who shared it for a new one",
        ShareLinkState::UsedUp => "this link has been opened as many times as it allows",
        ShareLinkState::Empty | ShareLinkState::Active => "what this link showed is no longer there",
    };
    DomainError::Gone { code: ErrorCode::Expired, detail: detail.into() }
}

/// A row of the family's log written for someone holding link `l` (no account: the
/// actor is the link).
fn link_event(l: &ShareLink, action: Action, target: &str, outcome: Outcome, metadata: serde_json::Value) -> Event {
    Event {
        tenant: l.family_id.clone(),
        actor: format!("link:{}", l.id),
        action,
        target: target.to_owned(),
        outcome,
        metadata,
    }
}

/// A refused opening or read of an existing link, in its family's log (within the
/// address's refusal-row budget).
async fn record_refusal(s: &Services, l: &ShareLink, action: Action, meta: &RequestMeta, why: ShareLinkState) {
    if !s.limits.allow_denial_row(&format!("link {}", l.id), &meta.ip) {
        return;
    }
    let event = link_event(l, action, &l.id, Outcome::Denied, json!({ "reason": why }));
    if let Err(e) = s.audit.record(&event, meta).await {
        tracing::warn!(error = %e, "cannot record a refused link opening");
    }
}

/// Whether a check is for a new opening (which a used-up link refuses) or for a read of
/// an opening already counted (which its view limit must not cut off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    Opening,
    Reading,
}

/// The live link `id`, or why not. Unknown ids count against the address's
/// failed-authentication budget.
async fn live(s: &Services, id: &str, meta: &RequestMeta, action: Action, usage: Use) -> DomainResult<ShareLink> {
    let found = if valid_id(id) { s.db.share_link(id).await? } else { None };
    let Some((link, family_erased)) = found else {
        if !s.limits.allow_auth_failure(&meta.ip) {
            return Err(DomainError::RateLimited);
        }
        return Err(DomainError::NotFound);
    };
    let state = match (family_erased, state(&link, now_ms())) {
        (true, _) => ShareLinkState::Empty,
        (false, ShareLinkState::UsedUp) if usage == Use::Reading => ShareLinkState::Active,
        (false, state) => state,
    };
    if state != ShareLinkState::Active {
        record_refusal(s, &link, action, meta, state).await;
        return Err(refusal(state));
    }
    Ok(link)
}

/// A recording a link shows, if it is still stored and not in the trash.
async fn shown(s: &Services, link: &ShareLink, recording: &str) -> DomainResult<Option<Recording>> {
    Ok(s.db
        .recording(&link.family_id, recording)
        .await?
        .filter(|r| r.status == RecordingStatus::Committed && r.trash.is_none() && r.header_len.is_some()))
}

/// Opens a link: counts one view, answers the view's token and the sealed keys.
pub(crate) async fn open(s: &Services, id: &str, meta: &RequestMeta) -> DomainResult<Opened> {
    const ACTION: Action = Action::LinkOpened;
    if !s.limits.allow_link_open(&meta.ip) {
        return Err(DomainError::RateLimited);
    }
    let link = live(s, id, meta, ACTION, Use::Opening).await?;
    let mut recordings = Vec::new();
    for item in s.db.shared_items(&link.id).await? {
        if let Some(r) = shown(s, &link, &item.recording_id).await? {
            recordings.push((item, r));
        }
    }
    if recordings.is_empty() {
        record_refusal(s, &link, ACTION, meta, ShareLinkState::Empty).await;
        return Err(refusal(ShareLinkState::Empty));
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(bytes.as_mut());
    let view = Zeroizing::new(B64URL.encode(bytes.as_ref()));
    let now = now_ms();
    let until = link.expires_at.min(now.saturating_add(VIEW_MS));
    if s.db.count_share_view(&link.id, &super::secret_digest(&view), now, until).await? == ViewCount::Refused {
        // Revoked, expired or used up between the check and the count.
        let state = s.db.share_link(&link.id).await?.map_or(ShareLinkState::Empty, |(l, _)| state(&l, now));
        record_refusal(s, &link, ACTION, meta, state).await;
        return Err(refusal(state));
    }
    let metadata = json!({ "name": link.name, "view": link.views + 1, "max_views": link.max_views });
    let event = link_event(&link, ACTION, &link.id, Outcome::Success, metadata);
    s.audit.record(&event, meta).await?;
    Ok(Opened { link, view, recordings })
}

/// Reads a shared recording's ciphertext for one view of its link: the link, the view
/// and the recording are checked on every read.
pub(crate) async fn read(
    s: &Services,
    id: &str,
    recording: &str,
    view: Option<&str>,
    meta: &RequestMeta,
    request: &ReadRequest<'_>,
) -> DomainResult<Read> {
    const ACTION: Action = Action::LinkPlayed;
    let link = live(s, id, meta, ACTION, Use::Reading).await?;
    let view = view.filter(|v| v.len() == 43).ok_or_else(|| DomainError::forbidden("open the link first"))?;
    let view_hash = super::secret_digest(view);
    if !s.db.share_view_valid(&link.id, &view_hash, now_ms()).await? {
        if !s.limits.allow_auth_failure(&meta.ip) {
            return Err(DomainError::RateLimited);
        }
        return Err(DomainError::forbidden("this viewing has ended: open the link again"));
    }
    if !s.db.is_shared(&link.id, recording).await? {
        return Err(DomainError::NotFound);
    }
    let Some(r) = shown(s, &link, recording).await? else {
        return Err(refusal(ShareLinkState::Empty));
    };
    let (etag, size, range) = match select(&r, request) {
        Ok(selected) => selected,
        Err(answer) => return Ok(answer),
    };
    // Once per view and recording, whatever the range: an anonymous viewer must not be
    // able to write rows without bound.
    if s.reads.first(&link.family_id, "link", &link.id, &r.id, &view_hash) {
        let metadata = json!({ "link": link.id, "name": link.name, "range": range.as_ref().map(|r| [r.start, r.end]) });
        let event = link_event(&link, ACTION, &r.id, Outcome::Success, metadata);
        s.audit.record(&event, meta).await?;
    }
    content(s, &r, etag, size, range).await
}
