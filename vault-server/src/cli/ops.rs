//! Operator commands: `vault scrub`, `vault export`, `vault erase-family`,
//! `vault verify-receipt`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use super::service::runtime;
use crate::config::Config;
use crate::domain::audit::RequestMeta;
use crate::domain::{erasure, export};
use crate::signing::{Envelope, Signer};

#[derive(Debug, Args)]
pub(super) struct ScrubArgs {
    /// TOML configuration file (also VAULT_CONFIG); environment variables override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Report damage without repairing it.
    #[arg(long)]
    no_repair: bool,
    /// Also write the signed report to this file.
    #[arg(long)]
    report: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct ExportArgs {
    /// The family to export.
    #[arg(long)]
    family: String,
    /// The archive to write (a tar file, written atomically).
    #[arg(short, long)]
    output: PathBuf,
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct EraseFamilyArgs {
    /// The family to erase.
    #[arg(long)]
    family: String,
    /// The family id again: erasure is irreversible.
    #[arg(long)]
    confirm: String,
    /// Who asked (recorded in the audit log and the receipt).
    #[arg(long)]
    requested_by: String,
    /// Also write the signed receipt to this file.
    #[arg(long)]
    receipt: Option<PathBuf>,
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct VerifyReceiptArgs {
    /// The signed document (an erasure receipt, a scrub report, an audit anchor).
    file: PathBuf,
    /// The service's public key, base64 (`GET /v1/signing-key`). Without it, the key
    /// of the configured data directory (the operator's own check).
    #[arg(long)]
    public_key: Option<String>,
    /// Require this kind (e.g. vault.erasure-receipt).
    #[arg(long)]
    kind: Option<String>,
    #[arg(long)]
    config: Option<PathBuf>,
}

/// Runs (or resumes) one integrity scrub; prints the signed report. Fails if any
/// object is left damaged or unverified.
pub(super) fn scrub(args: ScrubArgs) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref())?;
    runtime()?.block_on(async {
        let services = crate::domain::Services::build(config).await?;
        let (report, signed) = crate::domain::scrub::Scrubber::new(&services, !args.no_repair).run().await?;
        let text = serde_json::to_string_pretty(&signed)?;
        if let Some(path) = &args.report {
            std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
        }
        println!("{text}");
        eprintln!(
            "vault scrub: {} checked, {} healthy, {} repaired, {} failed, {} bytes read",
            report.checked, report.healthy, report.repaired, report.failed, report.bytes_read
        );
        if report.failed > 0 {
            bail!("{} recordings are damaged or unverified: see the report's findings", report.failed);
        }
        Ok(())
    })
}

/// Checks a signed document and prints its payload.
pub(super) fn verify_receipt(args: VerifyReceiptArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let envelope: Envelope = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a signed Vault document", args.file.display()))?;
    let key = match args.public_key {
        Some(key) => key,
        None => {
            let config = Config::load(args.config.as_deref())?;
            let path = config.signing_key_path();
            if !path.exists() {
                bail!(
                    "give --public-key (the service's, from GET /v1/signing-key): no signing key at {}",
                    path.display()
                );
            }
            Signer::load_or_create(&path)?.public_key()
        }
    };
    let payload = envelope.verify(Some(&key), args.kind.as_deref())?;
    println!("{}", serde_json::to_string_pretty(&payload)?);
    eprintln!("vault: valid {} signed by key {}", envelope.kind, envelope.key_id);
    Ok(())
}

/// Writes a family's export archive; prints the recovery key (its only copy) on stdout.
pub(super) fn export(args: ExportArgs) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref())?;
    runtime()?.block_on(async {
        let services = crate::domain::Services::build(config).await?;
        let tmp = super::crypt::temp_beside(&args.output)?;
        let key = export::ExportKey::generate();
        let mut file = tokio::io::BufWriter::new(tokio::fs::File::from_std(tmp.reopen()?));
        let meta = RequestMeta { user_agent: "vault export (operator)".into(), ..Default::default() };
        let summary = export::export_audited(&services, &args.family, "operator", &meta, &key, &mut file).await?;
        file.into_inner().sync_all().await?;
        tmp.persist(&args.output).with_context(|| format!("cannot write {}", args.output.display()))?;
        println!("{}", key.hex().as_str());
        eprintln!(
            "vault export: {} recordings, {} bytes of ciphertext in {}; the line above is the recovery key \
             (key name {}): it is not stored anywhere, give it to the family's owner",
            summary.recordings,
            summary.ciphertext_bytes,
            args.output.display(),
            summary.key_name
        );
        Ok(())
    })
}

/// Erases a family (operator side of an erasure request); prints the signed receipt.
pub(super) fn erase_family(args: EraseFamilyArgs) -> anyhow::Result<()> {
    if args.confirm != args.family {
        bail!("--confirm must repeat the family id: erasure cannot be undone");
    }
    let config = Config::load(args.config.as_deref())?;
    runtime()?.block_on(async {
        let services = crate::domain::Services::build(config).await?;
        if services.db.family_erased(&args.family).await?.is_some() {
            eprintln!("vault: family {:?} was already erased; destroying its key again is harmless", args.family);
        }
        let meta = RequestMeta { user_agent: "vault erase-family (operator)".into(), ..Default::default() };
        let receipt = erasure::erase_family(&services, &args.family, &args.requested_by, &meta).await?;
        let text = serde_json::to_string_pretty(&receipt)?;
        if let Some(path) = &args.receipt {
            std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
        }
        println!("{text}");
        Ok(())
    })
}
