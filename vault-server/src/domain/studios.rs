//! Studios: tenants of their own, named by the token's organisation claim like
//! families (an id is one or the other, never both). Admins manage staff, the
//! retention policy and read the studio's audit log; staff make deliveries
//! (`super::deliveries`). Nothing here reaches a family's recordings.

use serde_json::json;

use super::audit::{Action, Event, Outcome, RequestMeta, SYSTEM_TENANT};
use super::member::{record_as, record_refusal};
use super::{DomainError, DomainResult, Services};
use crate::auth::Identity;
use crate::db::{Staff as StaffRow, StaffChange, StaffRole, Studio, is_unique_violation};

/// A verified caller who is on the staff of the studio their token names.
#[derive(Debug, Clone)]
pub(crate) struct StaffMember {
    pub issuer: String,
    pub user: String,
    pub session: String,
    pub studio: Studio,
    pub role: StaffRole,
    pub meta: RequestMeta,
}

impl StaffMember {
    /// The staff entry of `identity` in the studio its token names; a refusal is
    /// recorded (in that studio's log, or the system chain) within the caller's budget.
    pub(crate) async fn resolve(
        s: &Services,
        identity: Identity,
        meta: RequestMeta,
        target: &str,
    ) -> DomainResult<Self> {
        let Some(studio_id) = identity.family.clone().filter(|id| super::families::valid_id(id)) else {
            return Err(DomainError::forbidden("the token names no studio"));
        };
        let studio = s.db.studio(&studio_id).await?;
        let staff = match &studio {
            Some(st) => s.db.staff_member(&st.id, &identity.issuer, &identity.subject).await?,
            None => None,
        };
        match (studio, staff) {
            (Some(studio), _) if studio.erased_at.is_some() => Err(DomainError::Gone {
                code: crate::api::ErrorCode::Expired,
                detail: "this studio's records were deleted on its request".into(),
            }),
            (Some(studio), Some(staff)) => Ok(Self {
                issuer: identity.issuer,
                user: identity.subject,
                session: identity.session,
                studio,
                role: staff.role,
                meta,
            }),
            (studio, _) => {
                let event = Event {
                    tenant: studio.map_or_else(|| SYSTEM_TENANT.to_owned(), |st| st.id),
                    actor: identity.subject.clone(),
                    action: Action::AuthzDenied,
                    target: target.to_owned(),
                    outcome: Outcome::Denied,
                    metadata: json!({ "reason": "not on the studio's staff", "studio": studio_id }),
                };
                record_refusal(s, &identity, &event, &meta).await?;
                Err(DomainError::forbidden("you are not on the staff of this studio"))
            }
        }
    }

    /// Writes a row of the studio's log for an action of this staff member.
    pub(crate) async fn audit(
        &self,
        s: &Services,
        action: Action,
        target: &str,
        outcome: Outcome,
        metadata: serde_json::Value,
    ) -> DomainResult<()> {
        let event = Event {
            tenant: self.studio.id.clone(),
            actor: self.user.clone(),
            action,
            target: target.to_owned(),
            outcome,
            metadata,
        };
        record_as(s, &self.issuer, &self.user, &event, &self.meta).await
    }

    /// Records a refused `action` on `target` with its reason, and returns `refusal`.
    pub(crate) async fn refuse(&self, s: &Services, action: Action, target: &str, refusal: DomainError) -> DomainError {
        let reason = refusal.to_string();
        match self.audit(s, action, target, Outcome::Denied, json!({ "reason": reason })).await {
            Ok(()) => refusal,
            Err(e) => e,
        }
    }

    /// Refuses (and records) what only the studio's admins may do.
    pub(crate) async fn require_admin(&self, s: &Services, action: Action, target: &str) -> DomainResult<()> {
        if self.role == StaffRole::Admin {
            return Ok(());
        }
        Err(self.refuse(s, action, target, DomainError::forbidden("this needs an admin of the studio")).await)
    }
}

/// Creates the studio `identity`'s token names, with the caller as its first admin.
/// As for a family, only the identity provider's administrators may.
pub(crate) async fn create(s: &Services, identity: &Identity, meta: &RequestMeta, name: &str) -> DomainResult<Studio> {
    let name = name.trim();
    if !crate::text::is_visible_text(name, 200) {
        return Err(DomainError::invalid("name must be 1 to 200 visible characters"));
    }
    let Some(id) = identity.family.clone() else {
        return Err(DomainError::invalid("the token names no organisation to make a studio of"));
    };
    if !super::families::valid_id(&id) {
        return Err(DomainError::invalid(
            "the token's organisation id must be 1 to 64 characters of [A-Za-z0-9_-], starting with a letter or digit",
        ));
    }
    if !super::families::may_create_vault(s, identity) {
        return Err(DomainError::forbidden(
            "only an administrator of your organisation at the identity provider can create its studio",
        ));
    }
    let taken = || DomainError::conflict("this organisation has a vault already (a family's or a studio's)");
    match s.db.create_studio(&id, name, &identity.issuer, &identity.subject).await {
        Ok(true) => {}
        Ok(false) => return Err(taken()),
        Err(e) if is_unique_violation(&e) => return Err(taken()),
        Err(e) => return Err(e.into()),
    }
    let studio = s.db.studio(&id).await?.ok_or_else(|| DomainError::internal("studio vanished"))?;
    let event = Event {
        tenant: studio.id.clone(),
        actor: identity.subject.clone(),
        action: Action::StudioCreated,
        target: studio.id.clone(),
        outcome: Outcome::Success,
        metadata: json!({ "name": studio.name }),
    };
    s.audit.record(&event, meta).await?;
    Ok(studio)
}

/// Sets how long a delivery whose invitation expired unaccepted is kept (admins).
pub(crate) async fn set_policy(s: &Services, st: &StaffMember, unclaimed_days: u32) -> DomainResult<Studio> {
    const ACTION: Action = Action::StudioPolicyChanged;
    st.require_admin(s, ACTION, &st.studio.id).await?;
    if unclaimed_days > 365 {
        return Err(DomainError::invalid("unclaimed deliveries are kept 0 to 365 days"));
    }
    s.db.set_unclaimed_days(&st.studio.id, unclaimed_days).await?;
    let metadata = json!({ "unclaimed_days": unclaimed_days, "before": st.studio.unclaimed_days });
    st.audit(s, ACTION, &st.studio.id, Outcome::Success, metadata).await?;
    Ok(Studio { unclaimed_days, ..st.studio.clone() })
}

/// The studio's people (every staff member may see who works there).
pub(crate) async fn staff(s: &Services, st: &StaffMember) -> DomainResult<Vec<StaffRow>> {
    Ok(s.db.staff(&st.studio.id).await?)
}

/// Adds a user of the admin's own identity provider to the staff (admins).
pub(crate) async fn add_staff(s: &Services, st: &StaffMember, user: &str, role: StaffRole) -> DomainResult<()> {
    const ACTION: Action = Action::StaffAdded;
    st.require_admin(s, ACTION, user).await?;
    if !crate::text::is_visible_id(user) || user.len() > 200 {
        return Err(DomainError::invalid("user_id must be the identity provider's user id"));
    }
    match s.db.add_staff(&st.studio.id, &st.issuer, user, role, &st.user).await {
        Err(e) if is_unique_violation(&e) => return Err(DomainError::conflict("they are on the staff already")),
        other => other?,
    }
    st.audit(s, ACTION, user, Outcome::Success, json!({ "role": role })).await
}

/// Removes someone from the staff (admins); the last admin stays.
pub(crate) async fn remove_staff(s: &Services, st: &StaffMember, user: &str) -> DomainResult<()> {
    const ACTION: Action = Action::StaffRemoved;
    st.require_admin(s, ACTION, user).await?;
    match s.db.remove_staff(&st.studio.id, user).await? {
        StaffChange::Done => st.audit(s, ACTION, user, Outcome::Success, json!({})).await,
        StaffChange::NoSuchStaff => Err(DomainError::NotFound),
        StaffChange::LastAdmin => Err(DomainError::conflict("the studio keeps at least one admin")),
    }
}

/// A page of the studio's log, newest first (admins).
pub(crate) async fn audit_page(
    s: &Services,
    st: &StaffMember,
    before: Option<i64>,
    limit: Option<u32>,
) -> DomainResult<(Vec<crate::api::audit::AuditEntry>, Option<i64>)> {
    st.require_admin(s, Action::AuditRead, "").await?;
    super::audit::chain_page(s, &st.studio.id, before, limit).await
}

/// The studio's records, for an admin who asks (the studio's right to its data): the
/// studio, its staff, its deliveries and its whole audit log, as one JSON document.
pub(crate) async fn export(s: &Services, st: &StaffMember) -> DomainResult<serde_json::Value> {
    const ACTION: Action = Action::StudioExported;
    st.require_admin(s, ACTION, &st.studio.id).await?;
    let staff = s.db.staff(&st.studio.id).await?;
    let deliveries = s.db.deliveries(&st.studio.id).await?;
    let mut audit = Vec::new();
    let mut before = None;
    loop {
        let page = s.audit.page(&st.studio.id, before, 500).await?;
        before = page.last().map(|r| r.seq);
        let full = page.len() == 500;
        audit.extend(page);
        if !full {
            break;
        }
    }
    st.audit(s, ACTION, &st.studio.id, Outcome::Success, json!({ "deliveries": deliveries.len() })).await?;
    Ok(json!({
        "studio": { "id": st.studio.id, "name": st.studio.name, "created_at": st.studio.created_at,
            "unclaimed_days": st.studio.unclaimed_days },
        "staff": staff.iter().map(|m| json!({ "issuer": m.issuer, "user_id": m.user_id, "role": m.role,
            "added_at": m.added_at, "added_by": m.added_by })).collect::<Vec<_>>(),
        "deliveries": deliveries.iter().map(|(d, n)| json!({ "id": d.id, "customer": d.customer,
            "family_id": d.family_id, "recordings": n, "created_by": d.created_by, "created_at": d.created_at,
            "invited_until": d.invited_until, "accepted_at": d.accepted_at, "handed_off_at": d.handed_off_at,
            "expired_at": d.expired_at, "erased_at": d.erased_at })).collect::<Vec<_>>(),
        "audit": audit,
    }))
}

/// Deletes the studio's records on its request (admins; `confirm` repeats its id): its
/// staff, its customers' names and its name. Refused while a delivery is open: the
/// families' recordings are handed off or erased first. Its audit log stays, being
/// append-only evidence, and says so.
pub(crate) async fn erase(s: &Services, st: &StaffMember, confirm: &str) -> DomainResult<()> {
    const ACTION: Action = Action::StudioErased;
    st.require_admin(s, ACTION, &st.studio.id).await?;
    if confirm != st.studio.id {
        return Err(DomainError::invalid("confirm must repeat the studio's id"));
    }
    match s.db.erase_studio(&st.studio.id, crate::db::now_ms()).await? {
        0 => st.audit(s, ACTION, &st.studio.id, Outcome::Success, json!({})).await,
        open => Err(DomainError::conflict(format!(
            "{open} deliveries are still open: hand them off or erase them first, so that no family's recordings \
             are left without an owner"
        ))),
    }
}
