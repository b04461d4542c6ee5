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
pub(crate) struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where embedded-mode state lives: database, objects, master key, dev issuer key.
    pub data_dir: PathBuf,
    /// Metadata database; default `sqlite://<data_dir>/vault.db`. `postgres://…` selects PostgreSQL.
    pub database_url: Option<String>,
    /// Apply database migrations at start. Off when the service connects as a role
    /// that may not change the schema (`vault setup` migrates as the owner).
    pub database_migrate: bool,
    /// Where customer keys live: `local` (master key file) or `aws-kms`.
    pub keys: KeysBackend,
    /// Where ciphertext lives: `local` (data directory) or `s3` (two regions).
    pub store: StoreBackend,
    pub aws: AwsSettings,
    /// Embedded mode: a second directory (another disk) holding a replica of every
    /// object, copied and checked like the AWS replica region. None: no replica.
    pub local_replica_dir: Option<PathBuf>,
    pub scrub: ScrubSettings,
    /// Static files of the web page served at `/` (none if unset).
    pub web_dir: Option<PathBuf>,
    /// Trust tokens of the local development issuer. Default: on in embedded mode only
    /// (no external issuer, no AWS backend, no trusted proxies); refused with any of those.
    pub dev_issuer: Option<bool>,
    pub auth: AuthSettings,
    pub uploads: UploadSettings,
    pub limits: Limits,
    /// Object Lock retention of committed objects, in days.
    pub retention_days: u32,
    /// How long a deleted recording stays in the trash, restorable, before it is
    /// erased (keys destroyed, receipt signed), in days.
    pub trash_days: u32,
    /// Proxies whose `X-Forwarded-For` is believed (CIDR list). Empty: the peer address is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Origins allowed by CORS. Empty: CORS off (the web page is same-origin).
    pub cors_origins: Vec<String>,
    /// The origins (`https://vault.example.com`) under which the service is reached,
    /// besides loopback. A request whose `Host` names neither a loopback name with the
    /// listening port nor one of these is refused: a page elsewhere cannot reach the
    /// service by DNS rebinding.
    pub public_origins: Vec<String>,
    /// This instance's name among several behind a load balancer (logs, metrics, job
    /// leases, replication claims). Default: made on first start and kept in the data
    /// directory.
    pub instance_id: Option<String>,
    /// Seconds between probes of the database, key service and each region's store
    /// (`/healthz` details, `vault_dependency_up`).
    pub health_check_secs: u64,
    /// `text` or `json` logs.
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct AuthSettings {
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
    /// The claim holding the caller's role at the identity provider (Clerk: `org_role`).
    pub role_claim: String,
    /// Roles (in `role_claim`) allowed to create the family's vault with an external
    /// issuer: the first to create a family becomes its owner, so not every member of
    /// the organisation may. Empty: anyone whose token names the family.
    pub creator_roles: Vec<String>,
    /// Clock skew allowed on `exp`/`nbf`, seconds.
    pub leeway_secs: u64,
    /// Least seconds between two JWKS fetches (tokens with unknown key ids cannot force more).
    pub jwks_min_refresh_secs: u64,
    /// The identity provider's sign-in front end for the web page (e.g. a Clerk-hosted
    /// app). After sign-in it sends the browser back to `<vault origin>/#token=<JWT>`;
    /// a URL fragment never reaches any server's logs.
    pub sign_in_url: Option<String>,
    /// Where the web page fetches a fresh token (with the identity provider's session
    /// cookie) before its token expires: a URL answering `{"token": "<JWT>"}` (or
    /// `{"jwt": …}`). Without it, a page signed in through the provider asks the person to
    /// sign in again when the token expires; uploads resume after that sign-in.
    pub refresh_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct UploadSettings {
    /// Plaintext bytes per frame for new recordings.
    pub frame_length: u32,
    /// Least ciphertext bytes per upload part but the last (rounded up to whole frames).
    pub part_size: u64,
    /// An upload not completed within this many seconds expires and is removed.
    pub ttl_secs: u64,
    /// How often expired uploads are looked for, seconds.
    pub sweep_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Limits {
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
    /// Seconds a connection may take to send a whole request head (also the most a
    /// connection may stay idle between requests).
    pub header_read_timeout_secs: u64,
    /// Open connections at once; more are closed as they arrive.
    pub max_connections: usize,
    /// Open connections at once from one client address (trusted proxies excepted).
    pub max_connections_per_ip: usize,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum KeysBackend {
    Local,
    AwsKms,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum StoreBackend {
    Local,
    S3,
}

/// The AWS backends: one KMS key and one Object Lock bucket per region, two regions.
/// Credentials come from the standard AWS provider chain (environment, profile,
/// instance or task role), never from this file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct AwsSettings {
    pub primary: RegionSettings,
    pub replica: RegionSettings,
    /// Seconds allowed for one attempt of an AWS call (then it is retried).
    pub attempt_timeout_secs: u64,
    /// Seconds allowed to connect to an AWS endpoint.
    pub connect_timeout_secs: u64,
    /// Attempts per AWS call (jittered exponential backoff on throttling, 5xx and timeouts).
    pub max_attempts: u32,
    /// The most seconds one region gets for one KMS call or object read, retries
    /// included, before the other region is asked. Two budgets fit in
    /// `limits.request_timeout_secs`, so a hanging region fails over within one request.
    pub region_budget_secs: u64,
    /// After a region fails, reads go straight to the other region for this many seconds.
    pub failover_secs: u64,
    /// Seconds an unwrapped data key stays cached for repeated playback requests.
    pub data_key_cache_secs: u64,
    /// Most data keys cached at once.
    pub data_key_cache_entries: usize,
    /// Seconds between looks at the replication outbox (new commits wake it at once).
    pub replication_poll_secs: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RegionSettings {
    /// AWS region name, e.g. `eu-west-1`.
    pub region: String,
    /// The Object Lock bucket of this region.
    pub bucket: String,
    /// Endpoint override (S3-compatible stores, tests); default: AWS's.
    pub endpoint: Option<String>,
}

/// The integrity scrub (`crate::scrub`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ScrubSettings {
    /// Seconds between two scheduled scrubs (daily); 0 turns the schedule off.
    pub interval_secs: u64,
    /// Bytes read per second across both regions, to spare the store.
    pub bytes_per_sec: u64,
    /// Recordings read per page of the database.
    pub page_size: u32,
}

impl Default for ScrubSettings {
    fn default() -> Self {
        Self { interval_secs: 86_400, bytes_per_sec: 64 << 20, page_size: 100 }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("vault-data"),
            database_url: None,
            database_migrate: true,
            keys: KeysBackend::Local,
            store: StoreBackend::Local,
            aws: AwsSettings::default(),
            local_replica_dir: None,
            scrub: ScrubSettings::default(),
            web_dir: None,
            dev_issuer: None,
            auth: AuthSettings::default(),
            uploads: UploadSettings::default(),
            limits: Limits::default(),
            retention_days: 30,
            trash_days: 30,
            trusted_proxies: Vec::new(),
            cors_origins: Vec::new(),
            public_origins: Vec::new(),
            instance_id: None,
            health_check_secs: 15,
            log_format: LogFormat::Text,
        }
    }
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            primary: RegionSettings::default(),
            replica: RegionSettings::default(),
            attempt_timeout_secs: 10,
            connect_timeout_secs: 3,
            max_attempts: 4,
            region_budget_secs: 10,
            failover_secs: 30,
            data_key_cache_secs: 300,
            data_key_cache_entries: 1000,
            replication_poll_secs: 10,
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
            role_claim: "org_role".into(),
            creator_roles: vec!["org:admin".into(), "admin".into()],
            leeway_secs: 30,
            jwks_min_refresh_secs: 30,
            sign_in_url: None,
            refresh_url: None,
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
            header_read_timeout_secs: 10,
            max_connections: 4096,
            max_connections_per_ip: 256,
        }
    }
}

impl Config {
    /// Defaults, then the TOML file if any, then the environment.
    pub(crate) fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        Self::load_from(file, |name| std::env::var(name).ok())
    }

    /// As [`Config::load`], with the environment given (for tests).
    pub(crate) fn load_from(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
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
        if let Some(v) = env("VAULT_DATABASE_MIGRATE") {
            self.database_migrate = parse("VAULT_DATABASE_MIGRATE", &v)?;
        }
        if let Some(v) = env("VAULT_KEYS") {
            self.keys = match v.as_str() {
                "local" => KeysBackend::Local,
                "aws-kms" => KeysBackend::AwsKms,
                _ => bail!("invalid VAULT_KEYS={v:?}: expected local or aws-kms"),
            };
        }
        if let Some(v) = env("VAULT_STORE") {
            self.store = match v.as_str() {
                "local" => StoreBackend::Local,
                "s3" => StoreBackend::S3,
                _ => bail!("invalid VAULT_STORE={v:?}: expected local or s3"),
            };
        }
        for (prefix, region) in [("PRIMARY", &mut self.aws.primary), ("REPLICA", &mut self.aws.replica)] {
            if let Some(v) = env(&format!("VAULT_AWS_{prefix}_REGION")) {
                region.region = v;
            }
            if let Some(v) = env(&format!("VAULT_AWS_{prefix}_BUCKET")) {
                region.bucket = v;
            }
            if let Some(v) = env(&format!("VAULT_AWS_{prefix}_ENDPOINT")) {
                region.endpoint = Some(v);
            }
        }
        if let Some(v) = env("VAULT_AWS_ATTEMPT_TIMEOUT_SECS") {
            self.aws.attempt_timeout_secs = parse("VAULT_AWS_ATTEMPT_TIMEOUT_SECS", &v)?;
        }
        if let Some(v) = env("VAULT_AWS_CONNECT_TIMEOUT_SECS") {
            self.aws.connect_timeout_secs = parse("VAULT_AWS_CONNECT_TIMEOUT_SECS", &v)?;
        }
        if let Some(v) = env("VAULT_AWS_MAX_ATTEMPTS") {
            self.aws.max_attempts = parse("VAULT_AWS_MAX_ATTEMPTS", &v)?;
        }
        if let Some(v) = env("VAULT_AWS_REGION_BUDGET_SECS") {
            self.aws.region_budget_secs = parse("VAULT_AWS_REGION_BUDGET_SECS", &v)?;
        }
        if let Some(v) = env("VAULT_AWS_FAILOVER_SECS") {
            self.aws.failover_secs = parse("VAULT_AWS_FAILOVER_SECS", &v)?;
        }
        if let Some(v) = env("VAULT_AWS_DATA_KEY_CACHE_SECS") {
            self.aws.data_key_cache_secs = parse("VAULT_AWS_DATA_KEY_CACHE_SECS", &v)?;
        }
        if let Some(v) = env("VAULT_AWS_REPLICATION_POLL_SECS") {
            self.aws.replication_poll_secs = parse("VAULT_AWS_REPLICATION_POLL_SECS", &v)?;
        }
        if let Some(v) = env("VAULT_LOCAL_REPLICA_DIR") {
            self.local_replica_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = env("VAULT_SCRUB_INTERVAL_SECS") {
            self.scrub.interval_secs = parse("VAULT_SCRUB_INTERVAL_SECS", &v)?;
        }
        if let Some(v) = env("VAULT_SCRUB_BYTES_PER_SEC") {
            self.scrub.bytes_per_sec = parse("VAULT_SCRUB_BYTES_PER_SEC", &v)?;
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
        if let Some(v) = env("VAULT_AUTH_SIGN_IN_URL") {
            self.auth.sign_in_url = Some(v);
        }
        if let Some(v) = env("VAULT_AUTH_REFRESH_URL") {
            self.auth.refresh_url = Some(v);
        }
        if let Some(v) = env("VAULT_AUTH_FAMILY_CLAIM") {
            self.auth.family_claim = v;
        }
        if let Some(v) = env("VAULT_AUTH_ROLE_CLAIM") {
            self.auth.role_claim = v;
        }
        if let Some(v) = env("VAULT_AUTH_CREATOR_ROLES") {
            self.auth.creator_roles = list(&v);
        }
        if let Some(v) = env("VAULT_AUTH_JWKS_MIN_REFRESH_SECS") {
            self.auth.jwks_min_refresh_secs = parse("VAULT_AUTH_JWKS_MIN_REFRESH_SECS", &v)?;
        }
        if let Some(v) = env("VAULT_RETENTION_DAYS") {
            self.retention_days = parse("VAULT_RETENTION_DAYS", &v)?;
        }
        if let Some(v) = env("VAULT_TRASH_DAYS") {
            self.trash_days = parse("VAULT_TRASH_DAYS", &v)?;
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
        if let Some(v) = env("VAULT_PUBLIC_ORIGINS") {
            self.public_origins = list(&v);
        }
        if let Some(v) = env("VAULT_INSTANCE_ID") {
            self.instance_id = Some(v);
        }
        if let Some(v) = env("VAULT_HEALTH_CHECK_SECS") {
            self.health_check_secs = parse("VAULT_HEALTH_CHECK_SECS", &v)?;
        }
        if let Some(v) = env("VAULT_MAX_CONNECTIONS") {
            self.limits.max_connections = parse("VAULT_MAX_CONNECTIONS", &v)?;
        }
        if let Some(v) = env("VAULT_MAX_CONNECTIONS_PER_IP") {
            self.limits.max_connections_per_ip = parse("VAULT_MAX_CONNECTIONS_PER_IP", &v)?;
        }
        if let Some(v) = env("VAULT_HEADER_READ_TIMEOUT_SECS") {
            self.limits.header_read_timeout_secs = parse("VAULT_HEADER_READ_TIMEOUT_SECS", &v)?;
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
        if let Some(id) = &self.instance_id
            && !crate::text::is_plain_id(id)
        {
            bail!("instance_id must be 1 to 64 characters of [A-Za-z0-9_-], starting with a letter or digit");
        }
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
        if self.health_check_secs == 0 {
            bail!("health_check_secs must be positive");
        }
        if self.uploads.ttl_secs == 0 || self.uploads.sweep_secs == 0 {
            bail!("uploads.ttl_secs and uploads.sweep_secs must be positive");
        }
        if self.scrub.bytes_per_sec < 1 << 20 || self.scrub.page_size == 0 {
            bail!("scrub.bytes_per_sec must be at least 1 MiB/s and scrub.page_size positive");
        }
        if self.retention_days == 0 {
            bail!("retention_days must be at least 1");
        }
        if !(1..=3650).contains(&self.trash_days) {
            bail!("trash_days must be 1 to 3650");
        }
        if self.limits.key_releases_per_minute == 0 || self.limits.auth_failures_per_minute == 0 {
            bail!("rate limits must be positive");
        }
        if let Some(issuer) = &self.auth.issuer
            && self.auth.audiences.is_empty()
            && self.auth.authorized_parties.is_empty()
        {
            bail!(
                "auth.issuer {issuer:?} needs auth.audiences or auth.authorized_parties (else any token of that issuer, for any application, would be accepted)"
            );
        }
        for origin in &self.public_origins {
            public_origin_host(origin)?;
        }
        if self.limits.header_read_timeout_secs == 0
            || self.limits.max_connections == 0
            || self.limits.max_connections_per_ip == 0
        {
            bail!(
                "limits.header_read_timeout_secs, limits.max_connections and limits.max_connections_per_ip must be positive"
            );
        }
        let aws = &self.aws;
        if self.uses_aws() {
            if aws.primary.region.is_empty() || aws.replica.region.is_empty() {
                bail!("aws.primary.region and aws.replica.region are required by the AWS backends");
            }
            if aws.primary.region == aws.replica.region && aws.primary.endpoint == aws.replica.endpoint {
                bail!(
                    "aws.replica must be another region than aws.primary (a replica in the same region is no replica)"
                );
            }
            if aws.max_attempts == 0 || aws.attempt_timeout_secs == 0 || aws.connect_timeout_secs == 0 {
                bail!("aws.max_attempts, aws.attempt_timeout_secs and aws.connect_timeout_secs must be positive");
            }
            if aws.data_key_cache_entries == 0 || aws.replication_poll_secs == 0 {
                bail!("aws.data_key_cache_entries and aws.replication_poll_secs must be positive");
            }
            if aws.region_budget_secs == 0
                || aws.region_budget_secs.saturating_mul(2) >= self.limits.request_timeout_secs
            {
                bail!(
                    "aws.region_budget_secs must be positive and less than half of limits.request_timeout_secs \
                     (both regions must fit in one request)"
                );
            }
        }
        if self.store == StoreBackend::S3 {
            for bucket in [&aws.primary.bucket, &aws.replica.bucket] {
                let valid = (3..=63).contains(&bucket.len())
                    && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
                if !valid {
                    bail!("aws.primary.bucket and aws.replica.bucket must be S3 bucket names (got {bucket:?})");
                }
            }
            if aws.primary.bucket == aws.replica.bucket && aws.primary.endpoint == aws.replica.endpoint {
                bail!("aws.replica.bucket must differ from aws.primary.bucket");
            }
        }
        for origin in &self.cors_origins {
            if origin == "*" {
                bail!("cors_origins may not be \"*\": list the web page's origins");
            }
        }
        if let (Some(true), Some(why)) = (self.dev_issuer, self.dev_issuer_forbidden()) {
            bail!("dev_issuer cannot be on when {why}: anyone could mint tokens for it");
        }
        if !self.dev_issuer_enabled() && self.auth.issuer.is_none() {
            bail!(
                "no identity provider: set auth.issuer with auth.audiences or auth.authorized_parties \
                 (the development issuer is only for embedded mode on this machine)"
            );
        }
        Ok(())
    }

    /// Whether the local development issuer is trusted: as configured, else only in
    /// embedded mode.
    pub(crate) fn dev_issuer_enabled(&self) -> bool {
        self.dev_issuer.unwrap_or_else(|| self.dev_issuer_forbidden().is_none())
    }

    /// Why this configuration is not a developer's machine, if it is not: then tokens
    /// that anyone with the data directory can mint must not be trusted.
    fn dev_issuer_forbidden(&self) -> Option<&'static str> {
        if self.auth.issuer.is_some() {
            Some("an external identity provider is configured (auth.issuer)")
        } else if self.uses_aws() {
            Some("the AWS backends are configured (keys = \"aws-kms\" or store = \"s3\")")
        } else if !self.trusted_proxies.is_empty() {
            Some("the service is reached through proxies (trusted_proxies)")
        } else {
            None
        }
    }

    /// Whether a production backend (KMS or S3) is configured.
    pub(crate) fn uses_aws(&self) -> bool {
        self.keys == KeysBackend::AwsKms || self.store == StoreBackend::S3
    }

    /// The `Host` values (lowercase `host:port`) requests may carry besides loopback.
    pub(crate) fn public_hosts(&self) -> Vec<String> {
        self.public_origins.iter().filter_map(|o| public_origin_host(o).ok()).collect()
    }

    /// The metadata database URL.
    pub(crate) fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}/vault.db?mode=rwc", self.data_dir.display()))
    }

    /// The service signing key (see `crate::signing`).
    pub(crate) fn signing_key_path(&self) -> PathBuf {
        self.data_dir.join("signing.p8")
    }

    /// Retention of committed objects.
    pub(crate) fn trash_period_ms(&self) -> i64 {
        i64::from(self.trash_days) * 86_400_000
    }

    pub(crate) fn retention(&self) -> time::Duration {
        time::Duration::days(i64::from(self.retention_days))
    }
}

/// The `host:port` of an origin such as `https://vault.example.com` (port from the
/// scheme when absent), lowercase.
fn public_origin_host(origin: &str) -> anyhow::Result<String> {
    let bad = || anyhow::anyhow!("public_origins: {origin:?} is not an origin such as https://vault.example.com");
    let uri: axum::http::Uri = origin.parse().map_err(|_| bad())?;
    let default_port = match uri.scheme_str() {
        Some("https") => 443,
        Some("http") => 80,
        _ => return Err(bad()),
    };
    let authority = uri.authority().ok_or_else(bad)?;
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() || authority.as_str().contains('@') {
        return Err(bad());
    }
    Ok(format!("{}:{}", authority.host().to_ascii_lowercase(), authority.port_u16().unwrap_or(default_port)))
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

    /// The README's production example, exactly as written there.
    const PRODUCTION_TOML: &str = include_str!("../../tests/fixtures/production.toml");

    #[test]
    fn the_readme_production_example_never_trusts_the_dev_issuer() {
        let readme = include_str!("../../README.md");
        assert!(readme.contains(PRODUCTION_TOML.trim()), "README's production example differs from the fixture");
        let c = load(Some(PRODUCTION_TOML), &[]).unwrap();
        assert!(!c.dev_issuer_enabled());
        assert_eq!(c.public_hosts(), ["vault.example.com:443"]);
        // Without its [auth] section it does not start at all (no identity provider).
        let no_auth = PRODUCTION_TOML.split("[auth]").next().unwrap();
        let e = format!("{:#}", load(Some(no_auth), &[]).unwrap_err());
        assert!(e.contains("no identity provider"), "{e}");
    }

    #[test]
    fn the_dev_issuer_is_refused_outside_embedded_mode() {
        let err = |env: &[(&str, &str)]| format!("{:#}", load(None, env).unwrap_err());
        let aws = [
            ("VAULT_DEV_ISSUER", "true"),
            ("VAULT_KEYS", "aws-kms"),
            ("VAULT_AWS_PRIMARY_REGION", "eu-west-1"),
            ("VAULT_AWS_REPLICA_REGION", "eu-central-1"),
        ];
        assert!(err(&aws).contains("dev_issuer cannot be on when the AWS backends"), "{}", err(&aws));
        let proxies = [("VAULT_DEV_ISSUER", "true"), ("VAULT_TRUSTED_PROXIES", "10.0.0.0/8")];
        assert!(err(&proxies).contains("trusted_proxies"));
        let idp = [
            ("VAULT_DEV_ISSUER", "true"),
            ("VAULT_AUTH_ISSUER", "https://idp.example"),
            ("VAULT_AUTH_AUDIENCES", "vault"),
        ];
        assert!(err(&idp).contains("auth.issuer"));
        // Unset, it is simply off there (and then an identity provider is required).
        assert!(err(&aws[1..]).contains("no identity provider"));
        assert!(err(&proxies[1..]).contains("no identity provider"));
    }

    #[test]
    fn public_origins_and_budgets_are_checked() {
        let err = |env: &[(&str, &str)]| format!("{:#}", load(None, env).unwrap_err());
        let c = load(None, &[("VAULT_PUBLIC_ORIGINS", "https://Vault.Example.com, http://10.0.0.5:8080")]).unwrap();
        assert_eq!(c.public_hosts(), ["vault.example.com:443", "10.0.0.5:8080"]);
        for bad in ["vault.example.com", "https://vault.example.com/app", "ftp://x", "https://u@x.example"] {
            assert!(err(&[("VAULT_PUBLIC_ORIGINS", bad)]).contains("public_origins"), "{bad}");
        }
        let slow = [
            ("VAULT_AUTH_ISSUER", "https://idp.example"),
            ("VAULT_AUTH_AUDIENCES", "vault"),
            ("VAULT_KEYS", "aws-kms"),
            ("VAULT_AWS_PRIMARY_REGION", "eu-west-1"),
            ("VAULT_AWS_REPLICA_REGION", "eu-central-1"),
            ("VAULT_AWS_REGION_BUDGET_SECS", "15"),
        ];
        assert!(err(&slow).contains("region_budget_secs"));
        assert!(load(None, &slow[..5]).is_ok(), "the default budget fits the default request timeout");
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
        assert!(err(None, &[("VAULT_STORE", "s3")]).contains("aws.primary.region"));
        assert!(err(None, &[("VAULT_MAX_CONNECTIONS", "0")]).contains("max_connections"));
        assert!(err(None, &[("VAULT_KEYS", "kms")]).contains("VAULT_KEYS"));
        let same_region = [
            ("VAULT_KEYS", "aws-kms"),
            ("VAULT_AWS_PRIMARY_REGION", "eu-west-1"),
            ("VAULT_AWS_REPLICA_REGION", "eu-west-1"),
        ];
        assert!(err(None, &same_region).contains("another region"));
        let bad_bucket = [
            ("VAULT_STORE", "s3"),
            ("VAULT_AWS_PRIMARY_REGION", "eu-west-1"),
            ("VAULT_AWS_REPLICA_REGION", "eu-central-1"),
            ("VAULT_AWS_PRIMARY_BUCKET", "Vault_Primary"),
            ("VAULT_AWS_REPLICA_BUCKET", "vault-replica"),
        ];
        assert!(err(None, &bad_bucket).contains("Vault_Primary"));
    }

    #[test]
    fn aws_backends_from_the_file() {
        let config = load(
            Some(
                "keys = \"aws-kms\"\nstore = \"s3\"\n[auth]\nissuer = \"https://idp.example\"\naudiences = [\"vault\"]\n[aws.primary]\nregion = \"eu-west-1\"\nbucket = \"vault-a\"\n\
                 [aws.replica]\nregion = \"eu-central-1\"\nbucket = \"vault-b\"\nendpoint = \"http://127.0.0.1:9\"",
            ),
            &[],
        )
        .unwrap();
        assert_eq!((config.keys, config.store), (KeysBackend::AwsKms, StoreBackend::S3));
        assert_eq!(config.aws.replica.endpoint.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(config.aws.max_attempts, 4);
    }
}
