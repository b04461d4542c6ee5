//! The Vault service and the `vault` command-line tool.
//!
//! # The house
//!
//! ```text
//! cli ──▶ http ──▶ domain ──▶ db, keys, store, auth, signing ──▶ vault-core
//!  │                 ▲
//!  └─────────────────┘   operator commands call the domain, never HTTP state
//! api: the wire types, used by http, client and the OpenAPI document
//! ```
//!
//! - `api`: one definition of every request and answer body (serde + utoipa).
//! - `domain`: the rules (tenancy, uploads, playback, export, erasure, scrub,
//!   anchors, replication, background jobs) over `domain::Services`, returning
//!   `domain::DomainError`. No axum, no `ApiError`.
//! - `http`: state, router, middleware, and routes that parse, make one domain call
//!   and map the answer.
//! - `client`: the HTTP client of `vault client`; errors carry status and code.
//! - `cli`: the commands.
//! - `db`, `keys`, `store`: the backends, behind traits where there are two;
//!   database rows are parsed into typed models where they are read.
//!
//! **Direction rules** (checked by `tests/architecture.rs`): `domain` never imports
//! `http` or `cli`; `http` never imports `cli`; a route never imports another route;
//! `api` and `client` import neither sqlx nor the AWS SDKs.
//!
//! A request's path, in three files: `http/router.rs` (which handler) →
//! `http/routes/<resource>.rs` (parse, one domain call) → `domain/<capability>.rs`
//! (the rules, and the calls to `db`, `keys` and `store`).

#![forbid(unsafe_code)]

// Only the command line is this crate's interface (the `vault` binary calls
// `cli::run`); everything else is crate-private, so the compiler reports dead code.

pub(crate) mod api;
pub(crate) mod auth;
pub(crate) mod aws;
pub(crate) mod backends;
pub(crate) mod claims;
pub mod cli;
pub(crate) mod client;
pub(crate) mod clock;
pub(crate) mod config;
pub(crate) mod db;
pub(crate) mod domain;
pub(crate) mod http;
pub(crate) mod keyfile;
pub(crate) mod keys;
pub(crate) mod metrics;
pub(crate) mod signing;
pub(crate) mod store;
pub(crate) mod text;
