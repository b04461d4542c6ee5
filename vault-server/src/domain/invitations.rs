//! Invitation links. An owner or admin names the relative and the role; Vault makes a
//! 256-bit secret, keeps only its SHA-256, and answers the secret once for the link.
//! The relative opens the link, signs in with the identity provider (their token
//! names the family, as every token does), and accepts: the link is used up and they
//! are a member, in one transaction. Links expire (7 days by default, 30 at most), can
//! be revoked, and every step is audited. Guessing is pointless (2^256) and rate-
//! limited all the same (the address's failed-authentication budget).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use rand_core::{OsRng, RngCore};
use serde_json::json;
use zeroize::Zeroizing;

use super::audit::{Action, Event, Outcome, RequestMeta};
use super::{DomainError, DomainResult, Member, Services};
use crate::api::ErrorCode;
use crate::api::invitations::InvitationState;
use crate::auth::Identity;
use crate::db::{Acceptance, Family, Invitation, Member as MemberRow, Role, now_ms};

const DEFAULT_DAYS: u32 = 7;
const MAX_DAYS: u32 = 30;

/// Makes an invitation; answers it with the link's secret (never stored).
pub(crate) async fn create(
    s: &Services,
    m: &Member,
    name: &str,
    role: Role,
    days: Option<u32>,
) -> DomainResult<(Invitation, Zeroizing<String>)> {
    const ACTION: Action = Action::InvitationCreated;
    m.require_manager(s, ACTION, "").await?;
    if role == Role::Owner {
        m.require_owner(s, ACTION, "", "only an owner may invite an owner").await?;
    }
    let name = name.trim();
    if !crate::text::is_visible_text(name, 100) {
        return Err(DomainError::invalid("name must be 1 to 100 visible characters, such as Grandpa Joe"));
    }
    let days = days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(DomainError::invalid("an invitation works for 1 to 30 days"));
    }
    let (invitation, secret) = mint(&m.family.id, role, name, &m.user, days);
    s.db.insert_invitation(&invitation, &super::secret_digest(&secret)).await?;
    let metadata = json!({ "name": name, "role": role, "expires_at": invitation.expires_at });
    m.audit(s, ACTION, &invitation.id, Outcome::Success, metadata).await?;
    Ok((invitation, secret))
}

/// A new invitation link's secret: 256 random bits, base64url (only its digest is stored).
pub(super) fn new_secret() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(bytes.as_mut());
    Zeroizing::new(B64URL.encode(bytes.as_ref()))
}

/// Whether `secret` has the shape of an invitation link's secret (checked before any
/// lookup, so that a mangled link gets a plain answer).
pub(super) fn looks_like_secret(secret: &str) -> bool {
    secret.len() == 43 && B64URL.decode(secret).is_ok()
}

/// A new invitation and its secret (only the digest is stored).
pub(super) fn mint(family: &str, role: Role, name: &str, by: &str, days: u32) -> (Invitation, Zeroizing<String>) {
    let secret = new_secret();
    let now = now_ms();
    let invitation = Invitation {
        id: uuid::Uuid::new_v4().to_string(),
        family_id: family.to_owned(),
        role,
        display_name: name.to_owned(),
        created_by: by.to_owned(),
        created_at: now,
        expires_at: now.saturating_add(i64::from(days) * 86_400_000),
        accepted_at: None,
        accepted_by: None,
        revoked_at: None,
    };
    (invitation, secret)
}

/// The family's invitations, newest first.
pub(crate) async fn list(s: &Services, m: &Member) -> DomainResult<Vec<Invitation>> {
    m.require_manager(s, Action::InvitationCreated, "").await?;
    Ok(s.db.invitations(&m.family.id).await?)
}

/// Revokes an unused invitation.
pub(crate) async fn revoke(s: &Services, m: &Member, id: &str) -> DomainResult<()> {
    const ACTION: Action = Action::InvitationRevoked;
    m.require_manager(s, ACTION, id).await?;
    if !s.db.revoke_invitation(&m.family.id, id).await? {
        return Err(m.not_found(s, ACTION, id).await);
    }
    m.audit(s, ACTION, id, Outcome::Success, json!({})).await
}

/// Accepts the invitation whose secret the caller holds, into the family their token
/// names; answers the family and the new membership.
pub(crate) async fn accept(
    s: &Services,
    identity: &Identity,
    meta: &RequestMeta,
    secret: &str,
) -> DomainResult<(Family, MemberRow)> {
    const ACTION: Action = Action::MemberJoined;
    if !looks_like_secret(secret) {
        return Err(DomainError::invalid("this is not an invitation link's secret: copy the whole link"));
    }
    let family = match &identity.family {
        Some(f) if super::families::valid_id(f) => s.db.family(f).await?,
        _ => None,
    };
    let Some(family) = family.filter(|f| f.erased_at.is_none()) else {
        return Err(DomainError::forbidden(
            "sign in to the family the invitation is for (the link names it), then open the link again",
        ));
    };
    let event = |outcome, metadata| Event {
        tenant: family.id.clone(),
        actor: identity.subject.clone(),
        action: ACTION,
        target: identity.subject.clone(),
        outcome,
        metadata,
    };
    let refused = async |reason: &str, refusal: DomainError| -> DomainError {
        let event = event(Outcome::Denied, json!({ "reason": reason }));
        match super::member::record_refusal(s, identity, &event, meta).await {
            Ok(()) => refusal,
            Err(e) => e,
        }
    };
    match s.db.accept_invitation(&family.id, &super::secret_digest(secret), &identity.issuer, &identity.subject).await?
    {
        Acceptance::Joined(member, delivery) => {
            let metadata = json!({ "role": member.role, "name": member.display_name, "invited_by": member.added_by });
            s.audit.record(&event(Outcome::Success, metadata), meta).await?;
            if let Some(d) = delivery {
                super::deliveries::accepted(s, &d, identity, meta).await?;
            }
            Ok((family, member))
        }
        Acceptance::AlreadyMember => Err(DomainError::conflict("you are already a member of this family")),
        Acceptance::Withdrawn => {
            let detail =
                "this invitation was withdrawn: the person who made it can no longer invite; ask for a new one";
            Err(refused(
                "maker no longer may invite",
                DomainError::Gone { code: ErrorCode::Expired, detail: detail.into() },
            )
            .await)
        }
        Acceptance::Spent(i) => {
            let (reason, detail) = match state(&i, now_ms()) {
                InvitationState::Accepted => ("used", "this invitation was used already: ask for a new one"),
                InvitationState::Revoked => ("revoked", "this invitation was withdrawn: ask for a new one"),
                _ => ("expired", "this invitation has expired: ask for a new one"),
            };
            Err(refused(reason, DomainError::Gone { code: ErrorCode::Expired, detail: detail.into() }).await)
        }
        Acceptance::NoSuchInvitation => {
            // A guess (or a link for another family): within the address's budget.
            if !s.limits.allow_auth_failure(&meta.ip) {
                return Err(DomainError::RateLimited);
            }
            Err(refused("no such invitation", DomainError::NotFound).await)
        }
    }
}

/// Where an invitation is in its life at `now`.
pub(crate) fn state(i: &Invitation, now: i64) -> InvitationState {
    state_of(i.accepted_at.is_some(), i.revoked_at.is_some(), i.expires_at, now)
}

/// Where a link that is used once, may be withdrawn and expires stands at `now`
/// (invitations to members and to studios alike): a use counts whatever came after.
pub(super) fn state_of(used: bool, revoked: bool, expires_at: i64, now: i64) -> InvitationState {
    if used {
        InvitationState::Accepted
    } else if revoked {
        InvitationState::Revoked
    } else if expires_at <= now {
        InvitationState::Expired
    } else {
        InvitationState::Pending
    }
}
