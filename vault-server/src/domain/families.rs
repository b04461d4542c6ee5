//! Families: created by their first owner, named by the token's family claim; erased
//! on their owner's request.

use serde_json::json;

use super::audit::{Action, Event, Outcome, RequestMeta};
use super::{DomainError, DomainResult, Member, Services};
use crate::auth::{DevIssuer, Identity};
use crate::db::{Family, Sharing, is_unique_violation};
use crate::signing::Envelope;

/// Family and user ids come from the identity provider; they must also be safe in
/// object keys and logs. They start with a letter or digit, so no family id can be
/// the system audit chain's tenant (`audit::SYSTEM_TENANT`).
pub(crate) fn valid_id(id: &str) -> bool {
    crate::text::is_plain_id(id)
}

/// Whether `identity` may create its organisation's vault (a family's or a studio's).
/// Whoever creates one owns it. With an identity provider, only its administrators may
/// (a plain member of the organisation could otherwise take the vault before them);
/// the development issuer is one person's machine.
pub(super) fn may_create_vault(s: &Services, identity: &Identity) -> bool {
    let creators = &s.config.auth.creator_roles;
    identity.issuer == DevIssuer::ISSUER
        || creators.is_empty()
        || identity.idp_role.as_ref().is_some_and(|r| creators.contains(r))
}

/// Creates the family `identity`'s token names, with the caller as its first owner,
/// and the family's customer key.
pub(crate) async fn create(s: &Services, identity: &Identity, meta: &RequestMeta, name: &str) -> DomainResult<Family> {
    let name = name.trim();
    if !crate::text::is_visible_text(name, 200) {
        return Err(DomainError::invalid(
            "name must be 1 to 200 visible characters (no control or invisible characters)",
        ));
    }
    let Some(family_id) = identity.family.clone() else {
        return Err(DomainError::invalid("the token names no family to create"));
    };
    if !valid_id(&family_id) {
        return Err(DomainError::invalid(
            "the token's family id must be 1 to 64 characters of [A-Za-z0-9_-], starting with a letter or digit",
        ));
    }
    if !may_create_vault(s, identity) {
        return Err(DomainError::forbidden(
            "only an administrator of your organisation at the identity provider can create its vault; ask one to, \
             or to invite you",
        ));
    }
    if s.db.family(&family_id).await?.is_some() {
        return Err(DomainError::conflict("this family exists already"));
    }
    if s.db.studio(&family_id).await?.is_some() {
        return Err(DomainError::conflict(
            "this organisation has a studio's vault; a family needs its own organisation",
        ));
    }
    let key = s.keys.create_family_key(&family_id).await?;
    let family = match s.db.create_family(&family_id, name, &key.0, &identity.issuer, &identity.subject).await {
        Err(e) if is_unique_violation(&e) => return Err(DomainError::conflict("this family exists already")),
        other => other?,
    };
    let event = Event {
        tenant: family.id.clone(),
        actor: identity.subject.clone(),
        action: Action::FamilyCreated,
        target: family.id.clone(),
        outcome: Outcome::Success,
        metadata: json!({ "name": family.name, "key_id": key.0 }),
    };
    s.audit.record(&event, meta).await?;
    Ok(family)
}

/// Erases the member's whole family on its owner's request: every recording's keys
/// destroyed, the customer key destroyed, objects purged when retention allows.
/// Irreversible. Answers the signed erasure receipt.
pub(crate) async fn erase(s: &Services, m: &Member, confirm: &str) -> DomainResult<Envelope> {
    let family = m.family.id.clone();
    m.require_owner(s, Action::FamilyErased, &family, "only an owner can erase the family").await?;
    if confirm != family {
        return Err(DomainError::invalid("confirm must repeat the family id"));
    }
    Ok(super::erasure::erase_family(s, &family, &m.user, &m.meta).await?)
}

/// Sets the family's rules for share links (owners): whether members may make them,
/// and the longest a new link may work. Links made before keep their dates.
pub(crate) async fn set_sharing(s: &Services, m: &Member, sharing: Sharing) -> DomainResult<Family> {
    const ACTION: Action = Action::FamilySharingChanged;
    let family = m.family.id.clone();
    m.require_owner(s, ACTION, &family, "only an owner can change who may share").await?;
    if !(1..=30).contains(&sharing.max_link_days) {
        return Err(DomainError::invalid("max_link_days must be 1 to 30"));
    }
    s.db.set_sharing(&family, sharing).await?;
    let metadata = json!({
        "members_may_share": sharing.members_may_share, "max_link_days": sharing.max_link_days,
        "was": { "members_may_share": m.family.sharing.members_may_share, "max_link_days": m.family.sharing.max_link_days },
    });
    m.audit(s, ACTION, &family, Outcome::Success, metadata).await?;
    Ok(Family { sharing, ..m.family.clone() })
}
