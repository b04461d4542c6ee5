//! Members of a family.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::families::Role;

/// `POST /v1/family/members`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Invite {
    /// The identity provider's user id (`sub`), of the inviter's issuer.
    pub user_id: String,
    pub role: Role,
}

/// `PATCH /v1/family/members/{user_id}`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangeRole {
    pub role: Role,
}

/// `PUT /v1/family/members/{user_id}/name`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rename {
    /// How the family calls them ("Grandpa Joe"): 1 to 100 visible characters; empty
    /// clears it.
    pub name: String,
}

/// A member: an identity of one issuer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct MemberView {
    pub issuer: String,
    pub user_id: String,
    pub role: Role,
    /// Unix milliseconds.
    pub added_at: i64,
    pub added_by: String,
    /// The name the family knows them by (given in their invitation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}
