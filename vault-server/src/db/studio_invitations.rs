//! A family's invitations to a studio: kept by the SHA-256 of their secret, used once
//! to start a delivery into the family's own vault (`crate::domain::studio_invitations`).

use sqlx::Row;

use super::invitations::roles_in;
use super::studios::{DELIVERY, delivery, delivery_columns};
use super::{Db, Delivery, Role, now_ms};

/// One invitation to a studio (never its secret).
#[derive(Debug, Clone)]
pub(crate) struct StudioInvitation {
    pub id: String,
    pub family_id: String,
    /// The studio, as the family named it.
    pub name: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub delivery_id: Option<String>,
    pub revoked_at: Option<i64>,
}

/// A delivery that a studio's staff member starts with a family's invitation.
#[derive(Debug)]
pub(crate) struct InvitedDelivery<'a> {
    pub id: &'a str,
    pub studio_id: &'a str,
    pub customer: &'a str,
    pub created_by: &'a str,
    /// The hand-off date: the studio contributes until then.
    pub contribute_until: i64,
}

/// What redeeming an invitation came to.
#[derive(Debug)]
pub(crate) enum Redemption {
    /// The delivery started, in the invitation's family.
    Started(Box<Delivery>, Box<StudioInvitation>),
    /// The invitation exists but is used, revoked or expired, or its family was erased.
    Spent(Box<StudioInvitation>),
    /// Its maker is no longer an owner or admin of the family.
    Withdrawn(Box<StudioInvitation>),
    NoSuchInvitation,
}

const COLUMNS: &str = "id, family_id, name, created_by, created_at, expires_at, used_at, delivery_id, revoked_at";

fn studio_invitation(row: &sqlx::any::AnyRow) -> Result<StudioInvitation, sqlx::Error> {
    Ok(StudioInvitation {
        id: row.try_get("id")?,
        family_id: row.try_get("family_id")?,
        name: row.try_get("name")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        used_at: row.try_get("used_at")?,
        delivery_id: row.try_get("delivery_id")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

impl Db {
    /// Whether the maker of the invitation `id` is still an owner or admin of its family
    /// (a studio it let in keeps its access only so long). Asked on every contributor
    /// request, so in one query.
    pub(crate) async fn studio_invitation_maker_may(&self, id: &str) -> Result<bool, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT m.role FROM studio_invitations i JOIN members m              ON m.family_id = i.family_id AND m.user_id = i.created_by WHERE i.id = $1",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().any(|row| {
            row.try_get::<String, _>("role").ok().and_then(|r| Role::parse(&r)).is_some_and(Role::can_manage)
        }))
    }

    /// A delivery into `family`; None for another family's.
    pub(crate) async fn family_delivery(&self, family: &str, id: &str) -> Result<Option<Delivery>, sqlx::Error> {
        let row = sqlx::query(&format!("SELECT {DELIVERY} FROM deliveries WHERE family_id = $1 AND id = $2"))
            .bind(family)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(delivery).transpose()
    }

    /// Records an invitation to a studio under the hash of its secret.
    pub(crate) async fn insert_studio_invitation(
        &self,
        i: &StudioInvitation,
        secret_sha256: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO studio_invitations (id, family_id, secret_sha256, name, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&i.id)
        .bind(&i.family_id)
        .bind(secret_sha256)
        .bind(&i.name)
        .bind(&i.created_by)
        .bind(i.created_at)
        .bind(i.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The family's invitations to studios, newest first (at most the last 200).
    pub(crate) async fn studio_invitations(&self, family: &str) -> Result<Vec<StudioInvitation>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM studio_invitations WHERE family_id = $1 ORDER BY created_at DESC, id LIMIT 200"
        ))
        .bind(family)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(studio_invitation).collect()
    }

    /// Revokes an unused invitation of `family`; false if there is none such.
    pub(crate) async fn revoke_studio_invitation(&self, family: &str, id: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE studio_invitations SET revoked_at = $3 WHERE family_id = $1 AND id = $2 \
             AND used_at IS NULL AND revoked_at IS NULL",
        )
        .bind(family)
        .bind(id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Uses the invitation whose secret hashes to `secret_sha256` to start delivery
    /// `d`, in one transaction: the invitation is marked used and the delivery (accepted
    /// from the start: the family owns its vault) inserted together, or neither (two
    /// studios racing for one invitation: one starts).
    pub(crate) async fn redeem_studio_invitation(
        &self,
        secret_sha256: &str,
        d: &InvitedDelivery<'_>,
    ) -> Result<Redemption, sqlx::Error> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM studio_invitations WHERE secret_sha256 = $1"))
            .bind(secret_sha256)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(found) = row.as_ref().map(studio_invitation).transpose()? else {
            return Ok(Redemption::NoSuchInvitation);
        };
        // An invitation is only as good as its maker's place in the family.
        if !roles_in(&mut *tx, &found.family_id, &found.created_by).await?.into_iter().any(Role::can_manage) {
            return Ok(Redemption::Withdrawn(Box::new(found)));
        }
        let used = sqlx::query(
            "UPDATE studio_invitations SET used_at = $2, delivery_id = $3 WHERE id = $1 \
             AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2 \
             AND EXISTS (SELECT 1 FROM families f WHERE f.id = studio_invitations.family_id AND f.erased_at IS NULL)",
        )
        .bind(&found.id)
        .bind(now)
        .bind(d.id)
        .execute(&mut *tx)
        .await?;
        if used.rows_affected() != 1 {
            return Ok(Redemption::Spent(Box::new(found)));
        }
        sqlx::query(
            "INSERT INTO deliveries (id, studio_id, family_id, customer, created_by, created_at, contribute_until, \
             accepted_at, studio_invitation_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $8)",
        )
        .bind(d.id)
        .bind(d.studio_id)
        .bind(&found.family_id)
        .bind(d.customer)
        .bind(d.created_by)
        .bind(now)
        .bind(d.contribute_until)
        .bind(&found.id)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(&format!("SELECT {DELIVERY} FROM deliveries WHERE id = $1"))
            .bind(d.id)
            .fetch_one(&mut *tx)
            .await?;
        let started = delivery(&row)?;
        tx.commit().await?;
        Ok(Redemption::Started(Box::new(started), Box::new(StudioInvitation { used_at: Some(now), ..found })))
    }

    /// The deliveries into `family`, newest first, each with its studio's name and
    /// the count of recordings the studio delivered in it.
    pub(crate) async fn family_deliveries(&self, family: &str) -> Result<Vec<(Delivery, String, u64)>, sqlx::Error> {
        let columns = delivery_columns("d");
        let rows = sqlx::query(&format!(
            "SELECT {columns}, s.name AS studio_name, (SELECT COUNT(*) FROM recordings r \
             WHERE r.family_id = d.family_id AND r.delivery_id = d.id \
             AND r.status = 'committed') AS recordings \
             FROM deliveries d JOIN studios s ON s.id = d.studio_id WHERE d.family_id = $1 \
             ORDER BY d.created_at DESC, d.id DESC LIMIT 200"
        ))
        .bind(family)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((delivery(row)?, row.try_get("studio_name")?, super::recordings::unsigned(row, "recordings")?))
            })
            .collect()
    }

    /// Ends a studio's access to a delivery into `family` at the family's request;
    /// false if there is none such, or it ended already.
    pub(crate) async fn end_family_delivery(&self, family: &str, id: &str, now: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE deliveries SET handed_off_at = $3 WHERE family_id = $1 AND id = $2 \
             AND accepted_at IS NOT NULL AND handed_off_at IS NULL AND erased_at IS NULL",
        )
        .bind(family)
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
