//! Service configuration: defaults, then an optional TOML file (`--config` or
//! `VAULT_CONFIG`), then `VAULT_*` environment variables. Anything invalid stops the
//! server at start with a message naming the setting.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use ipnet::IpNet;
use serde::Deserialize;

/// Everything `vault serve` can be told.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where embedded-mode state lives: database, objects, master key, dev issuer key.
    pub data_dir: PathBuf,
    /// Metadata database; default `sqlite://<data_dir>/vault.db`. `postgres://…` selects PostgreSQL.
    pub database_url: Option<String>,
    /// Static files of the web page served at `/` (none if unset).
    pub web_dir: Option<PathBuf>,
    /// Trust tokens of the local development issuer; default: only when no external issuer is configured.
    pub dev_issuer: Option<bool>,
    pub auth: AuthSettings,
    pub uploads: UploadSettings,
    pub limits: Limits,
    /// Object Lock retention of committed objects, in days.
    pub retention_days: u32,
    /// Proxies whose `X-Forwarded-For` is believed (CIDR list). Empty: the peer address is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Origins allowed by CORS. Empty: CORS off (the web page is same-origin).
    pub cors_origins: Vec<String>,
    /// `text` or `json` logs.
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// `iss` of the external OIDC issuer (e.g. `https://clerk.example.com`).
    pub issuer: Option<String>,
    /// Its JWKS URL (default `<issuer>/.well-known/jwks.json`).
    pub jwks_url: Option<String>,
    /// Accepted `aud` values.
    pub audiences: Vec<String>,
    /// Accepted `azp` values (Clerk: the web page's origin).
    pub authorized_parties: Vec<String>,
    /// The claim naming the family (Clerk organisations: `org_id`).
    pub family_claim: String,
    /// Clock skew allowed on `exp`/`nbf`, seconds.
    pub leeway_secs: u64,
    /// Least seconds between two JWKS fetches (tokens with unknown key ids cannot force more).
    pub jwks_min_refresh_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UploadSettings {
    /// Plaintext bytes per frame for new recordings.
    pub frame_length: u32,
    /// Target ciphertext bytes per upload part (rounded down to whole frames).
    pub part_size: u64,
    /// An upload not completed within this many seconds expires and is removed.
    pub ttl_secs: u64,
    /// How often expired uploads are looked for, seconds.
    pub sweep_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest recording accepted, plaintext bytes.
    pub max_recording_bytes: u64,
    /// Largest JSON request body, bytes.
    pub max_json_bytes: usize,
    /// Time allowed for a request that is not an upload or download, seconds.
    pub request_timeout_secs: u64,
    /// Key releases allowed per user per minute.
    pub key_releases_per_minute: u32,
    /// Failed authentications allowed per client IP per minute before 429.
    pub auth_failures_per_minute: u32,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("vault-data"),
            database_url: None,
            web_dir: None,
            dev_issuer: None,
            auth: AuthSettings::default(),
            uploads: UploadSettings::default(),
            limits: Limits::default(),
            retention_days: 30,
            trusted_proxies: Vec::new(),
            cors_origins: Vec::new(),
            log_format: LogFormat::Text,
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            issuer: None,
            jwks_url: None,
            audiences: Vec::new(),
            authorized_parties: Vec::new(),
            family_claim: "org_id".into(),
            leeway_secs: 30,
            jwks_min_refresh_secs: 30,
        }
    }
}

impl Default for UploadSettings {
    fn default() -> Self {
        Self { frame_length: 64 * 1024, part_size: 8 * 1024 * 1024, ttl_secs: 24 * 3600, sweep_secs: 300 }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_recording_bytes: 64 << 30,
            max_json_bytes: 64 * 1024,
            request_timeout_secs: 30,
            key_releases_per_minute: 120,
            auth_failures_per_minute: 30,
        }
    }
}

impl Config {
    /// Defaults, then the TOML file if any, then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        Self::load_from(file, |name| std::env::var(name).ok())
    }

    /// As [`Config::load`], with the environment given (for tests).
    pub fn load_from(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let file = file.map(Path::to_path_buf).or_else(|| env("VAULT_CONFIG").map(PathBuf::from));
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read configuration file {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("invalid configuration file {}", path.display()))?
            }
            None => Self::default(),
        };
        config.apply_env(env)?;
        config.validate()?;
        Ok(config)
    }

    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        fn parse<T: std::str::FromStr>(name: &str, value: &str) -> anyhow::Result<T>
        where
            T::Err: std::fmt::Display,
        {
            value.trim().parse().map_err(|e| anyhow::anyhow!("invalid {name}={value:?}: {e}"))
        }
        fn list(value: &str) -> Vec<String> {
            value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
        }
        if let Some(v) = env("VAULT_LISTEN") {
            self.listen = parse("VAULT_LISTEN", &v)?;
        }
        if let Some(v) = env("VAULT_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env("VAULT_DATABASE_URL") {
            self.database_url = Some(v);
        }
        if let Some(v) = env("VAULT_WEB_DIR") {
            self.web_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = env("VAULT_DEV_ISSUER") {
            self.dev_issuer = Some(parse("VAULT_DEV_ISSUER", &v)?);
        }
        if let Some(v) = env("VAULT_AUTH_ISSUER") {
            self.auth.issuer = Some(v);
        }
        if let Some(v) = env("VAULT_AUTH_JWKS_URL") {
            self.auth.jwks_url = Some(v);
        }
        if let Some(v) = env("VAULT_AUTH_AUDIENCES") {
            self.auth.audiences = list(&v);
        }
        if let Some(v) = env("VAULT_AUTH_AUTHORIZED_PARTIES") {
            self.auth.authorized_parties = list(&v);
        }
        if let Some(v) = env("VAULT_AUTH_FAMILY_CLAIM") {
            self.auth.family_claim = v;
        }
        if let Some(v) = env("VAULT_AUTH_JWKS_MIN_REFRESH_SECS") {
            self.auth.jwks_min_refresh_secs = parse("VAULT_AUTH_JWKS_MIN_REFRESH_SECS", &v)?;
        }
        if let Some(v) = env("VAULT_RETENTION_DAYS") {
            self.retention_days = parse("VAULT_RETENTION_DAYS", &v)?;
        }
        if let Some(v) = env("VAULT_UPLOAD_TTL_SECS") {
            self.uploads.ttl_secs = parse("VAULT_UPLOAD_TTL_SECS", &v)?;
        }
        if let Some(v) = env("VAULT_UPLOAD_SWEEP_SECS") {
            self.uploads.sweep_secs = parse("VAULT_UPLOAD_SWEEP_SECS", &v)?;
        }
        if let Some(v) = env("VAULT_PART_SIZE") {
            self.uploads.part_size = parse("VAULT_PART_SIZE", &v)?;
        }
        if let Some(v) = env("VAULT_FRAME_LENGTH") {
            self.uploads.frame_length = parse("VAULT_FRAME_LENGTH", &v)?;
        }
        if let Some(v) = env("VAULT_MAX_RECORDING_BYTES") {
            self.limits.max_recording_bytes = parse("VAULT_MAX_RECORDING_BYTES", &v)?;
        }
        if let Some(v) = env("VAULT_KEY_RELEASES_PER_MINUTE") {
            self.limits.key_releases_per_minute = parse("VAULT_KEY_RELEASES_PER_MINUTE", &v)?;
        }
        if let Some(v) = env("VAULT_AUTH_FAILURES_PER_MINUTE") {
            self.limits.auth_failures_per_minute = parse("VAULT_AUTH_FAILURES_PER_MINUTE", &v)?;
        }
        if let Some(v) = env("VAULT_TRUSTED_PROXIES") {
            self.trusted_proxies =
                list(&v).iter().map(|s| parse("VAULT_TRUSTED_PROXIES", s)).collect::<anyhow::Result<_>>()?;
        }
        if let Some(v) = env("VAULT_CORS_ORIGINS") {
            self.cors_origins = list(&v);
        }
        if let Some(v) = env("VAULT_LOG_FORMAT") {
            self.log_format = match v.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => bail!("invalid VAULT_LOG_FORMAT={v:?}: expected text or json"),
            };
        }
        Ok(())
    }

    fn validate(&self) -> anyhow::Result<()> {
        let frame = self.uploads.frame_length;
        if !(1024..=vault_core::MAX_FRAME_LENGTH).contains(&frame) {
            bail!("uploads.frame_length must be between 1024 and {} bytes", vault_core::MAX_FRAME_LENGTH);
        }
        // S3 multipart parts must be at least 5 MiB (except the last) and at most 5 GiB.
        if self.uploads.part_size < 5 << 20 || self.uploads.part_size > 1 << 30 {
            bail!("uploads.part_size must be between 5 MiB and 1 GiB");
        }
        if self.uploads.part_size < u64::from(frame) + 32 {
            bail!("uploads.part_size must hold at least one frame");
        }
        if self.uploads.ttl_secs == 0 || self.uploads.sweep_secs == 0 {
            bail!("uploads.ttl_secs and uploads.sweep_secs must be positive");
        }
        if self.retention_days == 0 {
            bail!("retention_days must be at least 1");
        }
        if self.limits.key_releases_per_minute == 0 || self.limits.auth_failures_per_minute == 0 {
            bail!("rate limits must be positive");
        }
        if let Some(issuer) = &self.auth.issuer {
            if self.auth.audiences.is_empty() && self.auth.authorized_parties.is_empty() {
                bail!(
                    "auth.issuer {issuer:?} needs auth.audiences or auth.authorized_parties (else any token of that issuer, for any application, would be accepted)"
                );
            }
        }
        if self.dev_issuer == Some(false) && self.auth.issuer.is_none() {
            bail!("no identity provider: set auth.issuer (with auth.audiences) or enable dev_issuer");
        }
        for origin in &self.cors_origins {
            if origin == "*" {
                bail!("cors_origins may not be \"*\": list the web page's origins");
            }
        }
        Ok(())
    }

    /// Whether the local development issuer is trusted.
    pub fn dev_issuer_enabled(&self) -> bool {
        self.dev_issuer.unwrap_or(self.auth.issuer.is_none())
    }

    /// The metadata database URL.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}/vault.db?mode=rwc", self.data_dir.display()))
    }

    /// Retention of committed objects.
    pub fn retention(&self) -> time::Duration {
        time::Duration::days(i64::from(self.retention_days))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(file: Option<&str>, env: &[(&str, &str)]) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.toml");
        if let Some(text) = file {
            std::fs::write(&path, text).unwrap();
        }
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::load_from(file.map(|_| path.as_path()), |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_are_embedded_mode_on_loopback() {
        let c = load(None, &[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(c.dev_issuer_enabled());
        assert_eq!(c.database_url(), "sqlite://vault-data/vault.db?mode=rwc");
    }

    #[test]
    fn file_then_environment() {
        let c = load(
            Some("listen = \"127.0.0.1:9000\"\nretention_days = 7\n[uploads]\nttl_secs = 60\n"),
            &[("VAULT_RETENTION_DAYS", "9")],
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.retention_days, 9);
        assert_eq!(c.uploads.ttl_secs, 60);
    }

    #[test]
    fn external_issuer_turns_the_dev_issuer_off() {
        let c = load(None, &[("VAULT_AUTH_ISSUER", "https://idp.example"), ("VAULT_AUTH_AUDIENCES", "vault")]).unwrap();
        assert!(!c.dev_issuer_enabled());
    }

    #[test]
    fn invalid_settings_are_named() {
        let err = |file, env| format!("{:#}", load(file, env).unwrap_err());
        assert!(err(Some("listn = 1"), &[]).contains("unknown field `listn`"));
        assert!(err(None, &[("VAULT_LISTEN", "nowhere")]).contains("VAULT_LISTEN"));
        assert!(err(None, &[("VAULT_AUTH_ISSUER", "https://idp.example")]).contains("auth.audiences"));
        assert!(err(Some("[uploads]\npart_size = 1000"), &[]).contains("part_size"));
        assert!(err(Some("cors_origins = [\"*\"]"), &[]).contains("cors_origins"));
        assert!(err(None, &[("VAULT_DEV_ISSUER", "false")]).contains("no identity provider"));
    }
}
