//! Studios, their staff, and their deliveries to families.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, decode_error, now_ms};
pub(crate) use crate::api::studios::StaffRole;

/// A studio: a tenant that delivers recordings to its customers' families.
#[derive(Debug, Clone)]
pub(crate) struct Studio {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    /// Days a delivery whose invitation expired unaccepted is kept before erasure.
    pub unclaimed_days: u32,
    /// When its records were deleted on its request (its staff can no longer sign in).
    pub erased_at: Option<i64>,
}

/// One of a studio's people.
#[derive(Debug, Clone)]
pub(crate) struct Staff {
    pub issuer: String,
    pub user_id: String,
    pub role: StaffRole,
    pub added_at: i64,
    pub added_by: String,
}

/// A studio's contribution to a family vault (one it made for a customer, or the
/// family's own that the family invited it into), and where its hand-off stands.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub id: String,
    pub studio_id: String,
    pub family_id: String,
    pub customer: String,
    pub created_by: String,
    pub created_at: i64,
    pub invitation_id: Option<String>,
    pub invited_until: Option<i64>,
    pub contribute_until: Option<i64>,
    pub accepted_at: Option<i64>,
    pub handed_off_at: Option<i64>,
    pub expired_at: Option<i64>,
    pub erased_at: Option<i64>,
    /// The family's invitation that let the studio into the family's own vault (none
    /// when the studio made the vault for its customer).
    pub studio_invitation_id: Option<String>,
}

impl Delivery {
    /// Whether its studio may still add to it: not handed off, not erased.
    pub(crate) fn open(&self) -> bool {
        self.handed_off_at.is_none() && self.erased_at.is_none()
    }
}

/// What removing a staff member came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StaffChange {
    Done,
    NoSuchStaff,
    /// It would leave the studio without an admin.
    LastAdmin,
}

/// A delivery never sent an invitation is treated as one whose invitation expired
/// this long after its start (so that the studio's policy reaches it too).
pub(crate) const NEVER_INVITED_MS: i64 = 30 * 86_400_000;

pub(super) const DELIVERY: &str = "id, studio_id, family_id, customer, created_by, created_at, invitation_id, invited_until, \
    contribute_until, accepted_at, handed_off_at, expired_at, erased_at, studio_invitation_id";

/// [`DELIVERY`]'s columns of the table named `alias` in a join.
pub(super) fn delivery_columns(alias: &str) -> String {
    DELIVERY.split(", ").map(|c| format!("{alias}.{c}")).collect::<Vec<_>>().join(", ")
}

pub(super) fn delivery(row: &AnyRow) -> Result<Delivery, sqlx::Error> {
    Ok(Delivery {
        id: row.try_get("id")?,
        studio_id: row.try_get("studio_id")?,
        family_id: row.try_get("family_id")?,
        customer: row.try_get("customer")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        invitation_id: row.try_get("invitation_id")?,
        invited_until: row.try_get("invited_until")?,
        contribute_until: row.try_get("contribute_until")?,
        accepted_at: row.try_get("accepted_at")?,
        handed_off_at: row.try_get("handed_off_at")?,
        expired_at: row.try_get("expired_at")?,
        erased_at: row.try_get("erased_at")?,
        studio_invitation_id: row.try_get("studio_invitation_id")?,
    })
}

fn studio(row: &AnyRow) -> Result<Studio, sqlx::Error> {
    Ok(Studio {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        unclaimed_days: super::recordings::unsigned(row, "unclaimed_days")?,
        erased_at: row.try_get("erased_at")?,
    })
}

fn staff(row: &AnyRow) -> Result<Staff, sqlx::Error> {
    let role: String = row.try_get("role")?;
    Ok(Staff {
        issuer: row.try_get("issuer")?,
        user_id: row.try_get("user_id")?,
        role: StaffRole::parse(&role).ok_or_else(|| decode_error("role", &role))?,
        added_at: row.try_get("added_at")?,
        added_by: row.try_get("added_by")?,
    })
}

/// A new delivery's facts.
#[derive(Debug)]
pub(crate) struct NewDelivery<'a> {
    pub id: &'a str,
    pub studio_id: &'a str,
    pub family_id: &'a str,
    pub family_name: &'a str,
    pub key_id: &'a str,
    pub customer: &'a str,
    pub created_by: &'a str,
    pub contribute_until: Option<i64>,
}

impl Db {
    pub(crate) async fn studio(&self, id: &str) -> Result<Option<Studio>, sqlx::Error> {
        let row = sqlx::query("SELECT id, name, created_at, unclaimed_days, erased_at FROM studios WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(studio).transpose()
    }

    /// Creates a studio with its first admin; false if the id is a family's already.
    /// Fails with a unique violation if the studio exists.
    pub(crate) async fn create_studio(
        &self,
        id: &str,
        name: &str,
        issuer: &str,
        admin: &str,
    ) -> Result<bool, sqlx::Error> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let family = sqlx::query("SELECT 1 FROM families WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?;
        if family.is_some() {
            return Ok(false);
        }
        sqlx::query("INSERT INTO studios (id, name, created_at, created_by) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(name)
            .bind(now)
            .bind(admin)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO studio_staff (studio_id, issuer, user_id, role, added_at, added_by) \
             VALUES ($1, $2, $3, 'admin', $4, $3)",
        )
        .bind(id)
        .bind(issuer)
        .bind(admin)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(crate) async fn set_unclaimed_days(&self, studio: &str, days: u32) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE studios SET unclaimed_days = $2 WHERE id = $1")
            .bind(studio)
            .bind(i64::from(days))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The staff entry of (`issuer`, `user`) in `studio`.
    pub(crate) async fn staff_member(
        &self,
        studio: &str,
        issuer: &str,
        user: &str,
    ) -> Result<Option<Staff>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT issuer, user_id, role, added_at, added_by FROM studio_staff \
             WHERE studio_id = $1 AND issuer = $2 AND user_id = $3",
        )
        .bind(studio)
        .bind(issuer)
        .bind(user)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(staff).transpose()
    }

    pub(crate) async fn staff(&self, studio: &str) -> Result<Vec<Staff>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT issuer, user_id, role, added_at, added_by FROM studio_staff WHERE studio_id = $1 \
             ORDER BY added_at, user_id",
        )
        .bind(studio)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(staff).collect()
    }

    /// Adds a staff member; fails with a unique violation if they are one already.
    pub(crate) async fn add_staff(
        &self,
        studio: &str,
        issuer: &str,
        user: &str,
        role: StaffRole,
        by: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO studio_staff (studio_id, issuer, user_id, role, added_at, added_by) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(studio)
        .bind(issuer)
        .bind(user)
        .bind(role.as_str())
        .bind(now_ms())
        .bind(by)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a staff member (of any issuer), unless it would leave no admin.
    pub(crate) async fn remove_staff(&self, studio: &str, user: &str) -> Result<StaffChange, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let rows =
            sqlx::query("SELECT issuer, user_id, role, added_at, added_by FROM studio_staff WHERE studio_id = $1")
                .bind(studio)
                .fetch_all(&mut *tx)
                .await?;
        let all = rows.iter().map(staff).collect::<Result<Vec<_>, _>>()?;
        if !all.iter().any(|s| s.user_id == user) {
            return Ok(StaffChange::NoSuchStaff);
        }
        if !all.iter().any(|s| s.user_id != user && s.role == StaffRole::Admin) {
            return Ok(StaffChange::LastAdmin);
        }
        sqlx::query("DELETE FROM studio_staff WHERE studio_id = $1 AND user_id = $2")
            .bind(studio)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(StaffChange::Done)
    }

    /// Deletes a studio's records on its request: its staff, its customers' names, its
    /// own name; answers how many deliveries are still open instead (they must be
    /// handed off or erased first), or 0 when done.
    pub(crate) async fn erase_studio(&self, studio: &str, now: i64) -> Result<u64, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let open: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM deliveries WHERE studio_id = $1 AND handed_off_at IS NULL AND erased_at IS NULL",
        )
        .bind(studio)
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
        if open > 0 {
            return Ok(u64::try_from(open).unwrap_or(u64::MAX));
        }
        sqlx::query("DELETE FROM studio_staff WHERE studio_id = $1").bind(studio).execute(&mut *tx).await?;
        sqlx::query("UPDATE deliveries SET customer = '' WHERE studio_id = $1").bind(studio).execute(&mut *tx).await?;
        sqlx::query("UPDATE studios SET erased_at = $2, name = '' WHERE id = $1")
            .bind(studio)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(0)
    }

    /// Creates a delivery and its family (no members yet: the parents join as owners
    /// with the delivery's invitation), atomically.
    pub(crate) async fn create_delivery(&self, d: &NewDelivery<'_>) -> Result<(), sqlx::Error> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO families (id, name, key_id, created_at, created_by) VALUES ($1, $2, $3, $4, $5)")
            .bind(d.family_id)
            .bind(d.family_name)
            .bind(d.key_id)
            .bind(now)
            .bind(d.created_by)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO deliveries (id, studio_id, family_id, customer, created_by, created_at, contribute_until) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(d.id)
        .bind(d.studio_id)
        .bind(d.family_id)
        .bind(d.customer)
        .bind(d.created_by)
        .bind(now)
        .bind(d.contribute_until)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The studio's deliveries, newest first, each with its committed recordings' count.
    pub(crate) async fn deliveries(&self, studio: &str) -> Result<Vec<(Delivery, u64)>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY}, (SELECT COUNT(*) FROM recordings r WHERE r.family_id = d.family_id \
             AND r.delivery_id = d.id AND r.status = 'committed') AS recordings \
             FROM deliveries d WHERE studio_id = $1 ORDER BY created_at DESC, id DESC LIMIT 500"
        ))
        .bind(studio)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok((delivery(row)?, super::recordings::unsigned(row, "recordings")?))).collect()
    }

    /// A delivery of `studio`; None for another studio's.
    pub(crate) async fn delivery(&self, studio: &str, id: &str) -> Result<Option<Delivery>, sqlx::Error> {
        let row = sqlx::query(&format!("SELECT {DELIVERY} FROM deliveries WHERE studio_id = $1 AND id = $2"))
            .bind(studio)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(delivery).transpose()
    }

    /// Makes `invitation` the delivery's (it was inserted by the caller), withdrawing
    /// the previous one if unused; false if the delivery was handed off or erased meanwhile.
    pub(crate) async fn set_delivery_invitation(
        &self,
        d: &Delivery,
        invitation: &super::Invitation,
        secret_sha256: &str,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE deliveries SET invitation_id = $2, invited_until = $3, expired_at = NULL \
             WHERE id = $1 AND handed_off_at IS NULL AND erased_at IS NULL AND accepted_at IS NULL",
        )
        .bind(&d.id)
        .bind(&invitation.id)
        .bind(invitation.expires_at)
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() != 1 {
            return Ok(false);
        }
        super::invitations::insert(&mut tx, invitation, secret_sha256).await?;
        if let Some(old) = &d.invitation_id {
            sqlx::query(
                "UPDATE invitations SET revoked_at = $2 WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL",
            )
            .bind(old)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Accepted deliveries whose studio's date has come: to hand off.
    pub(crate) async fn deliveries_to_hand_off(&self, now: i64) -> Result<Vec<Delivery>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY} FROM deliveries WHERE accepted_at IS NOT NULL AND handed_off_at IS NULL \
             AND erased_at IS NULL AND (contribute_until IS NULL OR contribute_until <= $1) LIMIT 100"
        ))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery).collect()
    }

    /// Ends the studio's access to an accepted delivery; false if it ended already.
    pub(crate) async fn hand_off(&self, id: &str, now: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE deliveries SET handed_off_at = $2 WHERE id = $1 AND accepted_at IS NOT NULL \
             AND handed_off_at IS NULL AND erased_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deliveries whose invitation expired unaccepted (or that were never sent one
    /// within `NEVER_INVITED_MS` of their start) and whose studio was not told yet.
    pub(crate) async fn newly_expired_deliveries(&self, now: i64) -> Result<Vec<Delivery>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY} FROM deliveries WHERE accepted_at IS NULL AND expired_at IS NULL AND erased_at IS NULL \
             AND (invited_until <= $1 OR (invitation_id IS NULL AND created_at <= $2)) LIMIT 100"
        ))
        .bind(now)
        .bind(now.saturating_sub(NEVER_INVITED_MS))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery).collect()
    }

    /// Notes that the studio was told; false if an invitation went out meanwhile.
    pub(crate) async fn mark_delivery_expired(&self, d: &Delivery, now: i64) -> Result<bool, sqlx::Error> {
        let sent = if d.invitation_id.is_some() { "invitation_id = $3" } else { "invitation_id IS NULL" };
        let statement = format!(
            "UPDATE deliveries SET expired_at = $2 WHERE id = $1 AND {sent} AND expired_at IS NULL \
             AND accepted_at IS NULL"
        );
        let mut query = sqlx::query(&statement).bind(&d.id).bind(now);
        if let Some(invitation) = &d.invitation_id {
            query = query.bind(invitation);
        }
        Ok(query.execute(&self.pool).await?.rows_affected() == 1)
    }

    /// Marks a delivery nobody accepted as erased, before its family's key is destroyed;
    /// false if it was accepted, handed off or erased meanwhile (an acceptance racing it
    /// waits on the row, then finds it erased). With `unclaimed`, only one the studio
    /// was told about.
    pub(crate) async fn claim_delivery_erasure(
        &self,
        id: &str,
        now: i64,
        unclaimed: bool,
    ) -> Result<bool, sqlx::Error> {
        let told = if unclaimed { "AND expired_at IS NOT NULL" } else { "" };
        let done = sqlx::query(&format!(
            "UPDATE deliveries SET erased_at = $2 WHERE id = $1 AND accepted_at IS NULL AND handed_off_at IS NULL \
             AND erased_at IS NULL {told}"
        ))
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deliveries never accepted and kept as long as their studio's policy says, and
    /// those marked erased whose family's erasure did not finish (a failure to retry).
    pub(crate) async fn unclaimed_deliveries(&self, now: i64) -> Result<Vec<Delivery>, sqlx::Error> {
        let columns = delivery_columns("d");
        let rows = sqlx::query(&format!(
            "SELECT {columns} FROM deliveries d JOIN studios s ON s.id = d.studio_id \
             JOIN families f ON f.id = d.family_id WHERE d.accepted_at IS NULL AND f.erased_at IS NULL \
             AND ((d.erased_at IS NULL AND d.expired_at IS NOT NULL \
             AND d.expired_at + s.unclaimed_days * 86400000 <= $1) OR d.erased_at IS NOT NULL) LIMIT 100"
        ))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery).collect()
    }
}
