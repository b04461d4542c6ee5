//! Request plumbing: who is calling (token, membership, client address) and which
//! host names the service answers to.

pub mod caller;
pub mod client_ip;
pub mod host;
