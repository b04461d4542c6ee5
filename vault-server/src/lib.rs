//! The Vault service and the `vault` command-line tool.

#![forbid(unsafe_code)]

pub mod cli;
pub mod keyfile;
