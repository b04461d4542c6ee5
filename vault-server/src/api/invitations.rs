//! Invitation links: made by owners and admins, accepted by a relative after signing in.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use super::families::Role;

/// `POST /v1/family/invitations`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateInvitation {
    /// Who it is for, as the family calls them ("Grandpa Joe"): 1 to 100 visible characters.
    pub name: String,
    pub role: Role,
    /// Days the link works, 1 to 30 (default 7).
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// Where an invitation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum InvitationState {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

/// An invitation, without its secret.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct InvitationView {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub state: InvitationState,
    pub created_by: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_by: Option<String>,
    pub accepted_at: Option<i64>,
}

/// The answer to `POST /v1/family/invitations`: the link's secret, shown once.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct InvitationCreated {
    pub invitation: InvitationView,
    /// 256 random bits, base64url: the link is `<origin>/#invite=<secret>&family=<family id>`.
    /// Only its SHA-256 is kept.
    #[schema(value_type = String)]
    pub secret: Zeroizing<String>,
    /// The family the link joins.
    pub family_id: String,
}

impl std::fmt::Debug for InvitationCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvitationCreated").field("invitation", &self.invitation).finish_non_exhaustive()
    }
}

/// `POST /v1/invitations/accept`
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AcceptInvitation {
    #[schema(value_type = String)]
    pub secret: Zeroizing<String>,
}

impl std::fmt::Debug for AcceptInvitation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AcceptInvitation { .. }")
    }
}
