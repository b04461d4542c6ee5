//! Studio deliveries and the hand-off.
//!
//! A studio's staff member starts a delivery for a customer: Vault makes a new family
//! vault with its own customer key and no members, and the studio is its
//! **contributor**: with the header `x-vault-delivery` its staff may create, upload,
//! describe and list recordings there (the page encrypts them as every upload is),
//! and see only what the studio uploaded; nothing else of the family is reachable
//! (members, audit, export, sharing, playback: those routes do not admit a
//! contributor at all). The studio then invites the parents; the parent who accepts
//! owns the family. At the **hand-off** (the acceptance, or the later date the studio
//! set) the studio's access ends, with rows in both logs. An invitation that expires
//! unaccepted is noted in the studio's log and on its page; the studio may send a new
//! one until its policy's days have passed, then the family is erased (with the usual
//! signed receipt).
//!
//! Parents who already have a vault may instead invite the studio into it
//! (`super::studio_invitations`): the delivery then starts accepted, in the family's
//! own vault and key, and the studio contributes until its hand-off date (7 days by
//! default) or until an owner or admin ends its access. Such a delivery is never the
//! studio's to erase, and no retention policy of the studio reaches it.

use serde_json::json;

use super::audit::{Action, Event, Outcome, RequestMeta};
use super::member::Contributor;
use super::studios::StaffMember;
use super::{DomainError, DomainResult, Member, Services};
use crate::api::ErrorCode;
use crate::api::studios::DeliveryState;
use crate::auth::Identity;
use crate::db::{Delivery, InvitedDelivery, NewDelivery, Redemption, Role, StudioInvitation, now_ms};
use crate::signing::Envelope;

const DAY_MS: i64 = 86_400_000;
/// Days a parents' invitation works by default, and at most.
const DEFAULT_DAYS: u32 = 14;
const MAX_DAYS: u32 = 30;
/// The latest hand-off date a studio may set, in days from the delivery's start.
const MAX_CONTRIBUTE_DAYS: i64 = 30;
/// The hand-off date of a delivery into a family's own vault, unless the studio sets one.
const DEFAULT_CONTRIBUTE_DAYS: i64 = 7;

/// Where `d` is in its life at `now`.
pub(crate) fn state(d: &Delivery, now: i64) -> DeliveryState {
    if d.erased_at.is_some() {
        DeliveryState::Erased
    } else if handed_off_at(d, now).is_some() {
        DeliveryState::HandedOff
    } else if d.accepted_at.is_some() {
        DeliveryState::Accepted
    } else if d.expired_at.is_some() || d.invited_until.is_some_and(|until| until <= now) {
        DeliveryState::Expired
    } else if d.invitation_id.is_some() {
        DeliveryState::Invited
    } else {
        DeliveryState::Uploading
    }
}

/// When the studio's access to `d` ended, as of `now`. The deliveries job records a
/// hand-off once its date has come (at once when there is none); until it runs the
/// access has ended all the same, and the views say so.
pub(crate) fn handed_off_at(d: &Delivery, now: i64) -> Option<i64> {
    d.handed_off_at.or(match (d.accepted_at, d.erased_at, d.contribute_until) {
        (Some(accepted), None, None) => Some(accepted),
        (Some(_), None, Some(until)) if until <= now => Some(until),
        _ => None,
    })
}

/// The customer's name as given, trimmed, if it is one.
fn customer_name(customer: &str) -> DomainResult<&str> {
    let customer = customer.trim();
    if !crate::text::is_visible_text(customer, 100) {
        return Err(DomainError::invalid("customer must be 1 to 100 visible characters, such as Ana and Luis García"));
    }
    Ok(customer)
}

/// A hand-off date a studio may set at `now`: not past, at most 30 days ahead.
fn check_hand_off(until: i64, now: i64) -> DomainResult<()> {
    if !(now..=now + MAX_CONTRIBUTE_DAYS * DAY_MS).contains(&until) {
        return Err(DomainError::invalid("contribute_until must be within the next 30 days"));
    }
    Ok(())
}

/// Starts a delivery for `customer`: a new family vault with its own key.
pub(crate) async fn create(
    s: &Services,
    st: &StaffMember,
    customer: &str,
    family_name: Option<&str>,
    contribute_until: Option<i64>,
) -> DomainResult<Delivery> {
    const ACTION: Action = Action::DeliveryCreated;
    let customer = customer_name(customer)?;
    let family_name = family_name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or(customer);
    if !crate::text::is_visible_text(family_name, 200) {
        return Err(DomainError::invalid("family_name must be 1 to 200 visible characters"));
    }
    if let Some(until) = contribute_until {
        check_hand_off(until, now_ms())?;
    }
    let id = uuid::Uuid::new_v4().to_string();
    // Vault's own id for a family no identity provider organisation named.
    let family_id = format!("delivery-{}", uuid::Uuid::new_v4().simple());
    let key = s.keys.create_family_key(&family_id).await?;
    s.db.create_delivery(&NewDelivery {
        id: &id,
        studio_id: &st.studio.id,
        family_id: &family_id,
        family_name,
        key_id: &key.0,
        customer,
        created_by: &st.user,
        contribute_until,
    })
    .await?;
    let d = s.db.delivery(&st.studio.id, &id).await?.ok_or_else(|| DomainError::internal("delivery vanished"))?;
    st.audit(s, ACTION, &id, Outcome::Success, json!({ "customer": customer, "family": family_id })).await?;
    let family_row = json!({ "studio": st.studio.id, "studio_name": st.studio.name, "key_id": key.0 });
    record(s, Log::Family, &d, &st.user, ACTION, family_row, &st.meta).await?;
    Ok(d)
}

/// Starts a delivery into the family's own vault, with the family's invitation whose
/// secret the studio's staff member holds; the hand-off is `contribute_until` (7 days
/// from now by default, 30 at most).
pub(crate) async fn create_in_family(
    s: &Services,
    st: &StaffMember,
    secret: &str,
    customer: &str,
    contribute_until: Option<i64>,
) -> DomainResult<Delivery> {
    const ACTION: Action = Action::DeliveryCreated;
    if !super::invitations::looks_like_secret(secret) {
        return Err(DomainError::invalid("family_invitation is not a family's invitation: copy the whole link"));
    }
    let customer = customer_name(customer)?;
    let now = now_ms();
    let until = contribute_until.unwrap_or(now + DEFAULT_CONTRIBUTE_DAYS * DAY_MS);
    check_hand_off(until, now)?;
    let id = uuid::Uuid::new_v4().to_string();
    let new =
        InvitedDelivery { id: &id, studio_id: &st.studio.id, customer, created_by: &st.user, contribute_until: until };
    let gone = |detail: &'static str| DomainError::Gone { code: ErrorCode::Expired, detail: detail.into() };
    let (d, invitation) = match s.db.redeem_studio_invitation(&super::secret_digest(secret), &new).await? {
        Redemption::Started(d, invitation) => (*d, invitation),
        Redemption::NoSuchInvitation => {
            // A guess: within the address's budget, as for members' invitations.
            if !s.limits.allow_auth_failure(&st.meta.ip) {
                return Err(DomainError::RateLimited);
            }
            return Err(st.refuse(s, ACTION, "", DomainError::NotFound).await);
        }
        Redemption::Spent(invitation) => {
            let refusal = gone("this invitation was used, withdrawn or has expired: ask the family for a new one");
            return Err(refused_in_family(s, st, &invitation, refusal).await);
        }
        Redemption::Withdrawn(invitation) => {
            let refusal = gone("whoever made this invitation can no longer invite: ask the family for a new one");
            return Err(refused_in_family(s, st, &invitation, refusal).await);
        }
    };
    let metadata = json!({ "customer": customer, "family": d.family_id, "into_family_vault": true,
        "contribute_until": until });
    st.audit(s, ACTION, &id, Outcome::Success, metadata).await?;
    let family_row = json!({ "studio": st.studio.id, "studio_name": st.studio.name, "invitation": invitation.id,
        "invited_as": invitation.name, "contribute_until": until });
    record(s, Log::Family, &d, &st.user, ACTION, family_row, &st.meta).await?;
    Ok(d)
}

/// A refused use of a family's invitation, in both logs: the family learns that its
/// link was tried (a sign that it leaked), the studio that it was refused.
async fn refused_in_family(
    s: &Services,
    st: &StaffMember,
    invitation: &StudioInvitation,
    refusal: DomainError,
) -> DomainError {
    const ACTION: Action = Action::DeliveryCreated;
    let event = Event {
        tenant: invitation.family_id.clone(),
        actor: st.user.clone(),
        action: ACTION,
        target: invitation.id.clone(),
        outcome: Outcome::Denied,
        metadata: json!({ "studio": st.studio.id, "studio_name": st.studio.name, "reason": refusal.to_string() }),
    };
    if let Err(e) = s.audit.record(&event, &st.meta).await {
        return e.into();
    }
    st.refuse(s, ACTION, &invitation.id, refusal).await
}

/// The deliveries into the member's family, newest first, with each studio's name and
/// count of delivered recordings (owners and admins).
pub(crate) async fn in_family(s: &Services, m: &Member) -> DomainResult<Vec<(Delivery, String, u64)>> {
    m.require_manager(s, Action::AuditRead, "deliveries").await?;
    Ok(s.db.family_deliveries(&m.family.id).await?)
}

/// Ends a studio's access to the member's family now, before its hand-off date
/// (owners and admins): rows in both logs.
pub(crate) async fn end_by_family(s: &Services, m: &Member, id: &str) -> DomainResult<()> {
    const ACTION: Action = Action::DeliveryHandedOff;
    m.require_manager(s, ACTION, id).await?;
    let Some(d) = s.db.family_delivery(&m.family.id, id).await? else {
        return Err(m.not_found(s, ACTION, id).await);
    };
    if d.accepted_at.is_none() {
        // Not the family's yet: its parents' invitation is what hands it over.
        return Err(m.refuse(s, ACTION, id, DomainError::conflict("this delivery was not accepted yet")).await);
    }
    let now = now_ms();
    // Its date came (the job records that hand-off): the family did not end it.
    if handed_off_at(&d, now).is_some() || !s.db.end_family_delivery(&m.family.id, id, now).await? {
        return Err(DomainError::conflict("the studio's access to this delivery has ended already"));
    }
    handed_off(s, &d, &m.user, "the family ended it", &m.meta).await
}

/// The studio's deliveries, newest first, each with its delivered recordings' count.
pub(crate) async fn list(s: &Services, st: &StaffMember) -> DomainResult<Vec<(Delivery, u64)>> {
    Ok(s.db.deliveries(&st.studio.id).await?)
}

/// A delivery of the caller's studio, or the miss recorded under `action`.
async fn find(s: &Services, st: &StaffMember, id: &str, action: Action) -> DomainResult<Delivery> {
    match s.db.delivery(&st.studio.id, id).await? {
        Some(d) => Ok(d),
        None => Err(st.refuse(s, action, id, DomainError::NotFound).await),
    }
}

/// Sends the parents' invitation (a new one withdraws the last): answers the delivery
/// and the link's secret, shown once.
pub(crate) async fn invite(
    s: &Services,
    st: &StaffMember,
    id: &str,
    days: Option<u32>,
) -> DomainResult<(Delivery, zeroize::Zeroizing<String>)> {
    const ACTION: Action = Action::DeliveryInvited;
    let d = find(s, st, id, ACTION).await?;
    if !d.open() || d.accepted_at.is_some() {
        return Err(DomainError::conflict("the parents accepted this delivery already (or it was erased)"));
    }
    let days = days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(DomainError::invalid("an invitation works for 1 to 30 days"));
    }
    let (invitation, secret) = super::invitations::mint(&d.family_id, Role::Owner, &d.customer, &st.user, days);
    if !s.db.set_delivery_invitation(&d, &invitation, &super::secret_digest(&secret)).await? {
        return Err(DomainError::conflict("the delivery changed meanwhile; reload and try again"));
    }
    let metadata = json!({ "invitation": invitation.id, "expires_at": invitation.expires_at,
        "again": d.invitation_id.is_some() });
    st.audit(s, ACTION, &d.id, Outcome::Success, metadata.clone()).await?;
    record(s, Log::Family, &d, &st.user, ACTION, metadata, &st.meta).await?;
    let d = s.db.delivery(&st.studio.id, id).await?.ok_or_else(|| DomainError::internal("delivery vanished"))?;
    Ok((d, secret))
}

/// Erases a delivery that was not handed off, on the studio's request (admins):
/// the family's key is destroyed, as for any family's erasure. Answers the receipt.
pub(crate) async fn erase(s: &Services, st: &StaffMember, id: &str) -> DomainResult<Envelope> {
    const ACTION: Action = Action::DeliveryErased;
    st.require_admin(s, ACTION, id).await?;
    let d = find(s, st, id, ACTION).await?;
    // Once a parent accepted, the vault is the family's, whatever the hand-off date.
    let refused =
        || DomainError::conflict("the parents accepted this delivery (or it was erased): it is not the studio's");
    if !d.open() || d.accepted_at.is_some() {
        return Err(refused());
    }
    if !s.db.claim_delivery_erasure(&d.id, now_ms(), false).await? {
        return Err(refused());
    }
    let receipt = super::erasure::erase_family(s, &d.family_id, &st.user, &st.meta).await?;
    let metadata = json!({ "family": d.family_id, "receipt": receipt_id(&receipt), "why": "the studio's request" });
    st.audit(s, ACTION, &d.id, Outcome::Success, metadata).await?;
    Ok(receipt)
}

/// The contributor for delivery `id` of the studio `identity`'s token names: a
/// [`Member`] of the delivery's family that sees only its studio's recordings.
pub(crate) async fn contributor(
    s: &Services,
    identity: Identity,
    meta: RequestMeta,
    id: &str,
    target: &str,
) -> DomainResult<Member> {
    let st = StaffMember::resolve(s, identity, meta, target).await?;
    let d = find(s, &st, id, Action::AuthzDenied).await?;
    // The hand-off date ends access on the dot, not when the job next runs; and a studio
    // let in by a family's invitation is only as welcome as whoever invited it.
    let past_date = d.accepted_at.is_some() && d.contribute_until.is_some_and(|until| until <= now_ms());
    let uninvited = match &d.studio_invitation_id {
        Some(invitation) => !s.db.studio_invitation_maker_may(invitation).await?,
        None => false,
    };
    if !d.open() || past_date || uninvited {
        let detail = if d.erased_at.is_some() {
            "this delivery was erased"
        } else if uninvited {
            "the family member who invited the studio can no longer invite: the studio's access has ended"
        } else {
            "this delivery was handed off: the family owns it now, and the studio's access has ended"
        };
        let refusal = DomainError::Gone { code: ErrorCode::Expired, detail: detail.into() };
        return Err(st.refuse(s, Action::AuthzDenied, target, refusal).await);
    }
    let family = s.db.family(&d.family_id).await?.filter(|f| f.erased_at.is_none()).ok_or(DomainError::NotFound)?;
    Ok(Member {
        issuer: st.issuer,
        user: st.user,
        session: st.session,
        family,
        role: Role::Member,
        meta: st.meta,
        // In the family's own vault the studio may still discard what it uploaded while
        // its access lasts; in a vault it made, not once the parents accepted it.
        studio: Some(Contributor {
            studio: st.studio.id,
            delivery: d.id,
            accepted: d.accepted_at.is_some() && d.studio_invitation_id.is_none(),
        }),
    })
}

/// After a parent accepted a delivery's invitation (`d` as it stands now): rows in
/// both logs, and the hand-off's if it happened with the acceptance.
pub(crate) async fn accepted(s: &Services, d: &Delivery, identity: &Identity, meta: &RequestMeta) -> DomainResult<()> {
    let metadata = json!({ "delivery": d.id, "customer": d.customer, "family": d.family_id });
    record(s, Log::Studio, d, &identity.subject, Action::DeliveryAccepted, metadata.clone(), meta).await?;
    record(s, Log::Family, d, &identity.subject, Action::DeliveryAccepted, json!({ "studio": d.studio_id }), meta)
        .await?;
    if d.handed_off_at.is_some() {
        handed_off(s, d, &identity.subject, "accepted", meta).await?;
    }
    Ok(())
}

/// The rows of a hand-off, in both logs.
async fn handed_off(s: &Services, d: &Delivery, actor: &str, why: &str, meta: &RequestMeta) -> DomainResult<()> {
    let metadata = json!({ "studio": d.studio_id, "family": d.family_id, "why": why });
    record(s, Log::Studio, d, actor, Action::DeliveryHandedOff, metadata.clone(), meta).await?;
    record(s, Log::Family, d, actor, Action::DeliveryHandedOff, metadata, meta).await
}

/// Which log a delivery's row goes to: the family's or the studio's.
#[derive(Debug, Clone, Copy)]
enum Log {
    Family,
    Studio,
}

/// A successful row about delivery `d` in one of its two logs.
async fn record(
    s: &Services,
    log: Log,
    d: &Delivery,
    actor: &str,
    action: Action,
    metadata: serde_json::Value,
    meta: &RequestMeta,
) -> DomainResult<()> {
    let tenant = match log {
        Log::Family => &d.family_id,
        Log::Studio => &d.studio_id,
    };
    let event = Event {
        tenant: tenant.clone(),
        actor: actor.to_owned(),
        action,
        target: d.id.clone(),
        outcome: Outcome::Success,
        metadata,
    };
    Ok(s.audit.record(&event, meta).await?)
}

/// The id of a signed erasure receipt (its payload is the receipt as JSON text).
fn receipt_id(receipt: &Envelope) -> Option<String> {
    let payload: serde_json::Value = serde_json::from_str(&receipt.payload).ok()?;
    payload.get("receipt_id")?.as_str().map(str::to_owned)
}

/// Records the hand-off of `d`, accepted and due at `now`, on its date (the one the
/// views showed since): false if it was recorded already.
async fn hand_off_on_its_date(s: &Services, d: &Delivery, now: i64) -> anyhow::Result<bool> {
    let on = handed_off_at(d, now).unwrap_or(now);
    if !s.db.hand_off(&d.id, on).await? {
        return Ok(false);
    }
    handed_off(s, d, super::audit::SYSTEM_ACTOR, "the studio's date", &RequestMeta::default()).await?;
    Ok(true)
}

/// Before a family is erased: the hand-offs whose date came and that the job has not
/// recorded yet, so that the erasure reaches only deliveries still the studio's (an
/// erasure after its hand-off is not the studio's business).
pub(crate) async fn hand_off_due_in_family(s: &Services, family_id: &str, now: i64) -> anyhow::Result<()> {
    for (d, _, _) in s.db.family_deliveries(family_id).await? {
        if d.handed_off_at.is_none() && handed_off_at(&d, now).is_some() {
            hand_off_on_its_date(s, &d, now).await?;
        }
    }
    Ok(())
}

/// The deliveries job: hands off accepted deliveries whose date came, tells studios
/// of invitations that expired unaccepted, and erases deliveries their studio's
/// policy no longer keeps. Answers how many deliveries it changed.
pub(crate) async fn run(s: &Services, now: i64) -> anyhow::Result<usize> {
    let system = RequestMeta::default();
    let mut changed = 0;
    for d in s.db.deliveries_to_hand_off(now).await? {
        changed += usize::from(hand_off_on_its_date(s, &d, now).await?);
    }
    for d in s.db.newly_expired_deliveries(now).await? {
        if s.db.mark_delivery_expired(&d, now).await? {
            let metadata = json!({ "customer": d.customer, "invitation": d.invitation_id, "expired": d.invited_until });
            s.audit.system(&d.studio_id, Action::DeliveryExpired, &d.id, Outcome::Success, metadata).await?;
            changed += 1;
        }
    }
    for d in s.db.unclaimed_deliveries(now).await? {
        // Claimed first: a parent accepting at this moment either wins or is refused.
        if d.erased_at.is_none() && !s.db.claim_delivery_erasure(&d.id, now, true).await? {
            continue;
        }
        let receipt = super::erasure::erase_family(s, &d.family_id, super::audit::SYSTEM_ACTOR, &system).await?;
        let metadata = json!({ "family": d.family_id, "receipt": receipt_id(&receipt),
            "why": "unclaimed: the studio's retention policy" });
        s.audit.system(&d.studio_id, Action::DeliveryErased, &d.id, Outcome::Success, metadata).await?;
        changed += 1;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(contribute_until: Option<i64>) -> Delivery {
        Delivery {
            id: "d".into(),
            studio_id: "s".into(),
            family_id: "f".into(),
            customer: "c".into(),
            created_by: "u".into(),
            created_at: 1,
            invitation_id: None,
            invited_until: None,
            contribute_until,
            accepted_at: Some(10),
            handed_off_at: None,
            expired_at: None,
            erased_at: None,
            studio_invitation_id: None,
        }
    }

    #[test]
    fn a_passed_hand_off_date_shows_as_handed_off_before_the_job_records_it() {
        let d = accepted(Some(1_000));
        assert_eq!((state(&d, 999), handed_off_at(&d, 999)), (DeliveryState::Accepted, None));
        assert_eq!((state(&d, 1_000), handed_off_at(&d, 1_000)), (DeliveryState::HandedOff, Some(1_000)));
        // No date: handed off on acceptance.
        assert_eq!(handed_off_at(&accepted(None), 11), Some(10));
        // What the job recorded wins; an erased delivery stays erased.
        let recorded = Delivery { handed_off_at: Some(1_200), ..d.clone() };
        assert_eq!(handed_off_at(&recorded, 5_000), Some(1_200));
        let erased = Delivery { erased_at: Some(1_100), ..d };
        assert_eq!((state(&erased, 5_000), handed_off_at(&erased, 5_000)), (DeliveryState::Erased, None));
    }
}
