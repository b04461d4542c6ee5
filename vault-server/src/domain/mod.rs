//! The service's rules, with no HTTP in them: what a member may do, how uploads are
//! verified and committed, playback and its audit, exports, erasure, and the
//! background jobs. Each capability is one module of functions over [`Services`]
//! that take the caller ([`Member`]) and return a [`DomainError`]; the HTTP routes
//! and the operator commands both call them. This module never imports
//! `crate::http`, `crate::cli` or axum (`tests/architecture.rs` checks).

pub(crate) mod anchors;
pub(crate) mod audit;
pub(crate) mod deliveries;
pub(crate) mod erasure;
mod error;
pub(crate) mod export;
pub(crate) mod families;
pub(crate) mod health;
pub(crate) mod invitations;
pub(crate) mod jobs;
pub(crate) mod library;
pub(crate) mod limits;
pub(crate) mod media_type;
mod member;
pub(crate) mod members;
pub(crate) mod playback;
pub(crate) mod ranges;
pub(crate) mod reads;
pub(crate) mod receiving;
pub(crate) mod recordings;
pub(crate) mod replication;
pub(crate) mod scrub;
mod services;
pub(crate) mod share_links;
pub(crate) mod studio_invitations;
pub(crate) mod studios;
pub(crate) mod trash;
pub(crate) mod uploads;

pub(crate) use error::{DomainError, DomainResult};
pub(crate) use member::Member;
pub(crate) use services::Services;

/// How a bearer secret (an invitation's, a share link view's) is kept: its SHA-256 in
/// hex, so that a copy of the table opens nothing.
pub(crate) fn secret_digest(secret: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}
