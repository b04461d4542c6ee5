//! Share links: their limits, the sealed keys they carry, and the views they had.

use sqlx::Row;

use super::{Db, now_ms};

/// One share link (its sealed keys are read on their own).
#[derive(Debug, Clone)]
pub(crate) struct ShareLink {
    pub id: String,
    pub family_id: String,
    pub name: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub max_views: Option<i64>,
    pub views: i64,
    pub allow_download: bool,
    /// The passphrase KDF's public parameters (JSON), if the link asks for one.
    pub passphrase: Option<String>,
    pub revoked_at: Option<i64>,
    /// How many recordings it still shows (erased ones drop out).
    pub items: i64,
}

/// One recording a link shows: its id and its data key sealed under the link's key.
#[derive(Debug, Clone)]
pub(crate) struct SharedItem {
    pub recording_id: String,
    /// Base64 of an ESDK message only the link's secret opens.
    pub sealed: String,
}

/// What counting a view came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ViewCount {
    Counted,
    /// Revoked, expired or used up meanwhile: nothing counted.
    Refused,
}

const COLUMNS: &str = "l.id, l.family_id, l.name, l.created_by, l.created_at, l.expires_at, l.max_views, l.views, \
    l.allow_download, l.passphrase, l.revoked_at, \
    (SELECT COUNT(*) FROM share_link_items i WHERE i.link_id = l.id) AS items";

fn link(row: &sqlx::any::AnyRow) -> Result<ShareLink, sqlx::Error> {
    Ok(ShareLink {
        id: row.try_get("id")?,
        family_id: row.try_get("family_id")?,
        name: row.try_get("name")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        max_views: row.try_get("max_views")?,
        views: row.try_get("views")?,
        allow_download: row.try_get::<i32, _>("allow_download")? != 0,
        passphrase: row.try_get("passphrase")?,
        revoked_at: row.try_get("revoked_at")?,
        items: row.try_get("items")?,
    })
}

impl Db {
    /// Records a link and what it shows, together; false (nothing recorded) if one of
    /// the recordings is no longer stored or is in the trash. Each recording's row is
    /// locked while its item goes in (PostgreSQL; SQLite has one writer), so an erasure
    /// either comes first and is seen here, or comes after and deletes the item with
    /// the recording's wrapped keys: no sealed key outlives its recording.
    pub(crate) async fn insert_share_link(&self, l: &ShareLink, items: &[SharedItem]) -> Result<bool, sqlx::Error> {
        let lock = if self.engine == super::Engine::Postgres { " FOR UPDATE" } else { "" };
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO share_links (id, family_id, name, created_by, created_at, expires_at, max_views, \
             allow_download, passphrase) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&l.id)
        .bind(&l.family_id)
        .bind(&l.name)
        .bind(&l.created_by)
        .bind(l.created_at)
        .bind(l.expires_at)
        .bind(l.max_views)
        .bind(i32::from(l.allow_download))
        .bind(&l.passphrase)
        .execute(&mut *tx)
        .await?;
        for (position, item) in (0_i64..).zip(items) {
            let stored = sqlx::query(&format!(
                "SELECT id FROM recordings WHERE family_id = $1 AND id = $2 AND status = 'committed' \
                 AND trashed_at IS NULL{lock}"
            ))
            .bind(&l.family_id)
            .bind(&item.recording_id)
            .fetch_optional(&mut *tx)
            .await?;
            if stored.is_none() {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO share_link_items (link_id, recording_id, position, sealed) VALUES ($1, $2, $3, $4)",
            )
            .bind(&l.id)
            .bind(&item.recording_id)
            .bind(position)
            .bind(&item.sealed)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The family's links, newest first (at most the last 200).
    pub(crate) async fn share_links(&self, family: &str) -> Result<Vec<ShareLink>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM share_links l WHERE l.family_id = $1 ORDER BY l.created_at DESC, l.id LIMIT 200"
        ))
        .bind(family)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(link).collect()
    }

    /// A link by its id, with whether its family was erased.
    pub(crate) async fn share_link(&self, id: &str) -> Result<Option<(ShareLink, bool)>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, f.erased_at AS family_erased_at FROM share_links l \
             JOIN families f ON f.id = l.family_id WHERE l.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((link(&r)?, r.try_get::<Option<i64>, _>("family_erased_at")?.is_some()))).transpose()
    }

    /// What the link shows, in order.
    pub(crate) async fn shared_items(&self, link: &str) -> Result<Vec<SharedItem>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT recording_id, sealed FROM share_link_items WHERE link_id = $1 ORDER BY position, recording_id",
        )
        .bind(link)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(SharedItem { recording_id: r.try_get("recording_id")?, sealed: r.try_get("sealed")? }))
            .collect()
    }

    /// Whether `recording` is one the link shows.
    pub(crate) async fn is_shared(&self, link: &str, recording: &str) -> Result<bool, sqlx::Error> {
        let row = sqlx::query("SELECT 1 FROM share_link_items WHERE link_id = $1 AND recording_id = $2")
            .bind(link)
            .bind(recording)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Revokes a live link of `family` and drops its sealed keys (the row stays, for the
    /// family's list and log); false if there is none such.
    pub(crate) async fn revoke_share_link(&self, family: &str, id: &str) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE share_links SET revoked_at = $3 WHERE family_id = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind(family)
        .bind(id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        forget_links(&mut tx, "id = $1", id).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Drops what links that can never be opened again still hold: the sealed keys of
    /// expired links and the views past their end. Answers how many sealed keys went.
    pub(crate) async fn forget_dead_links(&self, now: i64) -> Result<u64, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let emptied = sqlx::query(
            "DELETE FROM share_link_items WHERE link_id IN (SELECT id FROM share_links WHERE expires_at <= $1)",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM share_views WHERE expires_at <= $1").bind(now).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(emptied.rows_affected())
    }

    /// Counts one view of a live link and records the view's token, in one step: two
    /// viewers racing for the last view of a limited link cannot both have it.
    pub(crate) async fn count_share_view(
        &self,
        id: &str,
        token_sha256: &str,
        now: i64,
        view_until: i64,
    ) -> Result<ViewCount, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let counted = sqlx::query(
            "UPDATE share_links SET views = views + 1 WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2 \
             AND (max_views IS NULL OR views < max_views)",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if counted.rows_affected() != 1 {
            return Ok(ViewCount::Refused);
        }
        sqlx::query("INSERT INTO share_views (token_sha256, link_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_sha256)
            .bind(id)
            .bind(now)
            .bind(view_until)
            .execute(&mut *tx)
            .await?;
        // Old views are of no use to anyone: they go as new ones come.
        sqlx::query("DELETE FROM share_views WHERE link_id = $1 AND expires_at <= $2")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ViewCount::Counted)
    }

    /// Whether a view's token is one of the link's, still valid at `now`.
    pub(crate) async fn share_view_valid(&self, link: &str, token_sha256: &str, now: i64) -> Result<bool, sqlx::Error> {
        let row = sqlx::query("SELECT 1 FROM share_views WHERE token_sha256 = $1 AND link_id = $2 AND expires_at > $3")
            .bind(token_sha256)
            .bind(link)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }
}

/// Drops the sealed keys of a recording whose wrapped keys are being destroyed, in
/// the same transaction: erasure must leave no key to it anywhere, a link's neither.
pub(super) async fn forget_recording(tx: &mut sqlx::AnyConnection, recording: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM share_link_items WHERE recording_id = $1").bind(recording).execute(tx).await?;
    Ok(())
}

/// The same for every recording of an erased family: its links are revoked.
pub(super) async fn forget_family(tx: &mut sqlx::AnyConnection, family: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE share_links SET revoked_at = COALESCE(revoked_at, $2) WHERE family_id = $1")
        .bind(family)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    forget_links(tx, "family_id = $1", family).await
}

/// Revokes the links `user` made in `family` and drops their sealed keys: a member who
/// leaves (or is removed) takes no way into the family's recordings along.
pub(super) async fn revoke_made_by(tx: &mut sqlx::AnyConnection, family: &str, user: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE share_links SET revoked_at = $3 WHERE family_id = $1 AND created_by = $2 AND revoked_at IS NULL",
    )
    .bind(family)
    .bind(user)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM share_link_items WHERE link_id IN \
         (SELECT id FROM share_links WHERE family_id = $1 AND created_by = $2)",
    )
    .bind(family)
    .bind(user)
    .execute(tx)
    .await?;
    Ok(())
}

/// Deletes the sealed keys and views of the links `condition` (on `share_links`, one
/// parameter) selects.
async fn forget_links(tx: &mut sqlx::AnyConnection, condition: &str, value: &str) -> Result<(), sqlx::Error> {
    for table in ["share_link_items", "share_views"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE link_id IN (SELECT id FROM share_links WHERE {condition})"))
            .bind(value)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}
