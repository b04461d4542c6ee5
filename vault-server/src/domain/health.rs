//! What this instance's dependencies answer: the database, the key service and the
//! object store in each region, probed in the background every `health_check_secs`.
//!
//! Why apart from readiness: behind a load balancer every instance shares the same
//! regions, so a region's outage must not take every instance out of rotation at once
//! (the service fails over to the other region by itself). `/readyz` therefore asks
//! only for this instance's database; the regions show here, in `/healthz`'s details
//! and in `vault_dependency_up`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;

use super::Services;
use crate::config::StoreBackend;
use crate::db::now_ms;
use crate::store::{ObjectKey, ObjectStore, StoreError};

/// How long one probe may take before its dependency counts as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// One dependency's last answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct Dependency {
    /// `database`, `key_service` or `object_store`.
    pub name: &'static str,
    /// The region (`eu-west-1`), `local` or `local-replica`; none for the database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub up: bool,
    /// Since when (Unix ms) it has answered so, as far as this instance has seen.
    pub since: i64,
}

/// The last round of probes, shared between the prober and `/healthz`.
#[derive(Debug, Default)]
pub(crate) struct Health {
    last: Mutex<Option<(i64, Vec<Dependency>)>>,
}

impl Health {
    /// When the last round ended, and what it found; none before the first.
    pub(crate) fn last(&self) -> Option<(i64, Vec<Dependency>)> {
        self.last.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Keeps a round's answers; a dependency's `since` moves only when its answer
    /// changes, and a change is logged (down at WARN, back at INFO).
    fn record(&self, mut answers: Vec<Dependency>) {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        for a in &mut answers {
            let before =
                last.as_ref().and_then(|(_, deps)| deps.iter().find(|d| d.name == a.name && d.region == a.region));
            match before {
                Some(b) if b.up == a.up => a.since = b.since,
                _ if a.up => tracing::info!(dependency = a.name, region = a.region.as_deref(), "dependency answers"),
                _ => tracing::warn!(dependency = a.name, region = a.region.as_deref(), "dependency down"),
            }
        }
        *last = Some((now_ms(), answers));
    }
}

/// Probes every `health_check_secs` until stopped, the first time at once.
pub(crate) async fn probe_forever(s: Arc<Services>) {
    let every = Duration::from_secs(s.config.health_check_secs.max(1));
    loop {
        probe(&s).await;
        tokio::time::sleep(every).await;
    }
}

/// One round: every dependency at once, each within [`PROBE_TIMEOUT`].
pub(crate) async fn probe(s: &Services) {
    let now = now_ms();
    let up = |name: &'static str, region: Option<String>, up: bool| Dependency { name, region, up, since: now };
    let database = async {
        let answered = tokio::time::timeout(PROBE_TIMEOUT, s.db.check()).await;
        if let Ok(Err(e)) = &answered {
            tracing::debug!(error = %e, "database probe failed");
        }
        up("database", None, matches!(answered, Ok(Ok(()))))
    };
    let keys = async {
        match tokio::time::timeout(PROBE_TIMEOUT, s.keys.check()).await {
            Ok(regions) => {
                regions.into_iter().map(|(region, answer)| up("key_service", Some(region), answer.is_ok())).collect()
            }
            Err(_) => key_regions(s).into_iter().map(|region| up("key_service", Some(region), false)).collect(),
        }
    };
    let stores = futures_util::future::join_all(
        store_regions(s)
            .into_iter()
            .map(|(region, store)| async move { up("object_store", Some(region), reachable(store.as_ref()).await) }),
    );
    let (database, keys, stores): (Dependency, Vec<Dependency>, Vec<Dependency>) = tokio::join!(database, keys, stores);
    let answers: Vec<Dependency> = std::iter::once(database).chain(keys).chain(stores).collect();
    for a in &answers {
        s.metrics.dependency_up(a.name, a.region.as_deref().unwrap_or(""), a.up);
    }
    s.health.record(answers);
}

/// A store answers when it says whether an object exists (absent is an answer).
async fn reachable(store: &dyn ObjectStore) -> bool {
    let Ok(key) = ObjectKey::new("health/probe") else { return false };
    matches!(tokio::time::timeout(PROBE_TIMEOUT, store.head(&key)).await, Ok(Ok(_) | Err(StoreError::NotFound)))
}

/// The AWS regions, primary first.
fn aws_regions(s: &Services) -> Vec<String> {
    vec![s.config.aws.primary.region.clone(), s.config.aws.replica.region.clone()]
}

/// The regions the key service uses, for a probe that ran out of time.
fn key_regions(s: &Services) -> Vec<String> {
    match s.config.keys {
        crate::config::KeysBackend::AwsKms => aws_regions(s),
        crate::config::KeysBackend::Local => vec!["local".to_owned()],
    }
}

/// Each region's store (as the anchors see them: the primary, then any replica) with
/// its name.
fn store_regions(s: &Services) -> Vec<(String, Arc<dyn ObjectStore>)> {
    let names = match s.config.store {
        StoreBackend::S3 => aws_regions(s),
        StoreBackend::Local => vec!["local".to_owned(), "local-replica".to_owned()],
    };
    names.into_iter().zip(super::anchors::regions(s)).map(|(name, (_, store))| (name, store)).collect()
}
