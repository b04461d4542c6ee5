//! Families (tenants) and roles.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A member's role. Owners and admins manage members; everyone uploads and plays back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }

    /// Owners and admins manage the family.
    pub(crate) fn can_manage(self) -> bool {
        self >= Role::Admin
    }
}

/// `POST /v1/families`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateFamily {
    /// 1 to 200 visible characters.
    pub name: String,
}

/// A family as its member sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct FamilyView {
    pub id: String,
    pub name: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// The caller's role in it.
    pub role: Role,
    /// The family's rules for share links.
    pub sharing: SharingView,
}

/// A family's rules for share links.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub(crate) struct SharingView {
    /// Whether members (not only owners and admins) may make share links.
    pub members_may_share: bool,
    /// The longest a share link may work, in days (1 to 30).
    pub max_link_days: u32,
}

/// `PUT /v1/family/sharing` (owners): the family's rules for share links.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetSharing {
    pub members_may_share: bool,
    /// 1 to 30.
    pub max_link_days: u32,
}

/// `DELETE /v1/family`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EraseFamily {
    /// The family id again, so a stray request cannot erase a family.
    pub confirm: String,
}
