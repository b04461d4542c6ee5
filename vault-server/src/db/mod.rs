//! The metadata store: families, members, recordings, uploads and the audit log.
//!
//! One implementation over `sqlx::AnyPool`: SQLite in embedded mode, PostgreSQL in
//! production, running the *same* queries (portable SQL, `$n` parameters, only
//! integer/text columns), so one test suite covers both. Each backend has its own
//! migrations directory because DDL (triggers) differs.

mod erasure;
mod families;
mod invitations;
mod library;
mod outbox;
mod recordings;
mod scrub;
mod trash;
mod uploads;

pub(crate) use families::{Family, Member, MemberChange, Role};
pub(crate) use invitations::{Acceptance, Invitation};
pub(crate) use outbox::Replication;
pub(crate) use recordings::{Committed, NewRecording, Recording, RecordingStatus};
pub(crate) use scrub::{ClaimError, Finding, ScrubRun};
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
        let migrator = match engine {
            Engine::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Engine::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        if migrate {
            migrator.run(&pool).await.context("cannot migrate the metadata database")?;
        }
        Ok(Self { pool, engine })
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
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

/// A column value that does not parse into its typed model: the database was edited
/// behind the service's back.
fn decode_error(column: &str, value: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(format!("column {column} holds {value:.64}, which is not what the service writes").into())
}

/// Whether a database error is a unique-constraint violation (a lost race).
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}
