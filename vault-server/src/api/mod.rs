//! The wire types: one definition of every request and answer body, used by the
//! routes (`crate::http`), the client (`crate::client`) and the OpenAPI document
//! (derived from these types with utoipa). Serialisation only: no database, no AWS,
//! no rules (the direction test in `tests/architecture.rs` keeps it so).

pub(crate) mod audit;
pub(crate) mod export;
pub(crate) mod families;
pub(crate) mod invitations;
pub(crate) mod members;
pub(crate) mod playback;
pub(crate) mod problem;
pub(crate) mod recordings;
pub(crate) mod session;
pub(crate) mod share_links;
pub(crate) mod studios;
pub(crate) mod uploads;

pub(crate) use problem::{ErrorCode, Problem};
