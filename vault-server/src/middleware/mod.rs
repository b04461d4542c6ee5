//! Request plumbing: who is calling (token, membership, client address) and limits.

pub mod caller;
pub mod client_ip;
pub mod host;
pub mod rate_limit;
