//! Request plumbing: who is calling (token, membership, client address) and which
//! host names the service answers to.

pub(crate) mod caller;
pub(crate) mod client_ip;
pub(crate) mod host;
