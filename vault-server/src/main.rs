//! The `vault` binary: see `vault --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    match vault_server::cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line, the whole cause chain, never a key or plaintext (errors are built without them).
            eprintln!("vault: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
