//! Invitation links: kept by the SHA-256 of their secret, used once.

use sqlx::Row;

use super::{Db, Member, Role, decode_error, now_ms};

/// One invitation (never its secret: only the family's inviter ever saw that).
#[derive(Debug, Clone)]
pub(crate) struct Invitation {
    pub id: String,
    pub family_id: String,
    pub role: Role,
    pub display_name: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    pub accepted_by: Option<String>,
    pub revoked_at: Option<i64>,
}

/// What accepting an invitation came to.
#[derive(Debug)]
pub(crate) enum Acceptance {
    /// A member now; with the studio delivery the invitation came with, as it stands
    /// after the acceptance (handed off at once unless the studio set a later date).
    Joined(Member, Option<Box<super::Delivery>>),
    /// The invitation exists but is used, revoked or expired.
    Spent(Invitation),
    /// The caller already is a member: the invitation stays unused.
    AlreadyMember,
    /// Its maker may no longer invite with that role (removed or demoted since).
    Withdrawn,
    NoSuchInvitation,
}

const COLUMNS: &str = "id, family_id, role, display_name, created_by, created_at, expires_at, accepted_at, \
    accepted_by, revoked_at";

fn invitation(row: &sqlx::any::AnyRow) -> Result<Invitation, sqlx::Error> {
    let role: String = row.try_get("role")?;
    Ok(Invitation {
        id: row.try_get("id")?,
        family_id: row.try_get("family_id")?,
        role: Role::parse(&role).ok_or_else(|| decode_error("role", &role))?,
        display_name: row.try_get("display_name")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        accepted_at: row.try_get("accepted_at")?,
        accepted_by: row.try_get("accepted_by")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

/// The roles `user` (of any issuer) holds in `family`: what an invitation's maker may
/// still let in is judged by them.
pub(super) async fn roles_in<'c, E>(executor: E, family: &str, user: &str) -> Result<Vec<Role>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let rows = sqlx::query("SELECT role FROM members WHERE family_id = $1 AND user_id = $2")
        .bind(family)
        .bind(user)
        .fetch_all(executor)
        .await?;
    Ok(rows.iter().filter_map(|row| row.try_get::<String, _>("role").ok().and_then(|r| Role::parse(&r))).collect())
}

/// Records an invitation under the hash of its secret, in `tx`.
pub(super) async fn insert(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    i: &Invitation,
    secret_sha256: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO invitations (id, family_id, secret_sha256, role, display_name, created_by, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&i.id)
    .bind(&i.family_id)
    .bind(secret_sha256)
    .bind(i.role.as_str())
    .bind(&i.display_name)
    .bind(&i.created_by)
    .bind(i.created_at)
    .bind(i.expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Db {
    /// Records an invitation under the hash of its secret.
    pub(crate) async fn insert_invitation(&self, i: &Invitation, secret_sha256: &str) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        insert(&mut tx, i, secret_sha256).await?;
        tx.commit().await
    }

    /// The family's invitations, newest first (at most the last 200).
    pub(crate) async fn invitations(&self, family: &str) -> Result<Vec<Invitation>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM invitations WHERE family_id = $1 ORDER BY created_at DESC, id LIMIT 200"
        ))
        .bind(family)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(invitation).collect()
    }

    /// Revokes an unused invitation of `family`; false if there is none such.
    pub(crate) async fn revoke_invitation(&self, family: &str, id: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE invitations SET revoked_at = $3 WHERE family_id = $1 AND id = $2 \
             AND accepted_at IS NULL AND revoked_at IS NULL",
        )
        .bind(family)
        .bind(id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Uses the invitation of `family` whose secret hashes to `secret_sha256` for
    /// `user` of `issuer`, in one transaction: the invitation is marked used and the
    /// member added together, or neither (two people racing for one link: one joins).
    pub(crate) async fn accept_invitation(
        &self,
        family: &str,
        secret_sha256: &str,
        issuer: &str,
        user: &str,
    ) -> Result<Acceptance, sqlx::Error> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let row =
            sqlx::query(&format!("SELECT {COLUMNS} FROM invitations WHERE family_id = $1 AND secret_sha256 = $2"))
                .bind(family)
                .bind(secret_sha256)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(found) = row.as_ref().map(invitation).transpose()? else {
            return Ok(Acceptance::NoSuchInvitation);
        };
        let member = sqlx::query("SELECT 1 FROM members WHERE family_id = $1 AND issuer = $2 AND user_id = $3")
            .bind(family)
            .bind(issuer)
            .bind(user)
            .fetch_optional(&mut *tx)
            .await?;
        if member.is_some() {
            return Ok(Acceptance::AlreadyMember);
        }
        // A link is only as good as its maker: one made by someone since removed or
        // demoted (an admin who made themselves a way back in) admits nobody.
        let maker_may = roles_in(&mut *tx, family, &found.created_by)
            .await?
            .into_iter()
            .any(|r| if found.role == Role::Owner { r == Role::Owner } else { r.can_manage() });
        // A studio delivery's current invitation is the studio's: its maker is on the
        // studio's staff (still), not a member. The delivery is claimed here, before
        // anything else is written, by a statement that re-checks it: a racing re-send
        // or erasure either went first (and this fails) or waits on the row and then
        // finds it accepted. Nothing is kept if the acceptance fails further down.
        let delivery = !maker_may
            && sqlx::query(
                "UPDATE deliveries SET accepted_at = $3, handed_off_at = CASE \
                 WHEN contribute_until IS NULL OR contribute_until <= $3 THEN $3 ELSE NULL END \
                 WHERE family_id = $1 AND invitation_id = $2 AND accepted_at IS NULL AND handed_off_at IS NULL \
                 AND erased_at IS NULL AND EXISTS (SELECT 1 FROM studio_staff s \
                 WHERE s.studio_id = deliveries.studio_id AND s.user_id = $4)",
            )
            .bind(family)
            .bind(&found.id)
            .bind(now)
            .bind(&found.created_by)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
        if !maker_may && !delivery {
            return Ok(Acceptance::Withdrawn);
        }
        let used = sqlx::query(
            "UPDATE invitations SET accepted_at = $2, accepted_by = $3 WHERE id = $1 \
             AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(&found.id)
        .bind(now)
        .bind(user)
        .execute(&mut *tx)
        .await?;
        if used.rows_affected() != 1 {
            return Ok(Acceptance::Spent(found));
        }
        let inserted = sqlx::query(
            "INSERT INTO members (family_id, issuer, user_id, role, added_at, added_by, display_name) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(family)
        .bind(issuer)
        .bind(user)
        .bind(found.role.as_str())
        .bind(now)
        .bind(&found.created_by)
        .bind(&found.display_name)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if super::is_unique_violation(&e) => return Ok(Acceptance::AlreadyMember),
            other => other?,
        };
        let delivery = if delivery {
            let row = sqlx::query(&format!(
                "SELECT {} FROM deliveries WHERE family_id = $1 AND invitation_id = $2",
                super::studios::DELIVERY
            ))
            .bind(family)
            .bind(&found.id)
            .fetch_one(&mut *tx)
            .await?;
            Some(Box::new(super::studios::delivery(&row)?))
        } else {
            None
        };
        tx.commit().await?;
        Ok(Acceptance::Joined(
            Member {
                issuer: issuer.to_owned(),
                user_id: user.to_owned(),
                role: found.role,
                added_at: now,
                added_by: found.created_by,
                display_name: Some(found.display_name),
            },
            delivery,
        ))
    }
}
