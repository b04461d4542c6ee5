//! Leases: which instance of `vault serve` runs a singleton job's round. Taken with
//! one statement that inserts the lease or takes it over only if it lapsed (or is the
//! taker's own), so two instances racing for it never both hold it, on SQLite and on
//! PostgreSQL alike (the upsert locks the row and re-checks its condition).

use super::Db;

impl Db {
    /// Takes (or renews) the lease `name` for `holder` until `until`; false while
    /// another holder's lease runs at `now`.
    pub(crate) async fn take_lease(&self, name: &str, holder: &str, now: i64, until: i64) -> Result<bool, sqlx::Error> {
        let taken = sqlx::query(
            "INSERT INTO job_leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE job_leases.expires_at <= $4 OR job_leases.holder = $2",
        )
        .bind(name)
        .bind(holder)
        .bind(until)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(taken.rows_affected() == 1)
    }

    /// Moves the end of `holder`'s lease to `until` (when the next round is due); a
    /// lease another instance took over meanwhile is left alone.
    pub(crate) async fn hold_lease_until(&self, name: &str, holder: &str, until: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE job_leases SET expires_at = $3 WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .bind(until)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Db;

    async fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let db = Db::connect(&url, true).await.unwrap();
        (dir, db)
    }

    #[tokio::test]
    async fn one_holder_at_a_time_until_the_lease_lapses() {
        let (_dir, db) = db().await;
        assert!(db.take_lease("sweep", "a", 1000, 2000).await.unwrap());
        assert!(!db.take_lease("sweep", "b", 1500, 2500).await.unwrap(), "a's lease runs");
        assert!(db.take_lease("sweep", "a", 1500, 2500).await.unwrap(), "a renews its own");
        assert!(db.take_lease("other", "b", 1500, 2500).await.unwrap(), "leases are by name");
        assert!(db.take_lease("sweep", "b", 2500, 3500).await.unwrap(), "a's lapsed: b takes it over");
        assert!(!db.take_lease("sweep", "a", 2600, 3600).await.unwrap());
        db.hold_lease_until("sweep", "a", 0).await.unwrap();
        assert!(!db.take_lease("sweep", "a", 2600, 3600).await.unwrap(), "only the holder moves its end");
        db.hold_lease_until("sweep", "b", 2600).await.unwrap();
        assert!(db.take_lease("sweep", "a", 2600, 3600).await.unwrap());
    }

    /// Many takers at once (separate connections): exactly one gets it.
    #[tokio::test]
    async fn racing_takers_never_both_hold_it() {
        let (_dir, db) = db().await;
        let takers = (0..8).map(|i| {
            let db = db.clone();
            tokio::spawn(async move { db.take_lease("anchor", &format!("i{i}"), 10, 20).await.unwrap() })
        });
        let mut won = 0;
        for t in takers {
            won += usize::from(t.await.unwrap());
        }
        assert_eq!(won, 1);
    }
}
