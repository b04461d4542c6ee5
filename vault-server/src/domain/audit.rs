//! The audit log: one row per consequential action, hash-chained per tenant.
//!
//! Row `n` of a tenant stores `hash = SHA-256(canonical(row n) ‖ prev_hash)` with
//! `prev_hash` = row `n − 1`'s hash (64 zeros for the first row), over the exact
//! stored text. Editing, deleting or inserting a row in the middle of a chain breaks
//! every later link, which `vault audit verify` reports by tenant and sequence number.
//! Deleting the newest rows is caught only against an anchor kept elsewhere (the
//! daily chain heads written to the Object-Locked store: `super::anchors`). The
//! database refuses `UPDATE`/`DELETE` on the table by trigger, and no API updates or
//! deletes rows.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::api::audit::AuditEntry as AuditRow;
pub(crate) use crate::api::audit::{Action, Outcome};
use crate::db::{Db, is_unique_violation, now_ms};

/// The chain of events that belong to no family (failed authentication). No family id
/// can take this value: family ids start with a letter or digit
/// (`super::families::valid_id`), and [`AuditLog::page`] refuses it.
pub(crate) const SYSTEM_TENANT: &str = "-";
/// Longest metadata text kept in a row; longer metadata is replaced by its length.
const MAX_METADATA: usize = 4096;
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who asked, from where: taken from the request, never from its body.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestMeta {
    pub ip: String,
    pub user_agent: String,
    pub request_id: String,
    /// The TCP peer (not recorded: `ip` is the client as the audit log names it).
    pub peer: Option<std::net::SocketAddr>,
}

/// One thing that happened.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub tenant: String,
    pub actor: String,
    pub action: Action,
    pub target: String,
    pub outcome: Outcome,
    pub metadata: serde_json::Value,
}

/// The actor of rows the service writes on its own (background jobs).
pub(crate) const SYSTEM_ACTOR: &str = "system";

/// A stored row, parsed once where it is read.
fn row_of(r: &sqlx::any::AnyRow) -> Result<AuditRow, sqlx::Error> {
    Ok(AuditRow {
        tenant: r.try_get("tenant")?,
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        target: r.try_get("target")?,
        outcome: r.try_get("outcome")?,
        ip: r.try_get("ip")?,
        user_agent: r.try_get("user_agent")?,
        request_id: r.try_get("request_id")?,
        metadata: r.try_get("metadata")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

/// The hash a row must carry, from its own fields and `prev_hash`.
pub(crate) fn expected_hash(row: &AuditRow) -> String {
    let canonical = serde_json::json!([
        row.tenant,
        row.seq,
        row.at,
        row.actor,
        row.action,
        row.target,
        row.outcome,
        row.ip,
        row.user_agent,
        row.request_id,
        row.metadata,
    ]);
    let mut h = Sha256::new();
    h.update(canonical.to_string().as_bytes());
    h.update(row.prev_hash.as_bytes());
    hex::encode(h.finalize())
}

const COLUMNS: &str =
    "tenant, seq, at, actor, action, target, outcome, ip, user_agent, request_id, metadata, prev_hash, hash";

/// Appends to and reads the audit log.
#[derive(Debug)]
pub(crate) struct AuditLog {
    db: Db,
    /// Serialises appends to one chain within this process, striped by tenant: the
    /// chains of unrelated families append side by side. Across instances PostgreSQL's
    /// advisory lock on the chain does the same (`try_append`), and the primary key
    /// (tenant, seq) is the last guard (a lost race retries).
    append: [tokio::sync::Mutex<()>; STRIPES],
}

/// Lock stripes for appends: tenants that share one only wait for each other.
const STRIPES: usize = 64;

/// A chain's number: its stripe here, and its advisory lock key in PostgreSQL.
fn chain_key(tenant: &str) -> i64 {
    let digest = Sha256::digest(tenant.as_bytes());
    i64::from_be_bytes([digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7]])
}

/// The first row where a chain breaks.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Break {
    pub tenant: String,
    pub seq: i64,
    pub problem: &'static str,
}

/// What `verify` found.
#[derive(Debug, Clone, Serialize, Default)]
pub(crate) struct VerifyReport {
    pub chains: u64,
    pub rows: u64,
    pub breaks: Vec<Break>,
    /// The newest hash of each chain that verifies, for anchoring elsewhere.
    pub heads: Vec<(String, i64, String)>,
    /// The newest row of each chain that does not verify, as it stands.
    pub broken_heads: Vec<(String, i64, String)>,
}

impl AuditLog {
    pub(crate) fn new(db: Db) -> Self {
        Self { db, append: std::array::from_fn(|_| tokio::sync::Mutex::new(())) }
    }

    /// Appends a row of the service's own (a background job's) to `tenant`'s chain.
    pub(crate) async fn system(
        &self,
        tenant: &str,
        action: Action,
        target: &str,
        outcome: Outcome,
        metadata: serde_json::Value,
    ) -> Result<(), sqlx::Error> {
        let event = Event {
            tenant: tenant.to_owned(),
            actor: SYSTEM_ACTOR.to_owned(),
            action,
            target: target.to_owned(),
            outcome,
            metadata,
        };
        self.record(&event, &RequestMeta::default()).await
    }

    /// Appends one row to the event's tenant chain.
    pub(crate) async fn record(&self, event: &Event, req: &RequestMeta) -> Result<(), sqlx::Error> {
        let stripe = usize::try_from(chain_key(&event.tenant).unsigned_abs() % STRIPES as u64).unwrap_or(0);
        let _guard = self.append[stripe].lock().await;
        let mut attempts = 0;
        loop {
            match self.try_append(event, req).await {
                Err(e) if is_unique_violation(&e) && attempts < 5 => attempts += 1,
                other => return other,
            }
        }
    }

    async fn try_append(&self, event: &Event, req: &RequestMeta) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin_write().await?;
        if self.db.engine() == crate::db::Engine::Postgres {
            // One appender per chain across instances, until this transaction ends.
            sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(chain_key(&event.tenant)).execute(&mut *tx).await?;
        }
        let last = sqlx::query("SELECT seq, hash FROM audit_log WHERE tenant = $1 ORDER BY seq DESC LIMIT 1")
            .bind(&event.tenant)
            .fetch_optional(&mut *tx)
            .await?;
        let (seq, prev_hash) = match last {
            Some(r) => (r.try_get::<i64, _>("seq")? + 1, r.try_get::<String, _>("hash")?),
            None => (1, GENESIS.to_owned()),
        };
        // Rows are permanent: fields a caller chooses are bounded.
        let metadata = event.metadata.to_string();
        let metadata = if metadata.len() > MAX_METADATA {
            serde_json::json!({ "truncated_bytes": metadata.len() }).to_string()
        } else {
            metadata
        };
        let mut row = AuditRow {
            tenant: event.tenant.clone(),
            seq,
            at: now_ms(),
            actor: truncate(&event.actor, 256),
            action: event.action.as_str().to_owned(),
            target: truncate(&event.target, 256),
            outcome: event.outcome.as_str().to_owned(),
            ip: truncate(&req.ip, 64),
            user_agent: truncate(&req.user_agent, 512),
            request_id: truncate(&req.request_id, 64),
            metadata,
            prev_hash,
            hash: String::new(),
        };
        row.hash = expected_hash(&row);
        sqlx::query(&format!(
            "INSERT INTO audit_log ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(&row.tenant)
        .bind(row.seq)
        .bind(row.at)
        .bind(&row.actor)
        .bind(&row.action)
        .bind(&row.target)
        .bind(&row.outcome)
        .bind(&row.ip)
        .bind(&row.user_agent)
        .bind(&row.request_id)
        .bind(&row.metadata)
        .bind(&row.prev_hash)
        .bind(&row.hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// A page of a family's log, newest first, before sequence number `before`. The
    /// system chain is never a family's page.
    pub(crate) async fn page(
        &self,
        tenant: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditRow>, sqlx::Error> {
        if tenant == SYSTEM_TENANT {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM audit_log WHERE tenant = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
        ))
        .bind(tenant)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(row_of).collect()
    }

    /// The newest rows of a family's log about `target` by `action` (a share link's
    /// openings), newest first.
    pub(crate) async fn about(
        &self,
        tenant: &str,
        target: &str,
        action: Action,
        limit: i64,
    ) -> Result<Vec<AuditRow>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM audit_log WHERE tenant = $1 AND target = $2 AND action = $3 \
             ORDER BY seq DESC LIMIT $4"
        ))
        .bind(tenant)
        .bind(target)
        .bind(action.as_str())
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(row_of).collect()
    }

    /// When the oldest row of any chain was written (ms), if there is one.
    pub(crate) async fn oldest_at(&self) -> Result<Option<i64>, sqlx::Error> {
        let row = sqlx::query("SELECT MIN(at) AS at FROM audit_log").fetch_one(self.db.pool()).await?;
        row.try_get("at")
    }

    /// The stored hash of row `seq` of `tenant`'s chain, if the row exists.
    pub(crate) async fn row_hash(&self, tenant: &str, seq: i64) -> Result<Option<String>, sqlx::Error> {
        let row = sqlx::query("SELECT hash FROM audit_log WHERE tenant = $1 AND seq = $2")
            .bind(tenant)
            .bind(seq)
            .fetch_optional(self.db.pool())
            .await?;
        row.map(|r| r.try_get("hash")).transpose()
    }

    /// Checks every chain, page by page (memory bounded by the page size).
    pub(crate) async fn verify(&self) -> Result<VerifyReport, sqlx::Error> {
        let tenants: Vec<String> = sqlx::query("SELECT DISTINCT tenant FROM audit_log ORDER BY tenant")
            .fetch_all(self.db.pool())
            .await?
            .iter()
            .map(|r| r.try_get("tenant"))
            .collect::<Result<_, _>>()?;
        let mut report = VerifyReport::default();
        for tenant in tenants {
            report.chains += 1;
            let (mut expected_seq, mut prev) = (1i64, GENESIS.to_owned());
            let mut broken = None;
            'pages: loop {
                let rows = sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM audit_log WHERE tenant = $1 AND seq >= $2 ORDER BY seq LIMIT 1000"
                ))
                .bind(&tenant)
                .bind(expected_seq)
                .fetch_all(self.db.pool())
                .await?;
                if rows.is_empty() {
                    break;
                }
                for r in &rows {
                    let row = row_of(r)?;
                    report.rows += 1;
                    let problem = if row.seq != expected_seq {
                        Some("a row is missing before this one")
                    } else if row.prev_hash != prev {
                        Some("prev_hash does not match the previous row")
                    } else if row.hash != expected_hash(&row) {
                        Some("the row's content does not match its hash")
                    } else {
                        None
                    };
                    if let Some(problem) = problem {
                        broken = Some(Break { tenant: tenant.clone(), seq: row.seq, problem });
                        break 'pages;
                    }
                    expected_seq += 1;
                    prev = row.hash;
                }
            }
            match broken {
                Some(b) => {
                    // The chain's newest row as it stands, so an anchor can still pin it.
                    let last =
                        sqlx::query("SELECT seq, hash FROM audit_log WHERE tenant = $1 ORDER BY seq DESC LIMIT 1")
                            .bind(&tenant)
                            .fetch_one(self.db.pool())
                            .await?;
                    report.broken_heads.push((tenant, last.try_get("seq")?, last.try_get("hash")?));
                    report.breaks.push(b);
                }
                None => report.heads.push((tenant, expected_seq - 1, prev)),
            }
        }
        Ok(report)
    }
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// A page of the member's family's log, newest first, for owners and admins: at most
/// `limit` (1 to 500) rows before sequence number `before`, and the next page's `before`.
pub(crate) async fn family_page(
    s: &super::Services,
    m: &super::Member,
    before: Option<i64>,
    limit: Option<u32>,
) -> super::DomainResult<(Vec<AuditRow>, Option<i64>)> {
    m.require_manager(s, Action::AuditRead, "").await?;
    chain_page(s, &m.family.id, before, limit).await
}

/// A page of `tenant`'s chain (a family's or a studio's), newest first: at most `limit`
/// (1 to 500, default 100) rows before sequence number `before`, and the next page's `before`.
pub(crate) async fn chain_page(
    s: &super::Services,
    tenant: &str,
    before: Option<i64>,
    limit: Option<u32>,
) -> super::DomainResult<(Vec<AuditRow>, Option<i64>)> {
    let limit = i64::from(limit.unwrap_or(100).clamp(1, 500));
    let items = s.audit.page(tenant, before, limit).await?;
    let next_before =
        (items.len() == usize::try_from(limit).unwrap_or(0)).then(|| items.last().map(|r| r.seq)).flatten();
    Ok((items, next_before))
}
