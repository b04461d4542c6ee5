//! Members of a family: listed by anyone in it, managed by owners and admins. Owner
//! roles (granting or taking) are an owner's business; the last owner stays.

use serde_json::json;

use super::audit::{Action, Outcome};
use super::{DomainError, DomainResult, Member, Services};
use crate::db::{Member as MemberRow, MemberChange, Role, is_unique_violation};

/// The family's members.
pub(crate) async fn list(s: &Services, m: &Member) -> DomainResult<Vec<MemberRow>> {
    Ok(s.db.members(&m.family.id).await?)
}

/// Adds `user_id` (the identity provider's `sub`, of the inviter's issuer) in `role`.
pub(crate) async fn invite(s: &Services, m: &Member, user_id: &str, role: Role) -> DomainResult<MemberRow> {
    m.require_manager(s, Action::MemberInvited, user_id).await?;
    if !crate::text::is_visible_id(user_id) {
        return Err(DomainError::invalid(
            "user_id must be the identity provider's user id: 1 to 255 visible characters, no spaces",
        ));
    }
    if role == Role::Owner {
        m.require_owner(s, Action::MemberInvited, user_id, "only an owner may add an owner").await?;
    }
    let added = match s.db.add_member(&m.family.id, &m.issuer, user_id, role, &m.user).await {
        Err(e) if is_unique_violation(&e) => return Err(DomainError::conflict("already a member")),
        other => other?,
    };
    m.audit(s, Action::MemberInvited, user_id, Outcome::Success, json!({ "role": role })).await?;
    Ok(added)
}

/// Changes `user_id`'s role.
pub(crate) async fn change_role(s: &Services, m: &Member, user_id: &str, role: Role) -> DomainResult<MemberRow> {
    const ACTION: Action = Action::MemberRoleChanged;
    m.require_manager(s, ACTION, user_id).await?;
    let Some(target) = s.db.membership(&m.family.id, &m.issuer, user_id).await? else {
        return Err(m.not_found(s, ACTION, user_id).await);
    };
    let owners_only = || DomainError::forbidden("only an owner may change owner roles");
    if target.role == Role::Owner || role == Role::Owner {
        m.require_owner(s, ACTION, user_id, "only an owner may change owner roles").await?;
    }
    match s.db.set_role(&m.family.id, &m.issuer, user_id, role, m.role == Role::Owner).await? {
        MemberChange::Done => {}
        MemberChange::LastOwner => return Err(DomainError::conflict("the family's last owner cannot be demoted")),
        MemberChange::OwnersOnly => return Err(m.refuse(s, ACTION, user_id, owners_only()).await),
        MemberChange::NoSuchMember => return Err(DomainError::NotFound),
    }
    m.audit(s, ACTION, user_id, Outcome::Success, json!({ "from": target.role, "to": role })).await?;
    Ok(MemberRow { role, ..target })
}

/// Names `user_id` as the family calls them (owners and admins name anyone; a member
/// names themselves); an empty name clears it.
pub(crate) async fn rename(s: &Services, m: &Member, user_id: &str, name: &str) -> DomainResult<MemberRow> {
    const ACTION: Action = Action::MemberRenamed;
    if user_id != m.user {
        m.require_manager(s, ACTION, user_id).await?;
    }
    let name = name.trim();
    if !name.is_empty() && !crate::text::is_visible_text(name, 100) {
        return Err(DomainError::invalid("a name is 1 to 100 visible characters, such as Grandpa Joe"));
    }
    let name = (!name.is_empty()).then_some(name);
    if !s.db.set_display_name(&m.family.id, &m.issuer, user_id, name).await? {
        return Err(m.not_found(s, ACTION, user_id).await);
    }
    m.audit(s, ACTION, user_id, Outcome::Success, json!({ "name": name })).await?;
    s.db.membership(&m.family.id, &m.issuer, user_id).await?.ok_or(DomainError::NotFound)
}

/// Removes `user_id` (anyone may leave).
pub(crate) async fn remove(s: &Services, m: &Member, user_id: &str) -> DomainResult<()> {
    const ACTION: Action = Action::MemberRemoved;
    if user_id != m.user {
        m.require_manager(s, ACTION, user_id).await?;
    }
    let Some(target) = s.db.membership(&m.family.id, &m.issuer, user_id).await? else {
        return Err(m.not_found(s, ACTION, user_id).await);
    };
    if target.role == Role::Owner {
        m.require_owner(s, ACTION, user_id, "only an owner may remove an owner").await?;
    }
    match s.db.remove_member(&m.family.id, &m.issuer, user_id, m.role == Role::Owner).await? {
        MemberChange::Done => {}
        MemberChange::LastOwner => return Err(DomainError::conflict("the family's last owner cannot be removed")),
        MemberChange::OwnersOnly => {
            let refusal = DomainError::forbidden("only an owner may remove an owner");
            return Err(m.refuse(s, ACTION, user_id, refusal).await);
        }
        MemberChange::NoSuchMember => return Err(DomainError::NotFound),
    }
    m.audit(s, ACTION, user_id, Outcome::Success, json!({ "role": target.role })).await
}
