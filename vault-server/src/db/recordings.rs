//! Recordings: metadata of one encrypted object each.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, now_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordingKind {
    Audio,
    Video,
    Letter,
}

impl RecordingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Letter => "letter",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "audio" => Some(Self::Audio),
            "video" => Some(Self::Video),
            "letter" => Some(Self::Letter),
            _ => None,
        }
    }
}

/// Where a recording is in its life. Only `Committed` ones are listed or served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordingStatus {
    Pending,
    Committed,
    Expired,
    Deleted,
}

impl RecordingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Committed => "committed",
            Self::Expired => "expired",
            Self::Deleted => "deleted",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "committed" => Some(Self::Committed),
            "expired" => Some(Self::Expired),
            "deleted" => Some(Self::Deleted),
            _ => None,
        }
    }
}

/// One recording's metadata. `edks` holds wrapped data keys only.
#[derive(Debug, Clone)]
pub struct Recording {
    pub id: String,
    pub family_id: String,
    pub title: String,
    pub kind: RecordingKind,
    pub content_type: String,
    pub plaintext_size: i64,
    pub encryption: String,
    pub frame_length: i64,
    pub part_frames: i64,
    pub status: RecordingStatus,
    pub object_key: String,
    pub edks: String,
    pub created_by: String,
    pub created_at: i64,
    pub committed_at: Option<i64>,
    pub ciphertext_size: Option<i64>,
    pub sha256: Option<String>,
    pub header_len: Option<i64>,
    pub version: Option<String>,
    pub retain_until: Option<i64>,
    pub replica_version: Option<String>,
    pub replica_sha256: Option<String>,
    pub replicated_at: Option<i64>,
}

/// What creating a recording records.
#[derive(Debug)]
pub struct NewRecording<'a> {
    pub id: &'a str,
    pub family_id: &'a str,
    pub title: &'a str,
    pub kind: RecordingKind,
    pub content_type: &'a str,
    pub plaintext_size: i64,
    pub encryption: &'a str,
    pub frame_length: i64,
    pub part_frames: i64,
    pub object_key: &'a str,
    pub edks: &'a str,
    pub created_by: &'a str,
}

pub(super) const COLUMNS: &str = "id, family_id, title, kind, content_type, plaintext_size, encryption, frame_length, \
    part_frames, status, object_key, edks, created_by, created_at, committed_at, ciphertext_size, sha256, \
    header_len, version, retain_until, replica_version, replica_sha256, replicated_at";

pub(super) fn recording(row: &AnyRow) -> Result<Recording, sqlx::Error> {
    let bad = |what: &str, v: &str| sqlx::Error::Decode(format!("unknown {what} {v:?}").into());
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    Ok(Recording {
        id: row.try_get("id")?,
        family_id: row.try_get("family_id")?,
        title: row.try_get("title")?,
        kind: RecordingKind::parse(&kind).ok_or_else(|| bad("kind", &kind))?,
        content_type: row.try_get("content_type")?,
        plaintext_size: row.try_get("plaintext_size")?,
        encryption: row.try_get("encryption")?,
        frame_length: row.try_get("frame_length")?,
        part_frames: row.try_get("part_frames")?,
        status: RecordingStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
        object_key: row.try_get("object_key")?,
        edks: row.try_get("edks")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        committed_at: row.try_get("committed_at")?,
        ciphertext_size: row.try_get("ciphertext_size")?,
        sha256: row.try_get("sha256")?,
        header_len: row.try_get("header_len")?,
        version: row.try_get("version")?,
        retain_until: row.try_get("retain_until")?,
        replica_version: row.try_get("replica_version")?,
        replica_sha256: row.try_get("replica_sha256")?,
        replicated_at: row.try_get("replicated_at")?,
    })
}

/// Facts of a committed object.
#[derive(Debug)]
pub struct Committed<'a> {
    pub ciphertext_size: i64,
    pub sha256: &'a str,
    pub header_len: i64,
    pub version: &'a str,
    pub retain_until: i64,
}

impl Db {
    pub async fn insert_recording(&self, r: &NewRecording<'_>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO recordings (id, family_id, title, kind, content_type, plaintext_size, encryption, \
             frame_length, part_frames, status, object_key, edks, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $11, $12, $13)",
        )
        .bind(r.id)
        .bind(r.family_id)
        .bind(r.title)
        .bind(r.kind.as_str())
        .bind(r.content_type)
        .bind(r.plaintext_size)
        .bind(r.encryption)
        .bind(r.frame_length)
        .bind(r.part_frames)
        .bind(r.object_key)
        .bind(r.edks)
        .bind(r.created_by)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A recording of `family` (any status); None for another family's id.
    pub async fn recording(&self, family: &str, id: &str) -> Result<Option<Recording>, sqlx::Error> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM recordings WHERE family_id = $1 AND id = $2"))
            .bind(family)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(recording).transpose()
    }

    /// Committed recordings of `family`, newest first, `limit` after the cursor `(created_at, id)`.
    pub async fn list_recordings(
        &self,
        family: &str,
        before: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<Recording>, sqlx::Error> {
        let (at, id) = before.unwrap_or((i64::MAX, ""));
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM recordings WHERE family_id = $1 AND status = 'committed' \
             AND (created_at < $2 OR (created_at = $2 AND id < $3)) ORDER BY created_at DESC, id DESC LIMIT $4"
        ))
        .bind(family)
        .bind(at)
        .bind(if before.is_some() { id } else { "\u{10FFFF}" })
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(recording).collect()
    }

    /// Marks a pending recording committed; false if it was not pending (a lost race).
    /// With `replicate`, the copy to the replica region is queued in the same
    /// transaction (see [`Db::due_replications`]).
    pub async fn commit_recording(
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
        .bind(c.ciphertext_size)
        .bind(c.sha256)
        .bind(c.header_len)
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
    /// Moving to `Deleted` also destroys the stored wrapped data keys.
    pub async fn set_recording_status(
        &self,
        family: &str,
        id: &str,
        from: RecordingStatus,
        to: RecordingStatus,
    ) -> Result<bool, sqlx::Error> {
        // Deleting erases: the wrapped data keys go with the status change.
        let deleted_at = (to == RecordingStatus::Deleted).then(now_ms);
        let result = sqlx::query(
            "UPDATE recordings SET status = $4, deleted_at = COALESCE($5, deleted_at), \
             edks = CASE WHEN $5 IS NULL THEN edks ELSE '[]' END \
             WHERE family_id = $1 AND id = $2 AND status = $3",
        )
        .bind(family)
        .bind(id)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(deleted_at)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }
}
