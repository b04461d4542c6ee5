//! The harness of Vault's cross-crate tests: a real `vault serve` on 127.0.0.1 on
//! either backend ([`Server`], [`Backend`]), one user's view of its API ([`Api`]),
//! messages made and read as a client would ([`messages`]), the stored copies reached
//! behind the server's back ([`copies`]), export archives opened with strangers'
//! tools ([`export`]), and the stand-ins the tests start themselves: a test identity
//! provider ([`idp`]), moto and PostgreSQL ([`aws`]), fault-injecting proxies.
//!
//! A test of the service is written once and run on both backends with
//! [`per_backend!`].

pub mod api;
pub mod aws;
pub mod copies;
pub mod export;
pub mod fault_proxy;
pub mod haproxy;
pub mod idp;
pub mod messages;
pub mod openapi;
pub mod server;
pub mod tcp_proxy;
pub mod trickle;
pub mod workspace;

pub use api::{Api, status};
pub use copies::{Region, wait_replicated};
pub use export::{decrypt_export, run_decrypt_py, unpack_export};
pub use messages::{decrypt_all, encrypt_for, encrypt_with, header_len, media, plan_of, split_parts};
pub use server::{Backend, Server, client, now, rss_kib, sql};
pub use trickle::trickle;
pub use workspace::{KillOnDrop, pieces, shared_dir, vault_bin, workspace};

/// Runs each named test, `fn name(backend: Backend)`, once per backend: as
/// `embedded::name` and `aws::name` (PostgreSQL, KMS and S3 in two regions; needs the
/// services `scripts/test` starts).
#[macro_export]
macro_rules! per_backend {
    ($($name:ident),+ $(,)?) => {
        mod on_embedded {
            $(#[test] fn $name() { super::$name($crate::Backend::Embedded) })+
        }
        mod on_aws {
            $(#[test] fn $name() { super::$name($crate::Backend::Aws) })+
        }
    };
}
