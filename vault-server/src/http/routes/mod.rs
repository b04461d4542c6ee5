//! Request handlers, one file per resource: each parses, makes one domain call and
//! maps the answer. `super::router` lists every route; none imports another.

pub mod audit;
pub mod export;
pub mod families;
pub mod health;
pub mod members;
pub mod playback;
pub mod recordings;
pub mod uploads;
pub mod web;
