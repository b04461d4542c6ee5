//! The HTTP API: state, router, middleware, and routes that parse a request, make one
//! domain call and map its answer (`crate::domain` holds the rules). Routes never
//! import other routes; this module never imports `crate::cli`.

pub mod connections;
pub mod error;
pub mod extract;
pub mod middleware;
pub mod openapi;
pub mod router;
pub mod routes;
pub mod secret_json;
pub mod serve;
mod state;
pub mod views;

pub use router::app;
pub use state::AppState;
