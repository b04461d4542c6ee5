//! Uploads under way and their verified parts.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, now_ms};

#[derive(Debug, Clone)]
pub struct Upload {
    pub recording_id: String,
    pub family_id: String,
    pub store_upload_id: String,
    /// Hex of the message header, once part 1 was stored.
    pub header: Option<String>,
    pub expires_at: i64,
}

/// One stored, verified part.
#[derive(Debug, Clone)]
pub struct PartRow {
    pub part_number: i64,
    pub size: i64,
    pub sha256: String,
    pub etag: String,
    pub next_sequence: i64,
    pub is_final: bool,
    pub plaintext_len: i64,
}

fn upload(row: &AnyRow) -> Result<Upload, sqlx::Error> {
    Ok(Upload {
        recording_id: row.try_get("recording_id")?,
        family_id: row.try_get("family_id")?,
        store_upload_id: row.try_get("store_upload_id")?,
        header: row.try_get("header")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn part(row: &AnyRow) -> Result<PartRow, sqlx::Error> {
    Ok(PartRow {
        part_number: row.try_get("part_number")?,
        size: row.try_get("size")?,
        sha256: row.try_get("sha256")?,
        etag: row.try_get("etag")?,
        next_sequence: row.try_get("next_sequence")?,
        is_final: row.try_get::<i64, _>("is_final")? != 0,
        plaintext_len: row.try_get("plaintext_len")?,
    })
}

impl Db {
    pub async fn insert_upload(
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

    pub async fn upload(&self, family: &str, recording: &str) -> Result<Option<Upload>, sqlx::Error> {
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
    pub async fn restart_upload(&self, recording: &str, store_upload_id: &str) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM upload_parts WHERE recording_id = $1").bind(recording).execute(&mut *tx).await?;
        sqlx::query("UPDATE uploads SET store_upload_id = $2, header = NULL WHERE recording_id = $1")
            .bind(recording)
            .bind(store_upload_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    pub async fn parts(&self, recording: &str) -> Result<Vec<PartRow>, sqlx::Error> {
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
    pub async fn insert_part(&self, recording: &str, header: Option<&str>, p: &PartRow) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO upload_parts (recording_id, part_number, size, sha256, etag, next_sequence, is_final, \
             plaintext_len) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(recording)
        .bind(p.part_number)
        .bind(p.size)
        .bind(&p.sha256)
        .bind(&p.etag)
        .bind(p.next_sequence)
        .bind(i64::from(p.is_final))
        .bind(p.plaintext_len)
        .execute(&mut *tx)
        .await?;
        if let Some(header) = header {
            sqlx::query("UPDATE uploads SET header = $2 WHERE recording_id = $1")
                .bind(recording)
                .bind(header)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    pub async fn delete_upload(&self, recording: &str) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM upload_parts WHERE recording_id = $1").bind(recording).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM uploads WHERE recording_id = $1").bind(recording).execute(&mut *tx).await?;
        tx.commit().await
    }

    /// Uploads whose time ran out.
    pub async fn expired_uploads(&self, now: i64, limit: i64) -> Result<Vec<Upload>, sqlx::Error> {
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
    pub async fn store_upload_ids(&self) -> Result<Vec<String>, sqlx::Error> {
        let rows = sqlx::query("SELECT store_upload_id FROM uploads").fetch_all(&self.pool).await?;
        rows.iter().map(|r| r.try_get("store_upload_id")).collect()
    }
}
