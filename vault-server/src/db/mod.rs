//! The metadata store: families, members, recordings, uploads and the audit log.
//!
//! One implementation over `sqlx::AnyPool`: SQLite in embedded mode, PostgreSQL in
//! production, running the *same* queries (portable SQL, `$n` parameters, only
//! integer/text columns), so one test suite covers both. Each backend has its own
//! migrations directory because DDL (triggers) differs.

mod erasure;
mod export_links;
mod families;
mod invitations;
mod leases;
mod library;
mod outbox;
mod recordings;
mod scrub;
mod share_links;
mod studio_invitations;
mod studios;
mod trash;
mod uploads;

pub(crate) use export_links::ExportLinkRow;
pub(crate) use families::{Family, Member, MemberChange, Role, Sharing};
pub(crate) use invitations::{Acceptance, Invitation};
pub(crate) use outbox::Replication;
pub(crate) use recordings::{Committed, NewRecording, Recording, RecordingStatus};
pub(crate) use scrub::{ClaimError, Finding, ScrubRun};
pub(crate) use share_links::{ShareLink, SharedItem, ViewCount};
pub(crate) use studio_invitations::{InvitedDelivery, Redemption, StudioInvitation};
pub(crate) use studios::{Delivery, NewDelivery, Staff, StaffChange, StaffRole, Studio};
pub(crate) use uploads::{PartRow, Upload};

use anyhow::Context;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

/// Which database engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    Sqlite,
    Postgres,
}

/// The metadata database.
#[derive(Debug, Clone)]
pub(crate) struct Db {
    pool: AnyPool,
    engine: Engine,
}

impl Db {
    /// Connects and, with `migrate`, applies migrations (a service role without DDL
    /// rights connects with `migrate = false` after `vault setup` migrated as the owner).
    pub(crate) async fn connect(url: &str, migrate: bool) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Engine::Postgres
        } else {
            anyhow::bail!("database_url must start with sqlite: or postgres:");
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if engine == Engine::Sqlite { 8 } else { 16 })
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(url)
            .await
            .context("cannot open the metadata database")?;
        if engine == Engine::Sqlite {
            // WAL lets readers proceed during a write; it persists in the file.
            sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await?;
        }
        if migrate {
            migrator(engine).run(&pool).await.context("cannot migrate the metadata database")?;
        }
        Ok(Self { pool, engine })
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub(crate) fn engine(&self) -> Engine {
        self.engine
    }

    /// A transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred one that reads first and then writes fails with
    /// "database is locked" (SQLITE_BUSY_SNAPSHOT) whenever another writer committed
    /// in between, which the busy timeout cannot wait out.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.engine {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Engine::Postgres => self.pool.begin().await,
        }
    }

    /// Answers whether the database works (for `/readyz`).
    pub(crate) async fn check(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }
}

pub(crate) use crate::clock::now_ms;

fn migrator(engine: Engine) -> sqlx::migrate::Migrator {
    match engine {
        Engine::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        Engine::Postgres => sqlx::migrate!("./migrations/postgres"),
    }
}

/// A column value that does not parse into its typed model: the database was edited
/// behind the service's back.
fn decode_error(column: &str, value: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(format!("column {column} holds {value:.64}, which is not what the service writes").into())
}

/// Whether a database error is a unique-constraint violation (a lost race).
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite's rebuild of `recordings` (0008) keeps every row, and the rows that
    /// refer to it, with foreign keys enforced as the service runs.
    #[tokio::test]
    async fn the_photo_migration_keeps_recordings_uploads_and_the_outbox() {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&format!("sqlite://{}/t.db?mode=rwc", dir.path().display()))
            .await
            .unwrap();
        let full = migrator(Engine::Sqlite);
        let mut before = migrator(Engine::Sqlite);
        before.migrations = full.migrations.iter().filter(|m| m.version < 8).cloned().collect::<Vec<_>>().into();
        before.run(&pool).await.unwrap();
        for sql in [
            "INSERT INTO families (id, name, key_id, created_at, created_by) VALUES ('f', 'F', 'local:f', 1, 'u')",
            "INSERT INTO recordings (id, family_id, title, kind, content_type, plaintext_size, encryption, frame_length, \
             part_frames, status, object_key, edks, created_by, created_at, poster_size) VALUES \
             ('scan', 'f', '', 'letter', 'image/jpeg', 1, 'client', 1, 1, 'pending', 'o1', '[]', 'u', 1, 7), \
             ('note', 'f', 'n', 'letter', 'text/plain', 1, 'client', 1, 1, 'committed', 'o2', '[]', 'u', 2, NULL), \
             ('film', 'f', '', 'video', 'video/mp4', 1, 'client', 1, 1, 'committed', 'o3', '[]', 'u', 3, NULL)",
            "INSERT INTO uploads VALUES ('scan', 'f', 'store-upload', NULL, 5, 1)",
            "INSERT INTO upload_parts VALUES ('scan', 1, 10, 'h', 'e', 2, 0, 9)",
            "INSERT INTO replication_outbox VALUES ('film', 'f', 'o3', 'h', 1, 0, 1, NULL, 1)",
        ] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        full.run(&pool).await.unwrap();

        let kinds: Vec<(String, String, Option<i64>)> =
            sqlx::query_as("SELECT id, kind, poster_size FROM recordings ORDER BY created_at")
                .fetch_all(&pool)
                .await
                .unwrap();
        let kinds: Vec<_> = kinds.iter().map(|(id, kind, size)| (id.as_str(), kind.as_str(), *size)).collect();
        assert_eq!(kinds, [("scan", "photo", Some(7)), ("note", "letter", None), ("film", "video", None)]);
        let count = |sql: &'static str| {
            let pool = pool.clone();
            async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.unwrap() }
        };
        assert_eq!(count("SELECT COUNT(*) FROM uploads WHERE recording_id = 'scan'").await, 1);
        assert_eq!(count("SELECT COUNT(*) FROM upload_parts WHERE recording_id = 'scan'").await, 1);
        assert_eq!(count("SELECT COUNT(*) FROM replication_outbox WHERE recording_id = 'film'").await, 1);
        // Foreign keys still point at the rebuilt table, and are enforced.
        assert!(sqlx::query("DELETE FROM recordings WHERE id = 'scan'").execute(&pool).await.is_err());
        assert!(
            sqlx::query("INSERT INTO uploads VALUES ('nobody', 'f', 's', NULL, 5, 1)").execute(&pool).await.is_err()
        );
        // The new kind is accepted; an unknown one still is not.
        let insert = |id: &'static str, kind: &'static str| {
            let pool = pool.clone();
            async move {
                sqlx::query(
                    "INSERT INTO recordings (id, family_id, title, kind, content_type, plaintext_size, encryption, \
                     frame_length, part_frames, status, object_key, edks, created_by, created_at) \
                     VALUES (?, 'f', '', ?, 'image/png', 1, 'client', 1, 1, 'pending', ?, '[]', 'u', 4)",
                )
                .bind(id)
                .bind(kind)
                .bind(id)
                .execute(&pool)
                .await
            }
        };
        insert("p2", "photo").await.unwrap();
        assert!(insert("p3", "drawing").await.is_err());
    }
}
