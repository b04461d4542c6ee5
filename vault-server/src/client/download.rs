//! Download and local decryption, written atomically: no output file unless every
//! frame verified and the ciphertext's SHA-256 matches the recorded one.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use futures_util::StreamExt;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use vault_core::{DataKey, DecryptPolicy, Decryptor, EncryptionContext};
use zeroize::Zeroizing;

use super::{ApiClient, checked};

#[derive(Deserialize)]
struct KeyRelease {
    data_key: String,
}

/// Downloads recording `id` of the caller's family into `output`.
pub async fn download(client: &ApiClient, id: &str, output: &Path, bar: &indicatif::ProgressBar) -> anyhow::Result<()> {
    let meta: Value = client.get(&format!("/v1/recordings/{id}")).await?;
    let family: Value = client.get("/v1/family").await?;
    let release: KeyRelease = client.post(&format!("/v1/recordings/{id}/key"), &json!({})).await?;
    let key = Zeroizing::new(B64.decode(&release.data_key).context("data key is not base64")?);
    let data_key = DataKey::try_from_slice(&key).context("data key has the wrong length")?;
    let mut required = EncryptionContext::new();
    required.insert("vault:tenant", family["id"].as_str().unwrap_or_default()).insert("vault:object", id);
    let mut decryptor = Decryptor::new(DecryptPolicy::requiring(required));
    let dir = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut file =
        tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot write in {}", dir.display()))?;
    let response = checked(client.request(Method::GET, &format!("/v1/recordings/{id}/content")).send().await?).await?;
    let mut body = response.bytes_stream();
    let mut sha = Sha256::new();
    let mut out = Zeroizing::new(Vec::new());
    let mut unlocked = false;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.context("the download broke off")?;
        sha.update(&chunk);
        bar.inc(chunk.len() as u64);
        let mut rest: &[u8] = &chunk;
        while !rest.is_empty() {
            let used = decryptor.update(rest, &mut out)?;
            rest = &rest[used..];
            if !unlocked && decryptor.header().is_some() {
                decryptor.unlock(&data_key)?;
                unlocked = true;
            }
            file.write_all(&out)?;
            out.clear();
        }
    }
    decryptor.finish()?;
    let expected = meta["sha256"].as_str().unwrap_or_default();
    if hex::encode(sha.finalize()) != expected {
        bail!("the downloaded ciphertext does not match the recorded SHA-256");
    }
    file.as_file().sync_all()?;
    file.persist(output).with_context(|| format!("cannot write {}", output.display()))?;
    Ok(())
}
