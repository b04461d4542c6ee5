//! A family's invitations to a studio. Parents who already keep their recordings in
//! Vault invite the studio of their ultrasound session to deliver into the family's
//! own vault, instead of the new vault a studio otherwise makes for its customer. An
//! owner or admin names the studio; Vault makes a 256-bit secret, keeps only its
//! SHA-256, and answers the secret once for the link. A studio's staff member who
//! holds it starts a delivery with it (`super::deliveries::create_in_family`): once,
//! before it expires, and only while its maker is still an owner or admin. The
//! studio is then the family's contributor until the hand-off date, or until an
//! owner or admin ends its access; it sees only what it uploads in that delivery.

use serde_json::json;
use zeroize::Zeroizing;

use super::audit::{Action, Outcome};
use super::{DomainError, DomainResult, Member, Services};
use crate::api::invitations::InvitationState;
use crate::db::{StudioInvitation, now_ms};

const DEFAULT_DAYS: u32 = 14;
const MAX_DAYS: u32 = 30;

/// Makes an invitation for a studio; answers it with the link's secret (never stored).
pub(crate) async fn create(
    s: &Services,
    m: &Member,
    name: &str,
    days: Option<u32>,
) -> DomainResult<(StudioInvitation, Zeroizing<String>)> {
    const ACTION: Action = Action::StudioInvited;
    m.require_manager(s, ACTION, "").await?;
    let name = name.trim();
    if !crate::text::is_visible_text(name, 100) {
        return Err(DomainError::invalid("name must be 1 to 100 visible characters, such as Little Moments Studio"));
    }
    let days = days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(DomainError::invalid("an invitation works for 1 to 30 days"));
    }
    let secret = super::invitations::new_secret();
    let now = now_ms();
    let invitation = StudioInvitation {
        id: uuid::Uuid::new_v4().to_string(),
        family_id: m.family.id.clone(),
        name: name.to_owned(),
        created_by: m.user.clone(),
        created_at: now,
        expires_at: now.saturating_add(i64::from(days) * 86_400_000),
        used_at: None,
        delivery_id: None,
        revoked_at: None,
    };
    s.db.insert_studio_invitation(&invitation, &super::secret_digest(&secret)).await?;
    let metadata = json!({ "name": name, "expires_at": invitation.expires_at });
    m.audit(s, ACTION, &invitation.id, Outcome::Success, metadata).await?;
    Ok((invitation, secret))
}

/// The family's invitations to studios, newest first (owners and admins).
pub(crate) async fn list(s: &Services, m: &Member) -> DomainResult<Vec<StudioInvitation>> {
    m.require_manager(s, Action::StudioInvited, "").await?;
    Ok(s.db.studio_invitations(&m.family.id).await?)
}

/// Revokes an unused invitation to a studio (owners and admins).
pub(crate) async fn revoke(s: &Services, m: &Member, id: &str) -> DomainResult<()> {
    const ACTION: Action = Action::StudioInvitationRevoked;
    m.require_manager(s, ACTION, id).await?;
    if !s.db.revoke_studio_invitation(&m.family.id, id).await? {
        return Err(m.not_found(s, ACTION, id).await);
    }
    m.audit(s, ACTION, id, Outcome::Success, json!({})).await
}

/// Where an invitation to a studio is in its life at `now` (`Accepted`: a delivery
/// started with it).
pub(crate) fn state(i: &StudioInvitation, now: i64) -> InvitationState {
    super::invitations::state_of(i.used_at.is_some(), i.revoked_at.is_some(), i.expires_at, now)
}
