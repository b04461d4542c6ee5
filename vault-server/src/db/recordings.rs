//! Recordings: metadata of one encrypted object each, parsed here into typed values
//! (callers never re-parse a column).

use sqlx::Row;
use sqlx::any::AnyRow;
use vault_core::{EncryptedDataKey, PartPlan};

use super::{Db, decode_error, now_ms};
use crate::api::recordings::EdkJson;
pub(crate) use crate::api::recordings::{Encryption, RecordingKind, RecordingStatus};
use crate::store::ObjectKey;

/// One recording's metadata. `edks` holds wrapped data keys only.
#[derive(Debug, Clone)]
pub(crate) struct Recording {
    pub id: String,
    pub family_id: String,
    pub title: String,
    pub kind: RecordingKind,
    /// As the creator gave it (the domain's media-type rules apply when it is served).
    pub content_type: String,
    pub plaintext_size: u64,
    pub encryption: Encryption,
    /// Frame length and frames per upload part.
    pub plan: PartPlan,
    pub status: RecordingStatus,
    pub object_key: ObjectKey,
    /// The wrapped data keys; empty once erased.
    pub edks: Vec<EncryptedDataKey>,
    pub created_by: String,
    pub created_at: i64,
    pub committed_at: Option<i64>,
    pub ciphertext_size: Option<u64>,
    /// SHA-256 of the committed object, read back from the store.
    pub sha256: Option<[u8; 32]>,
    pub header_len: Option<u64>,
    pub version: Option<String>,
    pub retain_until: Option<i64>,
    /// The copy in the replica region, once made and verified.
    pub replica: Option<Replica>,
    /// In the trash: hidden and refused, restorable until its end date.
    pub trash: Option<Trash>,
    /// The encrypted details (an ESDK message under the family's library key).
    pub details: Option<Vec<u8>>,
    /// The encrypted poster's size, if it has one (the bytes are read on their own).
    pub poster_size: Option<u64>,
    /// The studio delivery it came in (`crate::domain::deliveries`), if a studio
    /// contributed it.
    pub delivery_id: Option<String>,
}

/// A recording's stay in the trash.
#[derive(Debug, Clone)]
pub(crate) struct Trash {
    pub at: i64,
    pub by: String,
    /// Unix ms: the trash job erases it then.
    pub until: i64,
}

/// A recording's copy in the replica region.
#[derive(Debug, Clone)]
pub(crate) struct Replica {
    pub version: String,
    pub sha256: Option<[u8; 32]>,
    pub replicated_at: Option<i64>,
}

/// What creating a recording records.
#[derive(Debug)]
pub(crate) struct NewRecording<'a> {
    pub id: &'a str,
    pub family_id: &'a str,
    pub title: &'a str,
    pub kind: RecordingKind,
    pub content_type: &'a str,
    pub plaintext_size: u64,
    pub encryption: Encryption,
    pub plan: PartPlan,
    pub object_key: &'a ObjectKey,
    pub edks: &'a [EncryptedDataKey],
    pub created_by: &'a str,
    /// The contributing studio, for a delivery's recording.
    pub studio_id: Option<&'a str>,
    /// That delivery.
    pub delivery_id: Option<&'a str>,
}

pub(super) const COLUMNS: &str = "id, family_id, title, kind, content_type, plaintext_size, encryption, frame_length, \
    part_frames, status, object_key, edks, created_by, created_at, committed_at, ciphertext_size, sha256, \
    header_len, version, retain_until, replica_version, replica_sha256, replicated_at, trashed_at, trashed_by, \
    trash_until, details, poster_size, delivery_id";

/// What an erased recording loses, set by every statement that erases one: its
/// wrapped data keys and its sealed details and poster (`crate::domain::erasure`).
pub(super) const ERASED: &str = "status = 'deleted', edks = '[]', details = NULL, poster = NULL, poster_size = NULL";

/// A non-negative integer column.
pub(super) fn unsigned<T: TryFrom<i64>>(row: &AnyRow, column: &str) -> Result<T, sqlx::Error> {
    let v: i64 = row.try_get(column)?;
    T::try_from(v).map_err(|_| decode_error(column, v))
}

fn unsigned_opt(row: &AnyRow, column: &str) -> Result<Option<u64>, sqlx::Error> {
    let v: Option<i64> = row.try_get(column)?;
    v.map(|v| u64::try_from(v).map_err(|_| decode_error(column, v))).transpose()
}

/// A SHA-256 stored as hex.
pub(super) fn sha256(text: &str, column: &str) -> Result<[u8; 32], sqlx::Error> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).map_err(|_| decode_error(column, text))?;
    Ok(out)
}

fn sha256_opt(row: &AnyRow, column: &str) -> Result<Option<[u8; 32]>, sqlx::Error> {
    let v: Option<String> = row.try_get(column)?;
    v.map(|t| sha256(&t, column)).transpose()
}

/// The stored form of encrypted data keys: a JSON list, binary fields in base64.
pub(super) fn edks_to_text(edks: &[EncryptedDataKey]) -> String {
    serde_json::to_string(&edks.iter().map(EdkJson::from).collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into())
}

pub(super) fn edks_of(text: &str) -> Result<Vec<EncryptedDataKey>, sqlx::Error> {
    let list: Vec<EdkJson> = serde_json::from_str(text).map_err(|_| decode_error("edks", text))?;
    list.iter().map(|e| EncryptedDataKey::try_from(e).map_err(|_| decode_error("edks", text))).collect()
}

pub(super) fn recording(row: &AnyRow) -> Result<Recording, sqlx::Error> {
    let text = |column: &str| row.try_get::<String, _>(column);
    let kind = text("kind")?;
    let status = text("status")?;
    let encryption = text("encryption")?;
    let object_key = text("object_key")?;
    let plan = PartPlan::new(unsigned(row, "frame_length")?, unsigned(row, "part_frames")?)
        .map_err(|_| decode_error("part_frames", "a part plan"))?;
    let replica = row.try_get::<Option<String>, _>("replica_version")?.map(|version| {
        Ok::<_, sqlx::Error>(Replica {
            version,
            sha256: sha256_opt(row, "replica_sha256")?,
            replicated_at: row.try_get("replicated_at")?,
        })
    });
    Ok(Recording {
        id: text("id")?,
        family_id: text("family_id")?,
        title: text("title")?,
        kind: RecordingKind::parse(&kind).ok_or_else(|| decode_error("kind", &kind))?,
        content_type: text("content_type")?,
        plaintext_size: unsigned(row, "plaintext_size")?,
        encryption: Encryption::parse(&encryption).ok_or_else(|| decode_error("encryption", &encryption))?,
        plan,
        status: RecordingStatus::parse(&status).ok_or_else(|| decode_error("status", &status))?,
        object_key: ObjectKey::new(object_key.clone()).map_err(|_| decode_error("object_key", &object_key))?,
        edks: edks_of(&text("edks")?)?,
        created_by: text("created_by")?,
        created_at: row.try_get("created_at")?,
        committed_at: row.try_get("committed_at")?,
        ciphertext_size: unsigned_opt(row, "ciphertext_size")?,
        sha256: sha256_opt(row, "sha256")?,
        header_len: unsigned_opt(row, "header_len")?,
        version: row.try_get("version")?,
        retain_until: row.try_get("retain_until")?,
        replica: replica.transpose()?,
        trash: match row.try_get::<Option<i64>, _>("trashed_at")? {
            Some(at) => Some(Trash {
                at,
                by: row.try_get::<Option<String>, _>("trashed_by")?.unwrap_or_default(),
                until: row
                    .try_get::<Option<i64>, _>("trash_until")?
                    .ok_or_else(|| decode_error("trash_until", "null"))?,
            }),
            None => None,
        },
        details: row
            .try_get::<Option<String>, _>("details")?
            .map(|t| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, t))
            .transpose()
            .map_err(|_| decode_error("details", "base64"))?,
        poster_size: unsigned_opt(row, "poster_size")?,
        delivery_id: row.try_get("delivery_id")?,
    })
}

/// Facts of a committed object.
#[derive(Debug)]
pub(crate) struct Committed<'a> {
    pub ciphertext_size: u64,
    pub sha256: [u8; 32],
    pub header_len: u64,
    pub version: &'a str,
    pub retain_until: i64,
}

/// An integer column's value (the schema's BIGINT) of a size that fits.
pub(super) fn bigint(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Db {
    pub(crate) async fn insert_recording(&self, r: &NewRecording<'_>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO recordings (id, family_id, title, kind, content_type, plaintext_size, encryption, \
             frame_length, part_frames, status, object_key, edks, created_by, created_at, studio_id, delivery_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $11, $12, $13, $14, $15)",
        )
        .bind(r.id)
        .bind(r.family_id)
        .bind(r.title)
        .bind(r.kind.as_str())
        .bind(r.content_type)
        .bind(bigint(r.plaintext_size))
        .bind(r.encryption.as_str())
        .bind(i64::from(r.plan.frame_length()))
        .bind(i64::from(r.plan.part_frames()))
        .bind(r.object_key.as_str())
        .bind(edks_to_text(r.edks))
        .bind(r.created_by)
        .bind(now_ms())
        .bind(r.studio_id)
        .bind(r.delivery_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A recording of `family` (any status); None for another family's id.
    pub(crate) async fn recording(&self, family: &str, id: &str) -> Result<Option<Recording>, sqlx::Error> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM recordings WHERE family_id = $1 AND id = $2"))
            .bind(family)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(recording).transpose()
    }

    /// Committed recordings of `family`, newest first, `limit` after the cursor
    /// `(created_at, id)`; those in the trash only `with_trash` (the export has them);
    /// only those that came in `delivery`, if given (what a studio's contributor sees).
    pub(crate) async fn list_recordings(
        &self,
        family: &str,
        before: Option<(i64, &str)>,
        limit: i64,
        with_trash: bool,
        delivery: Option<&str>,
    ) -> Result<Vec<Recording>, sqlx::Error> {
        let (at, id) = before.unwrap_or((i64::MAX, ""));
        let trash = if with_trash { "" } else { "AND trashed_at IS NULL" };
        let only = if delivery.is_some() { "AND delivery_id = $5" } else { "" };
        let query = format!(
            "SELECT {COLUMNS} FROM recordings WHERE family_id = $1 AND status = 'committed' {trash} {only} \
             AND (created_at < $2 OR (created_at = $2 AND id < $3)) ORDER BY created_at DESC, id DESC LIMIT $4"
        );
        let mut query = sqlx::query(&query)
            .bind(family)
            .bind(at)
            .bind(if before.is_some() { id } else { "\u{10FFFF}" })
            .bind(limit);
        if let Some(delivery) = delivery {
            query = query.bind(delivery);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(recording).collect()
    }

    /// Marks a pending recording committed; false if it was not pending (a lost race).
    /// With `replicate`, the copy to the replica region is queued in the same
    /// transaction (see [`Db::claim_replications`]).
    pub(crate) async fn commit_recording(
        &self,
        family: &str,
        id: &str,
        c: &Committed<'_>,
        replicate: bool,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(
            "UPDATE recordings SET status = 'committed', committed_at = $3, ciphertext_size = $4, sha256 = $5, \
             header_len = $6, version = $7, retain_until = $8 WHERE family_id = $1 AND id = $2 AND status = 'pending'",
        )
        .bind(family)
        .bind(id)
        .bind(now_ms())
        .bind(bigint(c.ciphertext_size))
        .bind(hex::encode(c.sha256))
        .bind(bigint(c.header_len))
        .bind(c.version)
        .bind(c.retain_until)
        .execute(&mut *tx)
        .await?;
        if result.rows_affected() != 1 {
            return Ok(false);
        }
        if replicate {
            sqlx::query(
                "INSERT INTO replication_outbox (recording_id, family_id, object_key, sha256, retain_until, attempts, \
                 next_attempt_at, created_at) SELECT id, family_id, object_key, sha256, retain_until, 0, $3, $3 \
                 FROM recordings WHERE family_id = $1 AND id = $2",
            )
            .bind(family)
            .bind(id)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Moves a recording from one status to another; false if it was not in `from`.
    /// Moving to `Deleted` also destroys the stored wrapped data keys; to `Deleted` or
    /// `Expired`, its sealed details and poster.
    pub(crate) async fn set_recording_status(
        &self,
        family: &str,
        id: &str,
        from: RecordingStatus,
        to: RecordingStatus,
    ) -> Result<bool, sqlx::Error> {
        // Deleting erases: the wrapped data keys go with the status change.
        let deleted_at = (to == RecordingStatus::Deleted).then(now_ms);
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(
            "UPDATE recordings SET status = $4, deleted_at = COALESCE($5, deleted_at), \
             edks = CASE WHEN $5 IS NULL THEN edks ELSE '[]' END, \
             details = CASE WHEN $4 IN ('deleted', 'expired') THEN NULL ELSE details END, \
             poster = CASE WHEN $4 IN ('deleted', 'expired') THEN NULL ELSE poster END, \
             poster_size = CASE WHEN $4 IN ('deleted', 'expired') THEN NULL ELSE poster_size END \
             WHERE family_id = $1 AND id = $2 AND status = $3",
        )
        .bind(family)
        .bind(id)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(deleted_at)
        .execute(&mut *tx)
        .await?;
        if result.rows_affected() != 1 {
            return Ok(false);
        }
        if deleted_at.is_some() {
            super::share_links::forget_recording(&mut tx, id).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
