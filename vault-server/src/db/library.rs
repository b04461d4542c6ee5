//! The family library's encrypted pieces: the wrapped library key per family, and
//! each recording's encrypted details and poster (ESDK messages, stored as base64).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sqlx::Row;
use vault_core::EncryptedDataKey;

use super::recordings::{bigint, edks_to_text};
use super::{Db, decode_error};

impl Db {
    /// The family's wrapped library key, if it has one yet.
    pub(crate) async fn library_edks(&self, family: &str) -> Result<Option<Vec<EncryptedDataKey>>, sqlx::Error> {
        let row = sqlx::query("SELECT library_edks FROM families WHERE id = $1")
            .bind(family)
            .fetch_optional(&self.pool)
            .await?;
        let Some(text) = row.map(|r| r.try_get::<Option<String>, _>("library_edks")).transpose()?.flatten() else {
            return Ok(None);
        };
        super::recordings::edks_of(&text).map(Some)
    }

    /// Records the family's wrapped library key unless it has one; false if another
    /// request recorded one first (that one is the key).
    pub(crate) async fn set_library_edks(&self, family: &str, edks: &[EncryptedDataKey]) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE families SET library_edks = $2 WHERE id = $1 AND library_edks IS NULL AND erased_at IS NULL",
        )
        .bind(family)
        .bind(edks_to_text(edks))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces a live recording's encrypted details; false if it is not live.
    pub(crate) async fn set_details(&self, family: &str, id: &str, message: &[u8]) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE recordings SET details = $3 WHERE family_id = $1 AND id = $2 AND status IN ('pending', 'committed')",
        )
        .bind(family)
        .bind(id)
        .bind(B64.encode(message))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces a live recording's encrypted poster; false if it is not live.
    pub(crate) async fn set_poster(&self, family: &str, id: &str, message: &[u8]) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE recordings SET poster = $3, poster_size = $4 WHERE family_id = $1 AND id = $2 \
             AND status IN ('pending', 'committed')",
        )
        .bind(family)
        .bind(id)
        .bind(B64.encode(message))
        .bind(bigint(message.len() as u64))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A recording's encrypted poster, if it has one.
    pub(crate) async fn poster(&self, family: &str, id: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
        let row = sqlx::query("SELECT poster FROM recordings WHERE family_id = $1 AND id = $2")
            .bind(family)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(text) = row.map(|r| r.try_get::<Option<String>, _>("poster")).transpose()?.flatten() else {
            return Ok(None);
        };
        B64.decode(&text).map(Some).map_err(|_| decode_error("poster", "base64"))
    }
}
