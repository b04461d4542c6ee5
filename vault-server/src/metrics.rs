//! Prometheus metrics, served at `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub method: String,
    /// The route template (`/v1/recordings/{id}`), never the concrete path.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct KmsLabels {
    pub region: String,
    pub op: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct JobLabels {
    /// `anchor`, `scrub`, `replication`, `purge`, `upload_sweep`, `trash`, `share_links`,
    /// `export_links`, `deliveries`.
    pub job: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct DependencyLabels {
    /// `database`, `key_service`, `object_store`.
    pub dependency: &'static str,
    /// The region, `local`, or empty for the database.
    pub region: String,
}

/// The service's metrics.
pub(crate) struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Family<RequestLabels, Histogram>,
    pub auth_failures: Counter,
    pub key_releases: Counter,
    pub uploads_committed: Counter,
    pub upload_bytes: Counter,
    pub download_bytes: Counter,
    pub uploads_expired: Counter,
    pub uploads_in_flight: Gauge,
    /// KMS requests by region and operation (a playback session should cost one `Decrypt`).
    pub kms_requests: Family<KmsLabels, Counter>,
    pub replications: Counter,
    pub replication_failures: Counter,
    pub replication_pending: Gauge,
    pub scrub_runs: Counter,
    pub scrub_objects: Counter,
    pub scrub_repairs: Counter,
    pub scrub_failures: Counter,
    /// Unix seconds of the end of the last scrub that left nothing unrepaired.
    pub scrub_last_success: Gauge,
    /// Background job rounds that failed (alert on any increase).
    pub job_failures: Family<JobLabels, Counter>,
    /// Rounds of each background job this instance ran (of several instances, one
    /// runs each round of a singleton job).
    pub job_rounds: Family<JobLabels, Counter>,
    /// Unix seconds of each background job's last round that succeeded.
    pub job_last_success: Family<JobLabels, Gauge>,
    /// 1 while a dependency answered this instance's last probe (`domain::health`).
    pub dependency_up: Family<DependencyLabels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("vault");
        let requests = Family::<RequestLabels, Counter>::default();
        let request_seconds = Family::<RequestLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.0005, 2.0, 16))) as fn() -> Histogram,
        );
        let m = Self {
            requests: requests.clone(),
            request_seconds: request_seconds.clone(),
            auth_failures: Counter::default(),
            key_releases: Counter::default(),
            uploads_committed: Counter::default(),
            upload_bytes: Counter::default(),
            download_bytes: Counter::default(),
            uploads_expired: Counter::default(),
            uploads_in_flight: Gauge::default(),
            kms_requests: Family::default(),
            replications: Counter::default(),
            replication_failures: Counter::default(),
            replication_pending: Gauge::default(),
            scrub_runs: Counter::default(),
            scrub_objects: Counter::default(),
            scrub_repairs: Counter::default(),
            scrub_failures: Counter::default(),
            scrub_last_success: Gauge::default(),
            job_failures: Family::default(),
            job_rounds: Family::default(),
            job_last_success: Family::default(),
            dependency_up: Family::default(),
            registry: Registry::default(),
        };
        registry.register("http_requests", "HTTP requests answered", requests);
        registry.register("http_request_duration_seconds", "Time to answer (headers)", request_seconds);
        registry.register("auth_failures", "Failed authentications", m.auth_failures.clone());
        registry.register("key_releases", "Data keys released for playback", m.key_releases.clone());
        registry.register("uploads_committed", "Recordings committed", m.uploads_committed.clone());
        registry.register("upload_bytes", "Ciphertext bytes stored", m.upload_bytes.clone());
        registry.register("download_bytes", "Ciphertext bytes served", m.download_bytes.clone());
        registry.register("uploads_expired", "Abandoned uploads removed", m.uploads_expired.clone());
        registry.register("uploads_in_flight", "Upload requests under way", m.uploads_in_flight.clone());
        registry.register("kms_requests", "Requests to AWS KMS", m.kms_requests.clone());
        registry.register("replications", "Objects copied to the replica region", m.replications.clone());
        registry.register("replication_failures", "Failed copy attempts (retried)", m.replication_failures.clone());
        registry.register("replication_pending", "Copies waiting in the outbox", m.replication_pending.clone());
        registry.register("scrub_runs", "Integrity scrubs finished", m.scrub_runs.clone());
        registry.register("scrub_objects", "Objects checked by the integrity scrub", m.scrub_objects.clone());
        registry.register("scrub_repairs", "Copies restored by the integrity scrub", m.scrub_repairs.clone());
        registry.register("scrub_failures", "Objects the scrub could not verify or repair", m.scrub_failures.clone());
        registry.register(
            "scrub_last_success_timestamp_seconds",
            "End of the last scrub that left nothing unrepaired",
            m.scrub_last_success.clone(),
        );
        registry.register("job_failures", "Background job rounds that failed", m.job_failures.clone());
        registry.register("job_rounds", "Background job rounds this instance ran", m.job_rounds.clone());
        registry.register(
            "job_last_success_timestamp_seconds",
            "End of each background job's last successful round",
            m.job_last_success.clone(),
        );
        registry.register(
            "dependency_up",
            "Whether a dependency answered this instance's last probe",
            m.dependency_up.clone(),
        );
        Self { registry, ..m }
    }
}

impl Metrics {
    /// Records how a round of a background job ended. A failure is counted and logged
    /// as an error: a job that keeps failing (a missing grant, a store away) must not
    /// pass as a warning in a busy log.
    pub(crate) fn job_round<T, E: std::fmt::Display>(&self, job: &'static str, result: &Result<T, E>) {
        let labels = JobLabels { job };
        self.job_rounds.get_or_create(&labels).inc();
        match result {
            Ok(_) => {
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                self.job_last_success.get_or_create(&labels).set(now);
            }
            Err(e) => {
                self.job_failures.get_or_create(&labels).inc();
                tracing::error!(job, error = %e, "background job failed");
            }
        }
    }

    pub(crate) fn dependency_up(&self, dependency: &'static str, region: &str, up: bool) {
        self.dependency_up
            .get_or_create(&DependencyLabels { dependency, region: region.to_owned() })
            .set(i64::from(up));
    }

    /// The text exposition format.
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
