//! The wire types: one definition of every request and answer body, used by the
//! routes (`crate::http`), the client (`crate::client`) and the OpenAPI document
//! (derived from these types with utoipa). Serialisation only: no database, no AWS,
//! no rules (the direction test in `tests/architecture.rs` keeps it so).

pub mod audit;
pub mod export;
pub mod families;
pub mod members;
pub mod playback;
pub mod problem;
pub mod recordings;
pub mod session;
pub mod uploads;

pub use problem::{ErrorCode, Problem};
