//! The metadata store: families, members, recordings, uploads and the audit log.
//!
//! One implementation over `sqlx::AnyPool`: SQLite in embedded mode, PostgreSQL in
//! production, running the *same* queries (portable SQL, `$n` parameters, only
//! integer/text columns), so one test suite covers both. Each backend has its own
//! migrations directory because DDL (triggers) differs.

mod erasure;
mod families;
mod outbox;
mod recordings;
mod scrub;
mod uploads;

pub use families::{Family, Member, MemberChange, Role};
pub use outbox::Replication;
pub use recordings::{Committed, Encryption, NewRecording, Recording, RecordingKind, RecordingStatus, Replica};
pub use scrub::{ClaimError, Finding, ScrubRun};
pub use uploads::{PartRow, Upload};

use anyhow::Context;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

/// Which database engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// The metadata database.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    engine: Engine,
}

impl Db {
    /// Connects and, with `migrate`, applies migrations (a service role without DDL
    /// rights connects with `migrate = false` after `vault setup` migrated as the owner).
    pub async fn connect(url: &str, migrate: bool) -> anyhow::Result<Self> {
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

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// A transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred one that reads first and then writes fails with
    /// "database is locked" (SQLITE_BUSY_SNAPSHOT) whenever another writer committed
    /// in between, which the busy timeout cannot wait out.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.engine {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Engine::Postgres => self.pool.begin().await,
        }
    }

    /// Answers whether the database works (for `/readyz`).
    pub async fn check(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A column value that does not parse into its typed model: the database was edited
/// behind the service's back.
fn decode_error(column: &str, value: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(format!("column {column} holds {value:.64}, which is not what the service writes").into())
}

/// Whether a database error is a unique-constraint violation (a lost race).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}
