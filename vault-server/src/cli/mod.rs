//! Command-line interface. Every command prints only its result on stdout and
//! diagnostics on stderr, so scripts can use it.

mod client;
mod crypt;
mod display;
mod ops;
mod progress;
mod service;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use vault_core::EncryptionContext;

/// Vault: client-side encryption for a family's most private recordings.
#[derive(Debug, Parser)]
#[command(name = "vault", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Encrypt a file into an AWS Encryption SDK message (suite 0x0478) under a raw AES key.
    Encrypt(EncryptArgs),
    /// Decrypt an AWS Encryption SDK message (suite 0x0478) with a raw AES key.
    Decrypt(DecryptArgs),
    /// Run the Vault service (embedded defaults: ./vault-data, 127.0.0.1:8080).
    Serve(service::ServeArgs),
    /// Prepare the configured backends: migrate the database, create or check the
    /// Object Lock buckets, reach KMS. Safe to run again.
    Setup(service::ServeArgs),
    /// Print a token signed by the local development issuer.
    Token(service::TokenArgs),
    /// Audit log tools.
    #[command(subcommand)]
    Audit(service::AuditCommand),
    /// Talk to a Vault server: upload, list, download, manage the family.
    Client(client::ClientArgs),
    /// Check every object in every region against its recorded SHA-256 and repair
    /// damaged copies from healthy ones (resumes an interrupted run).
    Scrub(ops::ScrubArgs),
    /// Write a family's export: every ciphertext, metadata, and a recovery kit that
    /// the official AWS Encryption SDKs open with the printed recovery key.
    Export(ops::ExportArgs),
    /// Erase a family on request: destroy its customer key and every wrapped data
    /// key now; its objects are purged when retention allows.
    EraseFamily(ops::EraseFamilyArgs),
    /// Check the signature of an erasure receipt, scrub report or audit anchor.
    VerifyReceipt(ops::VerifyReceiptArgs),
}

/// The raw AES wrapping key, named as the official SDKs' raw AES keyrings name it.
#[derive(Debug, Args)]
struct KeyArgs {
    /// File holding the 32-byte wrapping key as 64 hex characters.
    #[arg(long)]
    key_file: PathBuf,
    /// Key namespace (the SDKs' provider id).
    #[arg(long)]
    key_namespace: String,
    /// Key name.
    #[arg(long)]
    key_name: String,
}

#[derive(Debug, Args)]
struct IoArgs {
    /// Input file [default: standard input].
    #[arg(short, long)]
    input: Option<PathBuf>,
    /// Output file, written atomically [default: standard output].
    #[arg(short, long)]
    output: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct EncryptArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// Encryption context pair to bind to the message (repeatable).
    #[arg(long = "context", value_name = "KEY=VALUE", value_parser = parse_pair)]
    context: Vec<(String, String)>,
    /// Plaintext bytes per frame (1 to 16 MiB).
    #[arg(long, default_value_t = 65_536, value_parser = clap::value_parser!(u32).range(1..=i64::from(vault_core::MAX_FRAME_LENGTH)))]
    frame_length: u32,
    #[command(flatten)]
    io: IoArgs,
}

#[derive(Debug, Args)]
struct DecryptArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// Encryption context pair the message must carry with this value (repeatable).
    #[arg(long = "context", value_name = "KEY=VALUE", value_parser = parse_pair)]
    context: Vec<(String, String)>,
    #[command(flatten)]
    io: IoArgs,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected KEY=VALUE with a non-empty key, got {s:?}")),
    }
}

fn context(pairs: Vec<(String, String)>) -> EncryptionContext {
    pairs.into_iter().collect()
}

/// Parses the command line and runs the command.
pub fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Encrypt(args) => crypt::encrypt(args),
        Command::Decrypt(args) => crypt::decrypt(args),
        Command::Serve(args) => service::serve(args),
        Command::Setup(args) => service::setup(args),
        Command::Token(args) => service::token(args),
        Command::Audit(command) => service::audit(command),
        Command::Client(args) => client::run(args),
        Command::Scrub(args) => ops::scrub(args),
        Command::Export(args) => ops::export(args),
        Command::EraseFamily(args) => ops::erase_family(args),
        Command::VerifyReceipt(args) => ops::verify_receipt(args),
    }
}
