//! Request handlers, one file per resource: each parses, makes one domain call and
//! maps the answer. `super::router` lists every route; none imports another.

pub(crate) mod audit;
pub(crate) mod export;
pub(crate) mod families;
pub(crate) mod family_studios;
pub(crate) mod health;
pub(crate) mod invitations;
pub(crate) mod library;
pub(crate) mod members;
pub(crate) mod playback;
pub(crate) mod recordings;
pub(crate) mod share_links;
pub(crate) mod studios;
pub(crate) mod trash;
pub(crate) mod uploads;
pub(crate) mod web;
