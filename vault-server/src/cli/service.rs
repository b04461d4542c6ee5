//! `vault serve`, `vault token`, `vault audit verify`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::{Args, Subcommand};

use crate::auth::DevIssuer;
use crate::config::{Config, LogFormat};

#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    /// TOML configuration file (also VAULT_CONFIG); environment variables override it.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct TokenArgs {
    /// The family (tenant) id the token names.
    #[arg(long)]
    family: String,
    /// The user id (`sub`).
    #[arg(long)]
    user: String,
    /// Informational role claim (the server's membership table decides).
    #[arg(long, value_parser = ["owner", "admin", "member"])]
    role: Option<String>,
    /// Lifetime, e.g. 1h, 30m, 90s.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    ttl: Duration,
    /// Data directory holding the development issuer's key (also VAULT_DATA_DIR).
    #[arg(long, env = "VAULT_DATA_DIR", default_value = "vault-data")]
    data_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub(super) enum AuditCommand {
    /// Check every tenant's hash chain and every daily anchor of the chain heads in
    /// the object store; names the first broken row and any anchored row gone.
    Verify {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Verify the chains and anchor their heads in the object store now (the
    /// service does it daily).
    Anchor {
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = number.parse().map_err(|_| format!("expected a duration like 1h, 30m or 90s, got {s:?}"))?;
    let secs = match unit {
        "s" | "" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("unknown duration unit in {s:?}: use s, m, h or d")),
    };
    if secs == 0 || secs > 30 * 86_400 {
        return Err("the lifetime must be between 1 second and 30 days".into());
    }
    Ok(Duration::from_secs(secs))
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VAULT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

pub(super) fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref())?;
    init_logging(config.log_format);
    runtime()?.block_on(crate::http::serve::run(config))
}

pub(super) fn setup(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref())?;
    init_logging(config.log_format);
    for done in runtime()?.block_on(crate::backends::setup(&config))? {
        eprintln!("vault setup: {done}");
    }
    Ok(())
}

pub(super) fn token(args: TokenArgs) -> anyhow::Result<()> {
    for (what, value) in [("family", &args.family), ("user", &args.user)] {
        if !crate::domain::families::valid_id(value) {
            bail!("--{what} must be 1 to 64 characters of [A-Za-z0-9_-]");
        }
    }
    // A key made here would sign tokens no running server trusts ("401 token signed by
    // an unknown key"): the key must be the one `vault serve` made in its data directory.
    if !args.data_dir.join(DevIssuer::FILE).exists() {
        bail!(
            "no development issuer key in {}: run this where `vault serve` keeps its data \
             (--data-dir or VAULT_DATA_DIR), or start `vault serve` (scripts/run) first",
            args.data_dir.display()
        );
    }
    let issuer = DevIssuer::load_or_create(&args.data_dir)?;
    println!("{}", issuer.mint(&args.user, Some(&args.family), args.role.as_deref(), args.ttl)?);
    Ok(())
}

pub(super) fn audit(command: AuditCommand) -> anyhow::Result<()> {
    let (AuditCommand::Verify { config } | AuditCommand::Anchor { config }) = &command;
    let config = Config::load(config.as_deref())?;
    runtime()?.block_on(async {
        let services = crate::domain::Services::build(config).await?;
        if matches!(command, AuditCommand::Anchor { .. }) {
            let (key, anchor) = crate::domain::anchors::write_anchor(&services).await?;
            println!("{key}");
            eprintln!("vault: {} chain heads anchored", anchor.heads.len());
            return Ok(());
        }
        let (chains, anchors) = crate::domain::anchors::verify_all(&services).await?;
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "chains": chains, "anchors": anchors }))?);
        if let Some(first) = chains.breaks.first() {
            bail!("audit chain of tenant {:?} broken at row {}: {}", first.tenant, first.seq, first.problem);
        }
        if let Some(p) = anchors.problems.first() {
            let more = anchors.problems.len() - 1;
            bail!("audit anchors: {} {}: {} ({more} more in the report)", p.anchor, p.tenant, p.problem);
        }
        if anchors.anchors == 0 {
            eprintln!("vault: no audit anchors yet; the first is not due (the service writes one daily)");
        }
        eprintln!(
            "vault: {} chains, {} rows verified; {} anchors, {} anchored heads match",
            chains.chains, chains.rows, anchors.anchors, anchors.heads_checked
        );
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h").unwrap().as_secs(), 3600);
        assert_eq!(parse_duration("30m").unwrap().as_secs(), 1800);
        assert_eq!(parse_duration("90").unwrap().as_secs(), 90);
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("31d").is_err());
    }
}
