//! Request handlers, one file per resource. `crate::router` lists every route.

pub mod audit;
pub mod export;
pub mod families;
pub mod health;
pub mod members;
pub mod playback;
pub mod recordings;
pub mod uploads;
pub mod web;
