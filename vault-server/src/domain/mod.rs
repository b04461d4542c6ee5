//! The service's rules, with no HTTP in them: what a member may do, how uploads are
//! verified and committed, playback and its audit, exports, erasure, and the
//! background jobs. Each capability is one module of functions over [`Services`]
//! that take the caller ([`Member`]) and return a [`DomainError`]; the HTTP routes
//! and the operator commands both call them. This module never imports
//! `crate::http`, `crate::cli` or axum (`tests/architecture.rs` checks).

pub mod anchors;
pub mod audit;
pub mod erasure;
mod error;
pub mod export;
pub mod families;
pub mod jobs;
pub mod limits;
pub mod media_type;
mod member;
pub mod members;
pub mod playback;
pub mod ranges;
pub mod reads;
pub mod receiving;
pub mod recordings;
pub mod replication;
pub mod scrub;
mod services;
pub mod uploads;

pub use error::{DomainError, DomainResult};
pub use member::Member;
pub use services::Services;
