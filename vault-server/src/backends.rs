//! Builds the key service and the object store the configuration asks for: embedded
//! (master key file, data directory) or AWS (KMS and S3 in two regions).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::aws::{Failover, budget_timeouts, sdk_config, write_timeouts};
use crate::config::{Config, KeysBackend, RegionSettings, StoreBackend};
use crate::keys::KeyService;
use crate::keys::cache::CachedKeys;
use crate::keys::kms::{KmsKeys, KmsRegion};
use crate::keys::local::{LocalKeys, master_key_path};
use crate::metrics::Metrics;
use crate::store::ObjectStore;
use crate::store::local::LocalStore;
use crate::store::replicated::ReplicatedStore;
use crate::store::s3::S3Store;

/// The configured key service. KMS unwraps go through a short-lived cache.
pub(crate) async fn keys(config: &Config, metrics: &Metrics) -> anyhow::Result<Arc<dyn KeyService>> {
    Ok(match config.keys {
        KeysBackend::Local => Arc::new(LocalKeys::load_or_create(&master_key_path(&config.data_dir))?),
        KeysBackend::AwsKms => {
            let aws = &config.aws;
            let region = |r: &RegionSettings| {
                let r = r.clone();
                async move {
                    let sdk = sdk_config(aws, &r, budget_timeouts(aws)).await;
                    KmsRegion { name: r.region.clone(), client: aws_sdk_kms::Client::new(&sdk) }
                }
            };
            let kms = KmsKeys::new(
                region(&aws.primary).await,
                region(&aws.replica).await,
                Failover::new(Duration::from_secs(aws.failover_secs)),
                metrics.kms_requests.clone(),
            );
            Arc::new(CachedKeys::new(kms, Duration::from_secs(aws.data_key_cache_secs), aws.data_key_cache_entries))
        }
    })
}

/// The configured object store, and the two-region view when there is a replica.
pub(crate) async fn store(config: &Config) -> anyhow::Result<(Arc<dyn ObjectStore>, Option<Arc<ReplicatedStore>>)> {
    match config.store {
        StoreBackend::Local => {
            let open = |dir: &std::path::Path| {
                LocalStore::open(dir)
                    .map_err(|e| anyhow::anyhow!("cannot open the object store {}: {e}", dir.display()))
            };
            let store = open(&config.data_dir.join("objects"))?;
            let Some(replica_dir) = &config.local_replica_dir else { return Ok((Arc::new(store), None)) };
            let part_size = usize::try_from(config.uploads.part_size).context("uploads.part_size")?;
            let replicated = Arc::new(ReplicatedStore::new(
                Arc::new(store),
                Arc::new(open(replica_dir)?),
                Failover::new(Duration::from_secs(config.aws.failover_secs)),
                part_size,
            ));
            Ok((replicated.clone(), Some(replicated)))
        }
        StoreBackend::S3 => {
            let (primary, replica) = s3_stores(config).await?;
            for store in [&primary, &replica] {
                store.ensure_bucket(false).await?;
            }
            let part_size = usize::try_from(config.uploads.part_size).context("uploads.part_size")?;
            let replicated = Arc::new(ReplicatedStore::new(
                Arc::new(primary),
                Arc::new(replica),
                Failover::new(Duration::from_secs(config.aws.failover_secs)),
                part_size,
            ));
            Ok((replicated.clone(), Some(replicated)))
        }
    }
}

/// One S3 store per region. Parts are spooled under `<data_dir>/spool` (emptied
/// here: files left there belong to requests a crash ended).
pub(crate) async fn s3_stores(config: &Config) -> anyhow::Result<(S3Store, S3Store)> {
    let spool = config.data_dir.join("spool");
    if spool.exists() {
        std::fs::remove_dir_all(&spool).with_context(|| format!("cannot empty {}", spool.display()))?;
    }
    let one = |r: &RegionSettings| {
        let r = r.clone();
        let spool = spool.clone();
        async move {
            let sdk = sdk_config(&config.aws, &r, write_timeouts(&config.aws)).await;
            // Path-style addressing for S3-compatible endpoints (no wildcard DNS). Responses
            // are checked by Vault's own SHA-256 read-back, so the SDK need not try (and
            // cannot, on multipart objects: their checksums are per part).
            let s3 = aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(r.endpoint.is_some())
                .response_checksum_validation(aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired)
                .build();
            S3Store::new(
                aws_sdk_s3::Client::from_conf(s3),
                r.bucket.clone(),
                r.region.clone(),
                spool,
                budget_timeouts(&config.aws),
            )
            .map_err(|e| anyhow::anyhow!("cannot create the spool directory: {e}"))
        }
    };
    Ok((one(&config.aws.primary).await?, one(&config.aws.replica).await?))
}

/// `vault setup`: migrates the database and creates (or checks) the Object Lock
/// buckets, so `vault serve` can start with a role that may do neither.
pub(crate) async fn setup(config: &Config) -> anyhow::Result<Vec<String>> {
    let mut done = Vec::new();
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    crate::db::Db::connect(&config.database_url(), true).await?;
    done.push("database migrated".to_owned());
    if config.store == StoreBackend::S3 {
        let (primary, replica) = s3_stores(config).await?;
        for store in [&primary, &replica] {
            store.ensure_bucket(true).await?;
            done.push(format!("bucket {} ({}) has Object Lock", store.bucket(), store.region));
        }
    }
    if config.keys == KeysBackend::AwsKms {
        let metrics = Metrics::default();
        for (region, answer) in keys(config, &metrics).await?.check().await {
            answer.map_err(|e| anyhow::anyhow!("KMS in {region}: {e}"))?;
            done.push(format!("KMS reachable in {region}"));
        }
    }
    Ok(done)
}
