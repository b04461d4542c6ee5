//! Families (tenants) and their members.

use serde::Serialize;
use sqlx::Row;

use super::{Db, decode_error, now_ms};
pub(crate) use crate::api::families::Role;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Family {
    pub id: String,
    pub name: String,
    #[serde(skip)]
    pub key_id: String,
    pub created_at: i64,
    pub created_by: String,
    /// When the family was erased on request (its key destroyed); None while alive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erased_at: Option<i64>,
    #[serde(skip)]
    pub sharing: Sharing,
}

/// A family's rules for share links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sharing {
    /// Whether members (not only owners and admins) may make share links.
    pub members_may_share: bool,
    /// The longest a share link of this family may work, in days.
    pub max_link_days: u32,
}

impl Default for Sharing {
    fn default() -> Self {
        Self { members_may_share: false, max_link_days: 30 }
    }
}

/// What a membership change came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberChange {
    Done,
    NoSuchMember,
    /// It touches an owner role (granting or taking), which only owners may.
    OwnersOnly,
    /// It would leave the family without an owner.
    LastOwner,
}

/// A member: an identity of one issuer (`iss`, `sub`), never a subject alone.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Member {
    pub issuer: String,
    pub user_id: String,
    pub role: Role,
    pub added_at: i64,
    pub added_by: String,
    /// The name the family knows them by (from their invitation), if any.
    pub display_name: Option<String>,
}

impl From<Member> for crate::api::members::MemberView {
    fn from(m: Member) -> Self {
        Self {
            issuer: m.issuer,
            user_id: m.user_id,
            role: m.role,
            added_at: m.added_at,
            added_by: m.added_by,
            display_name: m.display_name,
        }
    }
}

fn member(row: &sqlx::any::AnyRow) -> Result<Member, sqlx::Error> {
    let role: String = row.try_get("role")?;
    Ok(Member {
        issuer: row.try_get("issuer")?,
        user_id: row.try_get("user_id")?,
        role: Role::parse(&role).ok_or_else(|| decode_error("role", &role))?,
        added_at: row.try_get("added_at")?,
        added_by: row.try_get("added_by")?,
        display_name: row.try_get("display_name")?,
    })
}

impl Db {
    /// Creates a family with its first owner (`owner` of `issuer`), atomically. Fails
    /// with a unique violation if it exists.
    pub(crate) async fn create_family(
        &self,
        id: &str,
        name: &str,
        key_id: &str,
        issuer: &str,
        owner: &str,
    ) -> Result<Family, sqlx::Error> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO families (id, name, key_id, created_at, created_by) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(name)
            .bind(key_id)
            .bind(now)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO members (family_id, issuer, user_id, role, added_at, added_by) \
             VALUES ($1, $2, $3, 'owner', $4, $3)",
        )
        .bind(id)
        .bind(issuer)
        .bind(owner)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Family {
            id: id.into(),
            name: name.into(),
            key_id: key_id.into(),
            created_at: now,
            created_by: owner.into(),
            erased_at: None,
            sharing: Sharing::default(),
        })
    }

    pub(crate) async fn family(&self, id: &str) -> Result<Option<Family>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, name, key_id, created_at, created_by, erased_at, members_may_share, max_link_days \
             FROM families WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Family {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                key_id: r.try_get("key_id")?,
                created_at: r.try_get("created_at")?,
                created_by: r.try_get("created_by")?,
                erased_at: r.try_get("erased_at")?,
                sharing: Sharing {
                    members_may_share: r.try_get::<i32, _>("members_may_share")? != 0,
                    max_link_days: u32::try_from(r.try_get::<i32, _>("max_link_days")?)
                        .map_err(|_| decode_error("max_link_days", "a negative number"))?,
                },
            })
        })
        .transpose()
    }

    /// Sets a family's rules for share links.
    pub(crate) async fn set_sharing(&self, family: &str, sharing: Sharing) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE families SET members_may_share = $2, max_link_days = $3 WHERE id = $1")
            .bind(family)
            .bind(i32::from(sharing.members_may_share))
            .bind(i32::try_from(sharing.max_link_days).unwrap_or(i32::MAX))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The membership of `user` of `issuer` in `family`.
    pub(crate) async fn membership(
        &self,
        family: &str,
        issuer: &str,
        user: &str,
    ) -> Result<Option<Member>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT issuer, user_id, role, added_at, added_by, display_name FROM members \
             WHERE family_id = $1 AND issuer = $2 AND user_id = $3",
        )
        .bind(family)
        .bind(issuer)
        .bind(user)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(member).transpose()
    }

    pub(crate) async fn members(&self, family: &str) -> Result<Vec<Member>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT issuer, user_id, role, added_at, added_by, display_name FROM members WHERE family_id = $1 \
             ORDER BY added_at, user_id",
        )
        .bind(family)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(member).collect()
    }

    /// Adds `user` of `issuer`; a unique violation if they already are a member.
    pub(crate) async fn add_member(
        &self,
        family: &str,
        issuer: &str,
        user: &str,
        role: Role,
        by: &str,
    ) -> Result<Member, sqlx::Error> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO members (family_id, issuer, user_id, role, added_at, added_by) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(family)
        .bind(issuer)
        .bind(user)
        .bind(role.as_str())
        .bind(now)
        .bind(by)
        .execute(&self.pool)
        .await?;
        Ok(Member {
            issuer: issuer.into(),
            user_id: user.into(),
            role,
            added_at: now,
            added_by: by.into(),
            display_name: None,
        })
    }

    /// Binds members recorded before issuers were (issuer `''`) to `issuer`, the one
    /// issuer the service trusts now. Returns how many.
    pub(crate) async fn bind_legacy_members(&self, issuer: &str) -> Result<u64, sqlx::Error> {
        let done =
            sqlx::query("UPDATE members SET issuer = $1 WHERE issuer = ''").bind(issuer).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    /// Changes a member's role, in one statement with its rules (so a change racing
    /// another cannot slip past them): only an owner (`by_owner`) grants or takes an
    /// owner role, and the last owner stays.
    pub(crate) async fn set_role(
        &self,
        family: &str,
        issuer: &str,
        user: &str,
        role: Role,
        by_owner: bool,
    ) -> Result<MemberChange, sqlx::Error> {
        let mut tx = self.lock_family(family).await?;
        let result = sqlx::query(
            "UPDATE members SET role = $4 WHERE family_id = $1 AND issuer = $2 AND user_id = $3 \
             AND ($5 = 1 OR (role <> 'owner' AND $4 <> 'owner')) \
             AND ($4 = 'owner' OR role <> 'owner' OR \
                  (SELECT COUNT(*) FROM members m WHERE m.family_id = $1 AND m.role = 'owner') > 1)",
        )
        .bind(family)
        .bind(issuer)
        .bind(user)
        .bind(role.as_str())
        .bind(i64::from(by_owner))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if result.rows_affected() == 1 {
            return Ok(MemberChange::Done);
        }
        self.why_unchanged(family, issuer, user, Some(role), by_owner).await
    }

    /// Sets (or, with None, clears) the name the family knows a member by; false if
    /// there is no such member.
    pub(crate) async fn set_display_name(
        &self,
        family: &str,
        issuer: &str,
        user: &str,
        name: Option<&str>,
    ) -> Result<bool, sqlx::Error> {
        let done =
            sqlx::query("UPDATE members SET display_name = $4 WHERE family_id = $1 AND issuer = $2 AND user_id = $3")
                .bind(family)
                .bind(issuer)
                .bind(user)
                .bind(name)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes a member, under the same rules as [`Db::set_role`].
    pub(crate) async fn remove_member(
        &self,
        family: &str,
        issuer: &str,
        user: &str,
        by_owner: bool,
    ) -> Result<MemberChange, sqlx::Error> {
        let mut tx = self.lock_family(family).await?;
        let result = sqlx::query(
            "DELETE FROM members WHERE family_id = $1 AND issuer = $2 AND user_id = $3 \
             AND ($4 = 1 OR role <> 'owner') \
             AND (role <> 'owner' OR (SELECT COUNT(*) FROM members m WHERE m.family_id = $1 AND m.role = 'owner') > 1)",
        )
        .bind(family)
        .bind(issuer)
        .bind(user)
        .bind(i64::from(by_owner))
        .execute(&mut *tx)
        .await?;
        if result.rows_affected() == 1 {
            super::share_links::revoke_made_by(&mut tx, family, user).await?;
        }
        tx.commit().await?;
        if result.rows_affected() == 1 {
            return Ok(MemberChange::Done);
        }
        self.why_unchanged(family, issuer, user, None, by_owner).await
    }

    /// Why a membership change touched no row.
    async fn why_unchanged(
        &self,
        family: &str,
        issuer: &str,
        user: &str,
        new_role: Option<Role>,
        by_owner: bool,
    ) -> Result<MemberChange, sqlx::Error> {
        Ok(match self.membership(family, issuer, user).await? {
            None => MemberChange::NoSuchMember,
            Some(m) if !by_owner && (m.role == Role::Owner || new_role == Some(Role::Owner)) => {
                MemberChange::OwnersOnly
            }
            Some(_) => MemberChange::LastOwner,
        })
    }

    /// A transaction in which no other membership change of `family` runs: the owner
    /// count checked by the next statement cannot change under it. PostgreSQL locks the
    /// family row (under READ COMMITTED two concurrent demotions would each still see
    /// two owners); SQLite has one writer at a time, and each check is one statement.
    async fn lock_family(&self, family: &str) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        if self.engine == super::Engine::Postgres {
            sqlx::query("SELECT id FROM families WHERE id = $1 FOR UPDATE")
                .bind(family)
                .fetch_optional(&mut *tx)
                .await?;
        }
        Ok(tx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The owner-role rule is part of the statement itself: an admin's change that
    /// races an owner's grant cannot take an owner role.
    #[tokio::test]
    async fn owner_roles_change_only_by_owners_even_in_one_statement() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/t.db?mode=rwc", dir.path().display()), true).await.unwrap();
        db.create_family("f", "F", "local:f", "iss", "olivia").await.unwrap();
        db.add_member("f", "iss", "adam", Role::Admin, "olivia").await.unwrap();
        db.add_member("f", "iss", "otto", Role::Owner, "olivia").await.unwrap();
        assert_eq!(db.set_role("f", "iss", "otto", Role::Member, false).await.unwrap(), MemberChange::OwnersOnly);
        assert_eq!(db.set_role("f", "iss", "adam", Role::Owner, false).await.unwrap(), MemberChange::OwnersOnly);
        assert_eq!(db.remove_member("f", "iss", "otto", false).await.unwrap(), MemberChange::OwnersOnly);
        assert_eq!(db.membership("f", "iss", "otto").await.unwrap().unwrap().role, Role::Owner);
        assert_eq!(db.set_role("f", "iss", "otto", Role::Member, true).await.unwrap(), MemberChange::Done);
        assert_eq!(db.remove_member("f", "iss", "olivia", true).await.unwrap(), MemberChange::LastOwner);
        assert_eq!(
            db.set_role("f", "other-iss", "adam", Role::Member, true).await.unwrap(),
            MemberChange::NoSuchMember
        );
    }
}
