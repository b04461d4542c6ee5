//! `vault client deliver`: a studio's delivery from a terminal, as the studio's page
//! makes one. Each file is encrypted here (the server sees ciphertext only); its title
//! and "recorded on" date are sealed under the delivery family's library key, as the
//! page seals them, so the family sees them and the server does not.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use rand_core::OsRng;
use reqwest::Method;
use serde_json::{Value, json};
use vault_core::Encryptor;
use vault_core::io::EncryptWriter;

use super::{ApiClient, UploadOptions};
use crate::api::recordings::DataKeyGrant;

/// A delivery to make: for whom, what, and whether to invite the parents now.
#[derive(Debug)]
pub(crate) struct DeliveryRequest<'a> {
    pub customer: &'a str,
    pub family_name: Option<&'a str>,
    /// Add to this open delivery instead of starting one.
    pub delivery: Option<&'a str>,
    /// Each file with its upload options (its title is sealed, never sent in the clear).
    pub files: Vec<(PathBuf, UploadOptions)>,
    /// YYYY-MM-DD.
    pub recorded_on: &'a str,
    /// Days the parents' invitation works, if one is to be sent.
    pub invite_days: Option<u32>,
    /// The hand-off date (Unix milliseconds), for a new delivery.
    pub contribute_until: Option<i64>,
    /// A family's invitation's secret: the new delivery goes into that family's vault.
    pub family_invitation: Option<&'a str>,
}

/// What a delivery came to: the delivery, its new recordings, and the parents' link.
#[derive(Debug)]
pub(crate) struct Delivered {
    pub delivery: Value,
    pub recordings: Vec<String>,
    pub link: Option<String>,
}

/// A small message under the library key (the page's `sealWhole`).
fn seal(grant: &DataKeyGrant, plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
    let materials = super::materials(grant)?;
    let mut writer = EncryptWriter::new(Vec::new(), Encryptor::new(&materials, 4096, &mut OsRng)?);
    writer.write_all(plaintext)?;
    Ok(writer.finish()?)
}

/// Makes (or adds to) a delivery, uploads the files into it, and invites the parents.
pub(crate) async fn deliver(
    studio: &ApiClient,
    r: DeliveryRequest<'_>,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<Delivered> {
    let delivery: Value = match r.delivery {
        Some(id) => {
            let all: Value = studio.get("/v1/studio/deliveries").await?;
            all.as_array()
                .and_then(|a| a.iter().find(|d| d["id"] == id))
                .cloned()
                .with_context(|| format!("the studio has no delivery {id}"))?
        }
        None => {
            let mut body = json!({ "customer": r.customer });
            if let Some(name) = r.family_name {
                body["family_name"] = json!(name);
            }
            if let Some(until) = r.contribute_until {
                body["contribute_until"] = json!(until);
            }
            if let Some(secret) = r.family_invitation {
                body["family_invitation"] = json!(secret);
            }
            studio.post("/v1/studio/deliveries", &body).await?
        }
    };
    let id = delivery["id"].as_str().context("the server named no delivery")?.to_owned();
    let contributor = studio.in_delivery(&id);
    let library: DataKeyGrant = contributor.post("/v1/family/library-key", &json!({})).await?;
    let mut recordings = Vec::new();
    for (file, options) in r.files {
        let sealed_title = options.title.clone();
        let options = UploadOptions { title: String::new(), ..options };
        let recording = super::upload(&contributor, &file, &options, bar).await?;
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let details = json!({
            "recording": recording, "title": sealed_title, "recorded_on": r.recorded_on, "note": "", "name": name,
        });
        let body = seal(&library, &serde_json::to_vec(&details)?)?;
        let req = contributor
            .request(Method::PUT, &format!("/v1/recordings/{recording}/details"))
            .header("content-type", "application/octet-stream")
            .body(body);
        contributor.send_empty(req).await?;
        recordings.push(recording);
    }
    let link = match r.invite_days {
        Some(days) => {
            let made: Value = studio
                .post(&format!("/v1/studio/deliveries/{id}/invitation"), &json!({ "expires_in_days": days }))
                .await?;
            let customer = delivery["customer"].as_str().unwrap_or_default();
            Some(format!(
                "{}/#invite={}&family={}&name={}",
                studio.base,
                made["secret"].as_str().unwrap_or_default(),
                delivery["family_id"].as_str().unwrap_or_default(),
                utf8_percent_encode(customer)
            ))
        }
        None => None,
    };
    let delivery: Value = studio
        .get::<Value>("/v1/studio/deliveries")
        .await?
        .as_array()
        .and_then(|a| a.iter().find(|d| d["id"] == id.as_str()).cloned())
        .unwrap_or(delivery);
    Ok(Delivered { delivery, recordings, link })
}

/// The customer's name as the page's `encodeURIComponent` writes it.
fn utf8_percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
