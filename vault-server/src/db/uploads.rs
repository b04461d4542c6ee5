//! Uploads under way and their verified parts.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::recordings::{bigint, sha256, unsigned};
use super::{Db, decode_error, now_ms};

#[derive(Debug, Clone)]
pub(crate) struct Upload {
    pub recording_id: String,
    pub family_id: String,
    pub store_upload_id: String,
    /// The message header, once part 1 was stored.
    pub header: Option<Vec<u8>>,
    pub expires_at: i64,
}

/// One stored, verified part.
#[derive(Debug, Clone)]
pub(crate) struct PartRow {
    pub part_number: u32,
    pub size: u64,
    pub sha256: [u8; 32],
    pub etag: String,
    /// The sequence number the next part's first frame carries.
    pub next_sequence: u32,
    pub is_final: bool,
    pub plaintext_len: u64,
}

fn upload(row: &AnyRow) -> Result<Upload, sqlx::Error> {
    let header: Option<String> = row.try_get("header")?;
    Ok(Upload {
        recording_id: row.try_get("recording_id")?,
        family_id: row.try_get("family_id")?,
        store_upload_id: row.try_get("store_upload_id")?,
        header: header.map(|h| hex::decode(&h).map_err(|_| decode_error("header", &h))).transpose()?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn part(row: &AnyRow) -> Result<PartRow, sqlx::Error> {
    Ok(PartRow {
        part_number: unsigned(row, "part_number")?,
        size: unsigned(row, "size")?,
        sha256: sha256(&row.try_get::<String, _>("sha256")?, "sha256")?,
        etag: row.try_get("etag")?,
        next_sequence: unsigned(row, "next_sequence")?,
        is_final: row.try_get::<i64, _>("is_final")? != 0,
        plaintext_len: unsigned(row, "plaintext_len")?,
    })
}

impl Db {
    pub(crate) async fn insert_upload(
        &self,
        recording: &str,
        family: &str,
        store_upload_id: &str,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO uploads (recording_id, family_id, store_upload_id, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(recording)
        .bind(family)
        .bind(store_upload_id)
        .bind(expires_at)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn upload(&self, family: &str, recording: &str) -> Result<Option<Upload>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT recording_id, family_id, store_upload_id, header, expires_at FROM uploads \
             WHERE family_id = $1 AND recording_id = $2",
        )
        .bind(family)
        .bind(recording)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(upload).transpose()
    }

    /// Replaces the store-side upload (a server-side encryption retried from the start).
    pub(crate) async fn restart_upload(&self, recording: &str, store_upload_id: &str) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM upload_parts WHERE recording_id = $1").bind(recording).execute(&mut *tx).await?;
        sqlx::query("UPDATE uploads SET store_upload_id = $2, header = NULL WHERE recording_id = $1")
            .bind(recording)
            .bind(store_upload_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    pub(crate) async fn parts(&self, recording: &str) -> Result<Vec<PartRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT part_number, size, sha256, etag, next_sequence, is_final, plaintext_len FROM upload_parts \
             WHERE recording_id = $1 ORDER BY part_number",
        )
        .bind(recording)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(part).collect()
    }

    /// Records a verified part (and, for part 1, the header). A unique violation
    /// means another request stored this part first.
    pub(crate) async fn insert_part(
        &self,
        recording: &str,
        header: Option<&[u8]>,
        p: &PartRow,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO upload_parts (recording_id, part_number, size, sha256, etag, next_sequence, is_final, \
             plaintext_len) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(recording)
        .bind(i64::from(p.part_number))
        .bind(bigint(p.size))
        .bind(hex::encode(p.sha256))
        .bind(&p.etag)
        .bind(i64::from(p.next_sequence))
        .bind(i64::from(p.is_final))
        .bind(bigint(p.plaintext_len))
        .execute(&mut *tx)
        .await?;
        if let Some(header) = header {
            sqlx::query("UPDATE uploads SET header = $2 WHERE recording_id = $1")
                .bind(recording)
                .bind(hex::encode(header))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    pub(crate) async fn delete_upload(&self, recording: &str) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM upload_parts WHERE recording_id = $1").bind(recording).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM uploads WHERE recording_id = $1").bind(recording).execute(&mut *tx).await?;
        tx.commit().await
    }

    /// Uploads whose time ran out.
    pub(crate) async fn expired_uploads(&self, now: i64, limit: i64) -> Result<Vec<Upload>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT recording_id, family_id, store_upload_id, header, expires_at FROM uploads \
             WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(upload).collect()
    }

    /// Store upload ids the database knows (to find orphans after a crash).
    pub(crate) async fn store_upload_ids(&self) -> Result<Vec<String>, sqlx::Error> {
        let rows = sqlx::query("SELECT store_upload_id FROM uploads").fetch_all(&self.pool).await?;
        rows.iter().map(|r| r.try_get("store_upload_id")).collect()
    }
}
