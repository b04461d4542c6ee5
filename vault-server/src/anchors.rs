//! Audit anchors: the hash chain catches an edited or removed row in the middle of
//! a tenant's log, but not the newest rows deleted, nor a whole suffix rewritten
//! with fresh hashes by someone with database access. So once a day the verified
//! chain heads (tenant, sequence number, hash) are signed by the service key and
//! written write-once to the Object-Locked store (`anchors/<time>-<id>`), out of
//! reach of the database. `vault audit verify` then checks every chain against every
//! anchor: each anchored row must still exist with the anchored hash.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::audit::{AuditLog, VerifyReport};
use crate::db::now_ms;
use crate::signing::Envelope;
use crate::store::{ObjectKey, ObjectStore, get_small, put_small};

/// The kind of a signed anchor.
pub const ANCHOR_KIND: &str = "vault.audit-anchor";
const PREFIX: &str = "anchors";

/// One chain head.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Head {
    pub tenant: String,
    pub seq: i64,
    pub hash: String,
}

/// What an anchor records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Anchor {
    pub anchor_id: String,
    /// The object name it is stored under (so an old anchor cannot pass for a new one).
    pub key: String,
    pub at: i64,
    pub heads: Vec<Head>,
    /// Chains that did not verify when anchoring: not anchored (that would bless the
    /// damage), named so the gap is on record.
    #[serde(default)]
    pub broken: Vec<String>,
}

/// A disagreement between the log and an anchor.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AnchorProblem {
    pub anchor: String,
    pub tenant: String,
    pub seq: i64,
    pub problem: String,
}

/// What checking the anchors found.
#[derive(Debug, Clone, Serialize, Default)]
pub struct AnchorReport {
    pub anchors: usize,
    pub heads_checked: usize,
    pub problems: Vec<AnchorProblem>,
}

/// Verifies the chains and anchors the heads of those that verify, in both regions.
/// A broken chain is named in the anchor and logged as an error, not anchored (that
/// would bless the damage); the others are anchored all the same.
pub async fn write_anchor(state: &AppState) -> anyhow::Result<(ObjectKey, Anchor)> {
    let report = state.audit.verify().await?;
    for b in &report.breaks {
        tracing::error!(tenant = %b.tenant, seq = b.seq, problem = b.problem, "audit chain broken: not anchored");
    }
    let anchor_id = uuid::Uuid::new_v4().to_string();
    // Names sort by time: anchors/20261129t193000z-<id>.
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!("[year][month][day]t[hour][minute][second]z"))?;
    let key = ObjectKey::new(format!("{PREFIX}/{stamp}-{anchor_id}"))?;
    let anchor = Anchor {
        anchor_id,
        key: key.to_string(),
        at: now_ms(),
        heads: report.heads.into_iter().map(|(tenant, seq, hash)| Head { tenant, seq, hash }).collect(),
        broken: report.breaks.iter().map(|b| b.tenant.clone()).collect(),
    };
    let bytes = Bytes::from(serde_json::to_vec(&state.signer.sign(ANCHOR_KIND, &anchor)?)?);
    let until = time::OffsetDateTime::now_utc() + state.config.retention();
    let regions = match &state.replicated {
        Some(r) => vec![r.primary().clone(), r.replica().clone()],
        None => vec![state.store.clone()],
    };
    for store in regions {
        put_small(store.as_ref(), &key, bytes.clone(), until).await?;
    }
    tracing::info!(anchor = %key, chains = anchor.heads.len(), "audit chain heads anchored");
    Ok((key, anchor))
}

/// Checks every anchor in `store` (signed by `public_key`) against the log.
pub async fn verify_anchors(
    audit: &AuditLog,
    store: &dyn ObjectStore,
    public_key: &str,
) -> anyhow::Result<AnchorReport> {
    let mut report = AnchorReport::default();
    for key in store.list(PREFIX).await? {
        report.anchors += 1;
        let name = key.to_string();
        let problem = |tenant: &str, seq: i64, problem: String| AnchorProblem {
            anchor: name.clone(),
            tenant: tenant.to_owned(),
            seq,
            problem,
        };
        let bytes = get_small(store, &key, None, 64 << 20).await?;
        let anchor = serde_json::from_slice::<Envelope>(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|env| env.verify(Some(public_key), Some(ANCHOR_KIND)).map_err(|e| e.to_string()))
            .and_then(|payload| serde_json::from_value::<Anchor>(payload).map_err(|e| e.to_string()));
        let anchor = match anchor {
            Ok(anchor) if anchor.key != name => {
                report.problems.push(problem(
                    "",
                    0,
                    format!("the anchor was signed for {}, not this name", anchor.key),
                ));
                continue;
            }
            Ok(anchor) => anchor,
            Err(e) => {
                report.problems.push(problem("", 0, format!("the anchor does not verify: {e}")));
                continue;
            }
        };
        for head in &anchor.heads {
            report.heads_checked += 1;
            match audit.row_hash(&head.tenant, head.seq).await? {
                None => report.problems.push(problem(
                    &head.tenant,
                    head.seq,
                    "the anchored row is gone: rows were deleted from the end of the chain".into(),
                )),
                Some(hash) if hash != head.hash => report.problems.push(problem(
                    &head.tenant,
                    head.seq,
                    "the anchored row's hash differs: the chain was rewritten".into(),
                )),
                Some(_) => {}
            }
        }
    }
    Ok(report)
}

/// `vault audit verify`: the chains, then the anchors.
pub async fn verify_all(state: &AppState) -> anyhow::Result<(VerifyReport, AnchorReport)> {
    let chains = state.audit.verify().await?;
    let anchors = verify_anchors(&state.audit, state.store.as_ref(), &state.signer.public_key()).await?;
    Ok((chains, anchors))
}
