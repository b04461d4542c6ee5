//! Studios: their staff, and deliveries of recordings to their customers' families.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

/// A studio's role: admins manage staff, the retention policy and read the studio's
/// log; staff deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum StaffRole {
    Staff,
    Admin,
}

impl StaffRole {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            StaffRole::Staff => "staff",
            StaffRole::Admin => "admin",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "staff" => Some(StaffRole::Staff),
            "admin" => Some(StaffRole::Admin),
            _ => None,
        }
    }
}

/// `POST /v1/studios`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateStudio {
    /// The studio's name: 1 to 200 visible characters.
    pub name: String,
}

/// `GET /v1/studio`: the studio the caller's token names, and the caller's role there.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct StudioView {
    pub id: String,
    pub name: String,
    pub role: StaffRole,
    /// Days a delivery whose invitation expired unaccepted is kept, then erased.
    pub unclaimed_days: u32,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// `DELETE /v1/studio` (admins): deletes the studio's records.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EraseStudio {
    /// The studio's id, repeated.
    pub confirm: String,
}

/// `PUT /v1/studio/policy` (admins)
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StudioPolicy {
    /// 0 to 365 days; 0 erases a delivery as soon as its invitation expires unaccepted.
    pub unclaimed_days: u32,
}

/// One of the studio's people.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct StaffView {
    pub issuer: String,
    pub user_id: String,
    pub role: StaffRole,
    /// Unix milliseconds.
    pub added_at: i64,
    pub added_by: String,
}

/// `POST /v1/studio/staff` (admins): adds a user of the admin's identity provider.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddStaff {
    pub user_id: String,
    pub role: StaffRole,
}

/// `POST /v1/studio/deliveries`
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateDelivery {
    /// Who the recordings are for, as the studio knows them ("Ana and Luis García").
    pub customer: String,
    /// The family vault's name (default: the customer's name).
    #[serde(default)]
    pub family_name: Option<String>,
    /// Unix milliseconds: the studio may add recordings until then even after the
    /// parents accepted (at most 30 days ahead). Without it the hand-off is the acceptance.
    #[serde(default)]
    pub contribute_until: Option<i64>,
    /// The secret of a family's invitation to the studio (`POST
    /// /v1/family/studio-invitations`): the delivery goes into that family's own vault,
    /// accepted from the start, and `contribute_until` (default 7 days) is its
    /// hand-off; `family_name` does not apply.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub family_invitation: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for CreateDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateDelivery")
            .field("customer", &self.customer)
            .field("family_name", &self.family_name)
            .field("contribute_until", &self.contribute_until)
            .field("family_invitation", &self.family_invitation.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Where a delivery is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum DeliveryState {
    /// Made; the parents are not invited yet.
    Uploading,
    /// The parents' invitation is on its way.
    Invited,
    /// Accepted; the studio may still add until its date.
    Accepted,
    /// The family owns it; the studio's access ended.
    HandedOff,
    /// The invitation expired unaccepted: re-send it, or the studio's policy erases it.
    Expired,
    /// Erased (on the studio's request or by its policy), before any hand-off.
    Erased,
}

/// A delivery, as its studio sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct DeliveryView {
    pub id: String,
    pub customer: String,
    /// The family vault made for the customer (the invitation names it).
    pub family_id: String,
    pub state: DeliveryState,
    /// Committed recordings the studio delivered.
    pub recordings: u64,
    pub created_by: String,
    /// Unix milliseconds, like every time below.
    pub created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invited_until: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contribute_until: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handed_off_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erased_at: Option<i64>,
    /// When the studio's policy erases it, for a delivery whose invitation expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erase_after: Option<i64>,
    /// The family invited the studio into its own vault (no parents' invitation).
    pub into_family_vault: bool,
}

/// A studio's delivery as the family sees it (`GET /v1/family/deliveries`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct FamilyDeliveryView {
    pub id: String,
    pub studio_id: String,
    pub studio_name: String,
    pub state: DeliveryState,
    /// Committed recordings the studio delivered in it.
    pub recordings: u64,
    /// Unix milliseconds, like every time below.
    pub created_at: i64,
    /// The hand-off date, when the studio's access ends by itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contribute_until: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handed_off_at: Option<i64>,
    pub into_family_vault: bool,
}

/// `POST /v1/family/studio-invitations`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateStudioInvitation {
    /// The studio, as the family knows it ("Little Moments Studio").
    pub name: String,
    /// Days the link works, 1 to 30 (default 14).
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// A family's invitation to a studio, without its secret.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct StudioInvitationView {
    pub id: String,
    pub name: String,
    /// `accepted`: a studio started a delivery with it.
    pub state: crate::api::invitations::InvitationState,
    pub created_by: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub expires_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<String>,
}

/// The answer to `POST /v1/family/studio-invitations`: the link's secret, shown once.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct StudioInvitationCreated {
    pub invitation: StudioInvitationView,
    /// 256 random bits, base64url: the studio's link is `<origin>/studio.html#family-invite=<secret>`.
    /// Only its SHA-256 is kept.
    #[schema(value_type = String)]
    pub secret: Zeroizing<String>,
}

impl std::fmt::Debug for StudioInvitationCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StudioInvitationCreated").field("invitation", &self.invitation).finish_non_exhaustive()
    }
}

/// `POST /v1/studio/deliveries/{id}/invitation`: sends (or re-sends) the parents' invitation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct InviteParents {
    /// Days the link works, 1 to 30 (default 14).
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// The parents' invitation: its secret is answered once (only its hash is kept).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct ParentsInvited {
    pub delivery: DeliveryView,
    #[schema(value_type = String)]
    pub secret: Zeroizing<String>,
}
