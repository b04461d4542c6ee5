//! `vault client share`: a share link made in the terminal, as the page makes one. The
//! link's secret is made here and printed in the link; the server receives only the
//! recordings' keys sealed under it (`vault_core::link`).

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use rand_core::{OsRng, RngCore};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::ApiClient;

/// Argon2id for a passphrase, as the page runs it (web/links.js): 64 MiB, 3 passes.
const KDF_MEMORY_KIB: u32 = 65_536;
const KDF_ITERATIONS: u32 = 3;

/// What a new link shows and allows.
#[derive(Debug)]
pub(crate) struct ShareRequest<'a> {
    pub recordings: &'a [String],
    pub name: &'a str,
    pub days: u32,
    pub max_views: Option<u32>,
    pub passphrase: Option<Zeroizing<String>>,
    pub allow_download: bool,
}

/// The passphrase's share of the wrapping key (the page's `passphraseKey`).
fn passphrase_key(passphrase: &str, salt: &[u8]) -> anyhow::Result<Zeroizing<[u8; 32]>> {
    let params = argon2::Params::new(KDF_MEMORY_KIB, KDF_ITERATIONS, 1, Some(32))
        .map_err(|e| anyhow::anyhow!("Argon2 parameters: {e}"))?;
    let mut out = Zeroizing::new([0u8; 32]);
    let normalised = Zeroizing::new(unicode_normalization::UnicodeNormalization::nfc(passphrase).collect::<String>());
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(normalised.as_bytes(), salt, out.as_mut())
        .map_err(|e| anyhow::anyhow!("Argon2: {e}"))?;
    Ok(out)
}

/// The file name a viewer saves a recording under: its title and the usual extension.
fn file_name(title: &str, content_type: &str) -> String {
    let ext = match content_type {
        "video/mp4" => ".mp4",
        "video/webm" => ".webm",
        "video/quicktime" => ".mov",
        "audio/wav" | "audio/x-wav" => ".wav",
        "audio/mpeg" => ".mp3",
        "audio/mp4" => ".m4a",
        "audio/ogg" => ".ogg",
        "image/jpeg" => ".jpg",
        "image/png" => ".png",
        "application/pdf" => ".pdf",
        "text/plain" => ".txt",
        _ => "",
    };
    let safe: String =
        title.chars().map(|c| if c.is_alphanumeric() || " .()-".contains(c) { c } else { '_' }).collect();
    format!("{safe}{ext}")
}

/// Makes the link; answers it and the server's view of it.
pub(crate) async fn share(client: &ApiClient, r: &ShareRequest<'_>) -> anyhow::Result<(String, Value)> {
    let family: Value = client.get("/v1/family").await?;
    let family = family["id"].as_str().context("the server named no family")?.to_owned();
    let mut id = [0u8; 16];
    OsRng.fill_bytes(&mut id);
    let id = B64URL.encode(id);
    let mut secret = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(secret.as_mut());
    let mut salt = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    let stretched = r.passphrase.as_ref().map(|p| passphrase_key(p, &salt)).transpose()?;
    let key = vault_core::link::wrapping_key(&id, &secret, stretched.as_deref());
    let mut recordings = Vec::new();
    for recording in r.recordings {
        let view: Value = client.get(&format!("/v1/recordings/{recording}")).await?;
        let release: Value = client.post(&format!("/v1/recordings/{recording}/key"), &json!({})).await?;
        let title = view["title"].as_str().filter(|t| !t.trim().is_empty()).unwrap_or("A recording").to_owned();
        let created = view["created_at"].as_i64().unwrap_or_default();
        let day = time::OffsetDateTime::from_unix_timestamp(created / 1000)
            .map(|t| format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()))
            .unwrap_or_else(|_| "1970-01-01".into());
        let content_type = view["content_type"].as_str().unwrap_or_default();
        let item = Zeroizing::new(serde_json::to_vec(&json!({
            "recording": recording,
            "data_key": release["data_key"],
            "title": title,
            "recorded_on": day,
            "kind": view["kind"],
            "name": file_name(&title, content_type),
        }))?);
        let sealed = vault_core::link::seal(&key, &id, &family, &item, &mut OsRng)?;
        recordings.push(json!({ "recording_id": recording, "sealed": B64.encode(sealed) }));
    }
    let mut body = json!({
        "id": id, "name": r.name, "expires_in_days": r.days, "allow_download": r.allow_download,
        "recordings": recordings,
    });
    if let Some(max) = r.max_views {
        body["max_views"] = json!(max);
    }
    if r.passphrase.is_some() {
        body["passphrase"] = json!({
            "algorithm": "argon2id", "salt": B64.encode(salt), "memory_kib": KDF_MEMORY_KIB, "iterations": KDF_ITERATIONS,
        });
    }
    let made: Value = client.post("/v1/family/links", &body).await?;
    Ok((format!("{}/share.html#{id}.{}", client.base, B64URL.encode(secret.as_ref())), made))
}
