//! Audit anchors: the hash chain catches an edited or removed row in the middle of
//! a tenant's log, but not the newest rows deleted, nor a whole suffix rewritten
//! with fresh hashes by someone with database access. So once a day the verified
//! chain heads (tenant, sequence number, hash) are signed by the service key and
//! written write-once to the Object-Locked store of every region
//! (`anchors/<time>-<id>`), out of reach of the database.
//!
//! Anchors are themselves chained: each names the one before it (its name and the
//! SHA-256 of its stored bytes). `vault audit verify` reads them with a *versioned*
//! listing in every region, so none can be hidden: a delete marker over an anchor, an
//! anchor missing in a region, a second version of one, a broken link (an anchor
//! gone from between two others), or no anchor at all once the first was due, is
//! reported as tampering; and every anchored row must still exist with its hash.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Services;
use super::audit::{AuditLog, VerifyReport};
use crate::db::now_ms;
use crate::signing::Envelope;
use crate::store::{ObjectKey, ObjectStore, StoreError, put_small};

/// The kind of a signed anchor.
pub(crate) const ANCHOR_KIND: &str = "vault.audit-anchor";
const PREFIX: &str = "anchors";
/// Anchors are small; anything larger is not one.
const MAX_ANCHOR: usize = 64 << 20;

/// One chain head.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Head {
    pub tenant: String,
    pub seq: i64,
    pub hash: String,
}

/// The anchor an anchor follows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Link {
    /// Its object name.
    pub key: String,
    /// SHA-256 (hex) of its stored bytes (the signed envelope).
    pub sha256: String,
}

/// What an anchor records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Anchor {
    pub anchor_id: String,
    /// The object name it is stored under (so an old anchor cannot pass for a new one).
    pub key: String,
    pub at: i64,
    pub heads: Vec<Head>,
    /// Chains that did not verify when anchoring: anchored as they stood, and named so
    /// the damage stays on record.
    #[serde(default)]
    pub broken: Vec<String>,
    /// The anchor before this one; None only for the first.
    #[serde(default)]
    pub prev: Option<Link>,
    /// Whether this anchor takes part in the chain of anchors (those written before
    /// anchors were chained do not, and may only come before the first that does).
    #[serde(default)]
    pub chained: bool,
}

/// A disagreement between the log and an anchor, or a sign of tampering with anchors.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct AnchorProblem {
    pub anchor: String,
    pub tenant: String,
    pub seq: i64,
    pub problem: String,
}

/// What checking the anchors found.
#[derive(Debug, Clone, Serialize, Default)]
pub(crate) struct AnchorReport {
    pub anchors: usize,
    pub heads_checked: usize,
    /// The regions read (one, or the primary and the replica).
    pub regions: Vec<String>,
    pub problems: Vec<AnchorProblem>,
}

/// The stores holding anchors: every region, by name.
pub(crate) fn regions(state: &Services) -> Vec<(String, Arc<dyn ObjectStore>)> {
    match &state.replicated {
        Some(r) => vec![("primary".to_owned(), r.primary().clone()), ("replica".to_owned(), r.replica().clone())],
        None => vec![("primary".to_owned(), state.store.clone())],
    }
}

/// Verifies the chains and anchors their heads, in every region, linked to the newest
/// anchor so far. A broken chain is anchored as it stands (so it cannot be rewritten
/// unseen later) and named in `broken`, which `vault audit verify` reports for as long
/// as the anchor exists; the caller counts such a round as a failure.
pub(crate) async fn write_anchor(state: &Services) -> anyhow::Result<(ObjectKey, Anchor)> {
    let report = state.audit.verify().await?;
    for b in &report.breaks {
        tracing::error!(tenant = %b.tenant, seq = b.seq, problem = b.problem, "audit chain broken: not anchored");
    }
    let regions = regions(state);
    let prev = newest(regions[0].1.as_ref()).await?;
    let anchor_id = uuid::Uuid::new_v4().to_string();
    let now = time::OffsetDateTime::now_utc();
    let key = ObjectKey::new(format!("{PREFIX}/{}-{anchor_id}", stamp(now)))?;
    let anchor = Anchor {
        anchor_id,
        key: key.to_string(),
        at: now_ms(),
        heads: report
            .heads
            .into_iter()
            .chain(report.broken_heads)
            .map(|(tenant, seq, hash)| Head { tenant, seq, hash })
            .collect(),
        broken: report.breaks.iter().map(|b| b.tenant.clone()).collect(),
        prev,
        chained: true,
    };
    let bytes = Bytes::from(serde_json::to_vec(&state.signer.sign(ANCHOR_KIND, &anchor)?)?);
    let until = now + state.config.retention();
    for (_, store) in &regions {
        put_small(store.as_ref(), &key, bytes.clone(), until).await?;
    }
    tracing::info!(anchor = %key, chains = anchor.heads.len(), "audit chain heads anchored");
    Ok((key, anchor))
}

/// Names sort by time, to the millisecond: `anchors/20261129t193000123z-<id>`.
fn stamp(at: time::OffsetDateTime) -> String {
    let seconds =
        at.format(time::macros::format_description!("[year][month][day]t[hour][minute][second]")).unwrap_or_default();
    format!("{seconds}{:03}z", at.millisecond())
}

/// When the newest anchor in `store` was written (by its name), if there is one.
pub(crate) async fn newest_at(store: &dyn ObjectStore) -> Result<Option<time::OffsetDateTime>, StoreError> {
    let keys = store.list(PREFIX).await?;
    Ok(keys.iter().filter_map(|k| written_at(k.as_str())).max())
}

fn written_at(key: &str) -> Option<time::OffsetDateTime> {
    let name = key.strip_prefix("anchors/")?;
    let digits = name.get(..18)?;
    let format = time::macros::format_description!("[year][month][day]t[hour][minute][second]");
    let seconds = time::PrimitiveDateTime::parse(digits.get(..15)?, &format).ok()?;
    let millis: i64 = digits.get(15..18)?.parse().ok()?;
    Some(seconds.assume_utc() + time::Duration::milliseconds(millis))
}

/// The link to the newest anchor in `store` (by name, delete markers notwithstanding).
async fn newest(store: &dyn ObjectStore) -> anyhow::Result<Option<Link>> {
    let listed = store.list_versions(PREFIX).await?;
    let Some(last) = listed.iter().filter(|v| !v.delete_marker).max_by(|a, b| a.key.as_str().cmp(b.key.as_str()))
    else {
        return Ok(None);
    };
    let bytes = read_version(store, &last.key, &last.version).await?;
    Ok(Some(Link { key: last.key.to_string(), sha256: hex::encode(Sha256::digest(&bytes)) }))
}

async fn read_version(store: &dyn ObjectStore, key: &ObjectKey, version: &str) -> Result<Vec<u8>, StoreError> {
    use futures_util::StreamExt;
    let mut body = store.get_version(key, version).await?;
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk?);
        if out.len() > MAX_ANCHOR {
            return Err(StoreError::SizeMismatch);
        }
    }
    Ok(out)
}

/// Checks every anchor of every region (signed by `public_key`) against the log and
/// against each other. With `due`, no anchor at all is a problem once the oldest audit
/// row is older than that.
pub(crate) async fn verify_anchors(
    audit: &AuditLog,
    regions: &[(String, Arc<dyn ObjectStore>)],
    public_key: &str,
    due: Option<time::Duration>,
) -> anyhow::Result<AnchorReport> {
    let mut report = AnchorReport { regions: regions.iter().map(|(n, _)| n.clone()).collect(), ..Default::default() };
    let problem = |anchor: &str, tenant: &str, seq: i64, problem: String| AnchorProblem {
        anchor: anchor.to_owned(),
        tenant: tenant.to_owned(),
        seq,
        problem,
    };
    // Every stored version of every anchor, per region.
    let mut copies: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
    for (i, (region, store)) in regions.iter().enumerate() {
        let mut versions: BTreeMap<String, usize> = BTreeMap::new();
        for listed in store.list_versions(PREFIX).await? {
            let name = listed.key.to_string();
            if listed.delete_marker {
                let why =
                    format!("a delete marker hides this anchor in the {region} region: anchors are never deleted");
                report.problems.push(problem(&name, "", 0, why));
                copies.entry(name).or_default();
                continue;
            }
            *versions.entry(name.clone()).or_default() += 1;
            copies.entry(name).or_default().push((i, listed.version));
        }
        for (name, n) in versions.iter().filter(|(_, n)| **n > 1) {
            let why = format!("the anchor has {n} versions in the {region} region: anchors are written once");
            report.problems.push(problem(name, "", 0, why));
        }
    }
    let mut previous: Option<Link> = None;
    let mut chain_started = false;
    for (name, stored) in &copies {
        report.anchors += 1;
        let held: BTreeSet<usize> = stored.iter().map(|(i, _)| *i).collect();
        for (i, (region, _)) in regions.iter().enumerate() {
            if !held.contains(&i) {
                report.problems.push(problem(name, "", 0, format!("the anchor is missing in the {region} region")));
            }
        }
        let Some((region, version)) = stored.first() else { continue };
        let key = ObjectKey::new(name.as_str())?;
        let bytes = read_version(regions[*region].1.as_ref(), &key, version).await?;
        let link = Link { key: name.clone(), sha256: hex::encode(Sha256::digest(&bytes)) };
        // The copies in the other regions must be the same bytes.
        for (other, version) in stored.iter().skip(1) {
            let theirs = read_version(regions[*other].1.as_ref(), &key, version).await?;
            if theirs != bytes {
                let why = format!("the {} region holds other bytes under this anchor's name", regions[*other].0);
                report.problems.push(problem(name, "", 0, why));
            }
        }
        let anchor = serde_json::from_slice::<Envelope>(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|env| env.verify(Some(public_key), Some(ANCHOR_KIND)).map_err(|e| e.to_string()))
            .and_then(|payload| serde_json::from_value::<Anchor>(payload).map_err(|e| e.to_string()));
        let anchor = match anchor {
            Ok(anchor) if anchor.key != *name => {
                let why = format!("the anchor was signed for {}, not this name", anchor.key);
                report.problems.push(problem(name, "", 0, why));
                previous = Some(link);
                continue;
            }
            Ok(anchor) => anchor,
            Err(e) => {
                report.problems.push(problem(name, "", 0, format!("the anchor does not verify: {e}")));
                previous = Some(link);
                continue;
            }
        };
        if anchor.chained {
            if anchor.prev != previous {
                let why = match (&anchor.prev, &previous) {
                    (Some(p), _) if !copies.contains_key(&p.key) => {
                        format!("the anchor before this one ({}) is gone: anchors were removed", p.key)
                    }
                    (Some(p), Some(q)) if p.key != q.key => {
                        format!(
                            "this anchor follows {}, but {} stands before it: the chain of anchors has a gap",
                            p.key, q.key
                        )
                    }
                    (Some(p), _) => format!("the anchor before this one ({}) differs from what was linked", p.key),
                    (None, Some(q)) => format!("this anchor claims to be the first, but {} stands before it", q.key),
                    (None, None) => "the chain of anchors is broken here".to_owned(),
                };
                report.problems.push(problem(name, "", 0, why));
            }
            chain_started = true;
        } else if chain_started {
            report.problems.push(problem(name, "", 0, "an unchained anchor after chained ones".into()));
        }
        previous = Some(link);
        for tenant in &anchor.broken {
            let why = "the tenant's audit chain was already broken when this anchor was written".to_owned();
            report.problems.push(problem(name, tenant, 0, why));
        }
        for head in &anchor.heads {
            report.heads_checked += 1;
            match audit.row_hash(&head.tenant, head.seq).await? {
                None => report.problems.push(problem(
                    name,
                    &head.tenant,
                    head.seq,
                    "the anchored row is gone: rows were deleted from the end of the chain".into(),
                )),
                Some(hash) if hash != head.hash => report.problems.push(problem(
                    name,
                    &head.tenant,
                    head.seq,
                    "the anchored row's hash differs: the chain was rewritten".into(),
                )),
                Some(_) => {}
            }
        }
    }
    if let (0, Some(due), Some(oldest)) = (copies.len(), due, audit.oldest_at().await?) {
        let since = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(oldest) * 1_000_000)? + due;
        if since < time::OffsetDateTime::now_utc() {
            let why =
                format!("no anchor at all, though the first was due by {since}: anchors were removed or never written");
            report.problems.push(problem("", "", 0, why));
        }
    }
    Ok(report)
}

/// When the first anchor is due after the oldest audit row: one interval of the daily
/// job, plus the same again (at most an hour) for a job that runs late.
pub(crate) fn first_anchor_due(interval_secs: u64) -> Option<time::Duration> {
    let interval = i64::try_from(interval_secs).ok().filter(|s| *s > 0)?;
    Some(time::Duration::seconds(interval + interval.min(3600)))
}

/// `vault audit verify`: the chains, then the anchors.
pub(crate) async fn verify_all(state: &Services) -> anyhow::Result<(VerifyReport, AnchorReport)> {
    let chains = state.audit.verify().await?;
    let due = first_anchor_due(state.config.scrub.interval_secs);
    let anchors = verify_anchors(&state.audit, &regions(state), &state.signer.public_key(), due).await?;
    Ok((chains, anchors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_time_to_the_millisecond() {
        let t = time::macros::datetime!(2026-11-29 19:30:00.123 UTC);
        assert_eq!(stamp(t), "20261129t193000123z");
        assert_eq!(written_at(&format!("anchors/{}-x", stamp(t))), Some(t));
        assert!(stamp(t) < stamp(t + time::Duration::milliseconds(1)));
        assert_eq!(first_anchor_due(86_400), Some(time::Duration::seconds(86_400 + 3600)));
        assert_eq!(first_anchor_due(0), None);
    }
}
