//! The audit log as owners and admins page through it, and its vocabulary.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Every consequential action the audit log records. A refusal is recorded under the
/// action that was refused, with the outcome `denied`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub(crate) enum Action {
    /// A token did not verify (the system chain).
    #[serde(rename = "auth.failed")]
    AuthFailed,
    /// A verified caller is not (or no longer) a member of the family it names.
    #[serde(rename = "authz.denied")]
    AuthzDenied,
    #[serde(rename = "family.created")]
    FamilyCreated,
    #[serde(rename = "family.erased")]
    FamilyErased,
    /// An owner changed who may make share links, or for how long.
    #[serde(rename = "family.sharing_changed")]
    FamilySharingChanged,
    #[serde(rename = "family.export_started")]
    FamilyExportStarted,
    #[serde(rename = "family.exported")]
    FamilyExported,
    #[serde(rename = "member.invited")]
    MemberInvited,
    #[serde(rename = "member.role_changed")]
    MemberRoleChanged,
    #[serde(rename = "member.removed")]
    MemberRemoved,
    #[serde(rename = "member.joined")]
    MemberJoined,
    #[serde(rename = "member.renamed")]
    MemberRenamed,
    #[serde(rename = "invitation.created")]
    InvitationCreated,
    #[serde(rename = "invitation.revoked")]
    InvitationRevoked,
    #[serde(rename = "link.created")]
    LinkCreated,
    #[serde(rename = "link.revoked")]
    LinkRevoked,
    /// Someone opened a share link (no account: the actor is the link).
    #[serde(rename = "link.opened")]
    LinkOpened,
    /// A recording read through a share link (once per opening and recording).
    #[serde(rename = "link.played")]
    LinkPlayed,
    #[serde(rename = "recording.created")]
    RecordingCreated,
    #[serde(rename = "recording.read")]
    RecordingRead,
    #[serde(rename = "recording.committed")]
    RecordingCommitted,
    #[serde(rename = "recording.downloaded")]
    RecordingDownloaded,
    #[serde(rename = "recording.trashed")]
    RecordingTrashed,
    #[serde(rename = "recording.restored")]
    RecordingRestored,
    #[serde(rename = "recording.deleted")]
    RecordingDeleted,
    #[serde(rename = "recording.replicated")]
    RecordingReplicated,
    #[serde(rename = "recording.repaired")]
    RecordingRepaired,
    #[serde(rename = "recording.integrity_failed")]
    RecordingIntegrityFailed,
    #[serde(rename = "recording.purged")]
    RecordingPurged,
    #[serde(rename = "key.released")]
    KeyReleased,
    #[serde(rename = "library.key_released")]
    LibraryKeyReleased,
    #[serde(rename = "recording.details_set")]
    RecordingDetailsSet,
    #[serde(rename = "recording.poster_set")]
    RecordingPosterSet,
    #[serde(rename = "upload.status_read")]
    UploadStatusRead,
    #[serde(rename = "upload.part_stored")]
    UploadPartStored,
    #[serde(rename = "upload.plaintext_sent")]
    UploadPlaintextSent,
    #[serde(rename = "upload.expired")]
    UploadExpired,
    #[serde(rename = "audit.read")]
    AuditRead,
    #[serde(rename = "scrub.completed")]
    ScrubCompleted,
    #[serde(rename = "studio.created")]
    StudioCreated,
    /// An admin downloaded the studio's records.
    #[serde(rename = "studio.exported")]
    StudioExported,
    /// An admin deleted the studio's records (staff, customers' names).
    #[serde(rename = "studio.erased")]
    StudioErased,
    /// An admin changed how long unclaimed deliveries are kept.
    #[serde(rename = "studio.policy_changed")]
    StudioPolicyChanged,
    /// An owner or admin invited a studio to deliver into the family's vault.
    #[serde(rename = "studio.invited")]
    StudioInvited,
    #[serde(rename = "studio.invitation_revoked")]
    StudioInvitationRevoked,
    #[serde(rename = "staff.added")]
    StaffAdded,
    #[serde(rename = "staff.removed")]
    StaffRemoved,
    /// A studio made a family vault for a customer, or started delivering into a
    /// family's own vault with its invitation (both logs).
    #[serde(rename = "delivery.created")]
    DeliveryCreated,
    /// The parents' invitation was sent or sent again.
    #[serde(rename = "delivery.invited")]
    DeliveryInvited,
    /// A parent accepted a studio's delivery and owns the family (both logs).
    #[serde(rename = "delivery.accepted")]
    DeliveryAccepted,
    /// A studio's access to a delivery ended (both logs).
    #[serde(rename = "delivery.handed_off")]
    DeliveryHandedOff,
    /// A delivery's invitation expired unaccepted (the studio's log).
    #[serde(rename = "delivery.invitation_expired")]
    DeliveryExpired,
    /// A delivery erased before its hand-off (both logs).
    #[serde(rename = "delivery.erased")]
    DeliveryErased,
}

impl Action {
    /// The name stored in the log (and hashed into its chain).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::AuthFailed => "auth.failed",
            Self::AuthzDenied => "authz.denied",
            Self::FamilyCreated => "family.created",
            Self::FamilyErased => "family.erased",
            Self::FamilySharingChanged => "family.sharing_changed",
            Self::FamilyExportStarted => "family.export_started",
            Self::FamilyExported => "family.exported",
            Self::MemberInvited => "member.invited",
            Self::MemberRoleChanged => "member.role_changed",
            Self::MemberRemoved => "member.removed",
            Self::MemberJoined => "member.joined",
            Self::MemberRenamed => "member.renamed",
            Self::InvitationCreated => "invitation.created",
            Self::InvitationRevoked => "invitation.revoked",
            Self::LinkCreated => "link.created",
            Self::LinkRevoked => "link.revoked",
            Self::LinkOpened => "link.opened",
            Self::LinkPlayed => "link.played",
            Self::RecordingCreated => "recording.created",
            Self::RecordingRead => "recording.read",
            Self::RecordingCommitted => "recording.committed",
            Self::RecordingDownloaded => "recording.downloaded",
            Self::RecordingTrashed => "recording.trashed",
            Self::RecordingRestored => "recording.restored",
            Self::RecordingDeleted => "recording.deleted",
            Self::RecordingReplicated => "recording.replicated",
            Self::RecordingRepaired => "recording.repaired",
            Self::RecordingIntegrityFailed => "recording.integrity_failed",
            Self::RecordingPurged => "recording.purged",
            Self::KeyReleased => "key.released",
            Self::LibraryKeyReleased => "library.key_released",
            Self::RecordingDetailsSet => "recording.details_set",
            Self::RecordingPosterSet => "recording.poster_set",
            Self::UploadStatusRead => "upload.status_read",
            Self::UploadPartStored => "upload.part_stored",
            Self::UploadPlaintextSent => "upload.plaintext_sent",
            Self::UploadExpired => "upload.expired",
            Self::AuditRead => "audit.read",
            Self::ScrubCompleted => "scrub.completed",
            Self::StudioCreated => "studio.created",
            Self::StudioExported => "studio.exported",
            Self::StudioErased => "studio.erased",
            Self::StudioPolicyChanged => "studio.policy_changed",
            Self::StudioInvited => "studio.invited",
            Self::StudioInvitationRevoked => "studio.invitation_revoked",
            Self::StaffAdded => "staff.added",
            Self::StaffRemoved => "staff.removed",
            Self::DeliveryCreated => "delivery.created",
            Self::DeliveryInvited => "delivery.invited",
            Self::DeliveryAccepted => "delivery.accepted",
            Self::DeliveryHandedOff => "delivery.handed_off",
            Self::DeliveryExpired => "delivery.invitation_expired",
            Self::DeliveryErased => "delivery.erased",
        }
    }
}

/// How an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Outcome {
    Success,
    Denied,
    Failed,
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Failed => "failed",
        }
    }
}

/// `GET /v1/family/audit?before&limit`
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// Rows with a sequence number below this (the previous page's `next_before`).
    pub before: Option<i64>,
    /// 1 to 500 (default 100).
    pub limit: Option<u32>,
}

/// One row of a family's chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub(crate) struct AuditEntry {
    pub tenant: String,
    pub seq: i64,
    /// Unix milliseconds.
    pub at: i64,
    pub actor: String,
    /// An [`Action`]'s name.
    pub action: String,
    pub target: String,
    /// An [`Outcome`]'s name.
    pub outcome: String,
    pub ip: String,
    pub user_agent: String,
    pub request_id: String,
    /// JSON text.
    pub metadata: String,
    pub prev_hash: String,
    pub hash: String,
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct AuditPage {
    pub items: Vec<AuditEntry>,
    pub next_before: Option<i64>,
}
