//! The HTTP API: state, router, middleware, and routes that parse a request, make one
//! domain call and map its answer (`crate::domain` holds the rules). Routes never
//! import other routes; this module never imports `crate::cli`.

pub(crate) mod ciphertext;
pub(crate) mod connections;
pub(crate) mod error;
pub(crate) mod extract;
pub(crate) mod middleware;
pub(crate) mod openapi;
pub(crate) mod router;
pub(crate) mod routes;
pub(crate) mod secret_json;
pub(crate) mod serve;
mod state;
pub(crate) mod views;

#[cfg(test)]
mod tests;

pub(crate) use router::app;
pub(crate) use state::AppState;
