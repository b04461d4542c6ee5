//! Export links: an owner's one-time download link, kept here so that any instance
//! behind the load balancer answers it. The token itself is never stored (only its
//! SHA-256), and the recovery key is stored sealed under a key only the token gives
//! (`crate::domain::export`).

use super::Db;

/// A waiting export, as stored.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ExportLinkRow {
    pub family_id: String,
    pub issuer: String,
    pub actor: String,
    pub export_id: String,
    /// Base64 of the sealed recovery key.
    pub sealed: String,
    pub expires_at: i64,
}

impl Db {
    /// Keeps a new link unless the family has another one running at `now` (one export
    /// at a time per family); false then. A lapsed one is dropped first.
    pub(crate) async fn insert_export_link(
        &self,
        token_sha256: &str,
        row: &ExportLinkRow,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM export_links WHERE family_id = $1 AND expires_at <= $2")
            .bind(&row.family_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO export_links (token_sha256, family_id, issuer, actor, export_id, sealed, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (family_id) DO NOTHING",
        )
        .bind(token_sha256)
        .bind(&row.family_id)
        .bind(&row.issuer)
        .bind(&row.actor)
        .bind(&row.export_id)
        .bind(&row.sealed)
        .bind(row.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Takes the link once: deleted as it is read, so two instances (or two clicks)
    /// never both get it. None if unknown, used or expired at `now`.
    pub(crate) async fn take_export_link(
        &self,
        token_sha256: &str,
        now: i64,
    ) -> Result<Option<ExportLinkRow>, sqlx::Error> {
        // A read first: guessed links (the route needs no sign-in) never take SQLite's
        // one write lock, which uploads need.
        let known: Option<(i64,)> = sqlx::query_as("SELECT expires_at FROM export_links WHERE token_sha256 = $1")
            .bind(token_sha256)
            .fetch_optional(&self.pool)
            .await?;
        if known.is_none() {
            return Ok(None);
        }
        let row: Option<ExportLinkRow> = sqlx::query_as(
            "DELETE FROM export_links WHERE token_sha256 = $1 \
             RETURNING family_id, issuer, actor, export_id, sealed, expires_at",
        )
        .bind(token_sha256)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.filter(|r| r.expires_at > now))
    }

    /// Drops links that expired unused (with their sealed keys); how many.
    pub(crate) async fn forget_expired_export_links(&self, now: i64) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("DELETE FROM export_links WHERE expires_at <= $1").bind(now).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_link_per_family_each_taken_once_and_never_after_it_expires() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/t.db?mode=rwc", dir.path().display()), true).await.unwrap();
        sqlx::query(
            "INSERT INTO families (id, name, key_id, created_at, created_by) VALUES ('f', 'F', 'local:f', 0, 'a')",
        )
        .execute(&db.pool)
        .await
        .unwrap();
        let row = |expires_at| ExportLinkRow {
            family_id: "f".into(),
            issuer: "i".into(),
            actor: "a".into(),
            export_id: "e".into(),
            sealed: "s".into(),
            expires_at,
        };
        assert!(db.insert_export_link("t1", &row(2000), 1000).await.unwrap());
        assert!(!db.insert_export_link("t2", &row(3000), 1500).await.unwrap(), "one at a time per family");
        assert!(db.take_export_link("t1", 1600).await.unwrap().is_some_and(|r| r.actor == "a"));
        assert!(db.take_export_link("t1", 1600).await.unwrap().is_none(), "taken once");
        assert!(db.insert_export_link("t3", &row(2000), 1700).await.unwrap(), "the family may ask again");
        assert!(db.take_export_link("t3", 2000).await.unwrap().is_none(), "expired, and deleted by the attempt");
        assert!(db.insert_export_link("t4", &row(3000), 2500).await.unwrap());
        assert!(db.insert_export_link("t5", &row(5000), 3000).await.is_ok_and(|ok| ok), "a lapsed link gives way");
        assert_eq!(db.forget_expired_export_links(5000).await.unwrap(), 1);
        assert!(db.take_export_link("t5", 4000).await.unwrap().is_none(), "forgotten");
    }
}
