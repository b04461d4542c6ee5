//! The member making a request: authenticated by the caller's layer (a verified
//! token), found here in the family its token names. Tenancy comes from here only:
//! no capability takes a family id from the request.

use serde_json::json;

use super::audit::{Action, Event, Outcome, RequestMeta, SYSTEM_TENANT};
use super::{DomainError, DomainResult, Services};
use crate::api::ErrorCode;
use crate::auth::Identity;
use crate::db::{Family, Role};

/// A verified caller who is a member of the family their token names.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    /// The issuer of the caller's token: with `user`, who the member is.
    pub issuer: String,
    /// The token's subject.
    pub user: String,
    /// The sign-in session (`Identity::session`).
    pub session: String,
    pub family: Family,
    pub role: Role,
    /// Where the request came from, for the audit log.
    pub meta: RequestMeta,
    /// Set for a studio's staff contributing to a delivery (`super::deliveries`). A
    /// contributor has the role `member` and sees only what its studio uploaded; only
    /// the routes that take `ContributorCall` admit one at all.
    pub studio: Option<Contributor>,
}

/// A studio working in one of its deliveries.
#[derive(Debug, Clone)]
pub(crate) struct Contributor {
    pub studio: String,
    /// The delivery it works in: it sees only the recordings that came in it.
    pub delivery: String,
    /// A parent accepted it: the recordings are the family's, the studio only adds.
    pub accepted: bool,
}

impl Member {
    /// The membership of `identity` in the family its token names. A refusal is
    /// recorded (in that family's log, or the system chain for a family that does not
    /// exist) within the caller's refusal-row budget; `target` is what was asked for.
    pub(crate) async fn resolve(
        s: &Services,
        identity: Identity,
        meta: RequestMeta,
        target: &str,
    ) -> DomainResult<Self> {
        let Some(family_id) = identity.family.clone() else {
            return Err(DomainError::forbidden("the token names no family"));
        };
        if !super::families::valid_id(&family_id) {
            // Never a family (nor the system chain's tenant): no lookup at all.
            return Err(DomainError::forbidden("the token's family id is not a valid family id"));
        }
        let family = s.db.family(&family_id).await?;
        let membership = match &family {
            Some(f) => s.db.membership(&f.id, &identity.issuer, &identity.subject).await?,
            None => None,
        };
        let refusal = |tenant: String, reason: &str| Event {
            tenant,
            actor: identity.subject.clone(),
            action: Action::AuthzDenied,
            target: target.to_owned(),
            outcome: Outcome::Denied,
            metadata: json!({ "reason": reason, "family": family_id }),
        };
        match (family, membership) {
            (Some(family), Some(_)) if family.erased_at.is_some() => {
                record_refusal(s, &identity, &refusal(family.id, "the family was erased"), &meta).await?;
                Err(DomainError::Gone {
                    code: ErrorCode::FamilyErased,
                    detail: "this family was erased on its owner's request: its recordings can no longer be decrypted"
                        .into(),
                })
            }
            (Some(family), Some(m)) => Ok(Member {
                issuer: identity.issuer,
                user: identity.subject,
                session: identity.session,
                family,
                role: m.role,
                meta,
                studio: None,
            }),
            (Some(family), None) => {
                record_refusal(s, &identity, &refusal(family.id, "not a member of the family"), &meta).await?;
                Err(DomainError::forbidden("you are not a member of this family"))
            }
            (None, _) => {
                // A studio's staff on a family route: their studio's log has it.
                let studio = s.db.studio(&family_id).await?;
                let tenant = studio.map_or_else(|| SYSTEM_TENANT.to_owned(), |st| st.id);
                record_refusal(s, &identity, &refusal(tenant, "not a member of the family"), &meta).await?;
                Err(DomainError::forbidden("you are not a member of this family"))
            }
        }
    }

    /// Whether this caller may see `r`: every member may; a studio's contributor only
    /// what its studio uploaded in this delivery.
    pub(crate) fn may_see(&self, r: &crate::db::Recording) -> bool {
        self.studio.as_ref().is_none_or(|c| r.delivery_id.as_deref() == Some(c.delivery.as_str()))
    }

    /// Writes an audit row for an action of this member (a refusal within the
    /// member's refusal-row budget).
    pub(crate) async fn audit(
        &self,
        s: &Services,
        action: Action,
        target: &str,
        outcome: Outcome,
        metadata: serde_json::Value,
    ) -> DomainResult<()> {
        let mut metadata = metadata;
        if let (Some(c), Some(fields)) = (&self.studio, metadata.as_object_mut()) {
            // A contributor's rows say which studio acted.
            fields.insert("studio".into(), c.studio.clone().into());
        }
        let event = Event {
            tenant: self.family.id.clone(),
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

    /// Refuses (and records) an action the member's role does not allow.
    pub(crate) async fn require_manager(&self, s: &Services, action: Action, target: &str) -> DomainResult<()> {
        if self.role.can_manage() {
            return Ok(());
        }
        Err(self.refuse(s, action, target, DomainError::forbidden("this needs an owner or admin of the family")).await)
    }

    /// Refuses (and records) an action on a recording by someone who neither created
    /// it nor manages the family (members change their own recordings only).
    pub(crate) async fn require_creator_or_manager(
        &self,
        s: &Services,
        action: Action,
        r: &crate::db::Recording,
    ) -> DomainResult<()> {
        if r.created_by == self.user { Ok(()) } else { self.require_manager(s, action, &r.id).await }
    }

    /// Refuses (and records) an action only an owner may take.
    pub(crate) async fn require_owner(
        &self,
        s: &Services,
        action: Action,
        target: &str,
        what: &'static str,
    ) -> DomainResult<()> {
        if self.role == Role::Owner {
            return Ok(());
        }
        Err(self.refuse(s, action, target, DomainError::forbidden(what)).await)
    }

    /// Records an attempt on an id that is not this family's, and answers not found.
    pub(crate) async fn not_found(&self, s: &Services, action: Action, target: &str) -> DomainError {
        match self.audit(s, action, target, Outcome::Denied, json!({ "reason": "not found in this family" })).await {
            Ok(()) => DomainError::NotFound,
            Err(e) => e,
        }
    }
}

/// Writes a refusal's audit row, unless this caller or address has written its
/// budget of refusal rows this minute (the request is refused all the same).
pub(super) async fn record_refusal(
    s: &Services,
    who: &Identity,
    event: &Event,
    meta: &RequestMeta,
) -> DomainResult<()> {
    record_as(s, &who.issuer, &who.subject, event, meta).await
}

/// Writes `event`, an action of (`issuer`, `user`); a refusal only within the caller's
/// and the address's budget of refusal rows this minute, so that refused requests
/// cannot flood a log.
pub(super) async fn record_as(
    s: &Services,
    issuer: &str,
    user: &str,
    event: &Event,
    meta: &RequestMeta,
) -> DomainResult<()> {
    if event.outcome == Outcome::Denied && !s.limits.allow_denial_row(&format!("{issuer} {user}"), &meta.ip) {
        tracing::debug!(action = event.action.as_str(), "refusal not recorded: over the refusal-row budget");
        return Ok(());
    }
    Ok(s.audit.record(event, meta).await?)
}
