//! The Vault service and the `vault` command-line tool.
//!
//! A request's path: `router.rs` (every route) → `routes/<resource>.rs` (the
//! handler, with `middleware/caller.rs` saying who calls) → `db/`, `keys/`,
//! `store/` (the backends behind traits, built in `serve.rs`).

#![forbid(unsafe_code)]

pub mod anchors;
pub mod app;
pub mod audit;
pub mod auth;
pub mod aws;
pub mod backends;
pub mod cli;
pub mod client;
pub mod config;
pub mod connections;
pub mod db;
pub mod erasure;
pub mod error;
pub mod export;
pub mod extract;
pub mod keyfile;
pub mod keys;
pub mod media_type;
pub mod metrics;
pub mod middleware;
pub mod ranges;
pub mod reads;
pub mod receiving;
pub mod replication;
pub mod router;
pub mod routes;
pub mod scrub;
pub mod secret_json;
pub mod serve;
pub mod signing;
pub mod store;
pub mod text;
