//! Client-side encrypted upload: create → encrypt locally → parts (retried, resumed,
//! several in flight) → complete.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rand_core::OsRng;
use reqwest::Method;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use vault_core::{DataKey, EncryptedDataKey, EncryptionContext, EncryptionMaterials, Encryptor, PartPlan};
use zeroize::Zeroizing;

use super::{ApiClient, is_retryable};
use crate::api::recordings::{
    CreateRecording, Created, DataKeyGrant, Encryption, RecordingKind, RecordingStatus, RecordingView,
};
use crate::api::uploads::UploadStatus;

/// What to call the recording.
#[derive(Debug, Clone)]
pub(crate) struct UploadOptions {
    pub title: String,
    pub kind: RecordingKind,
    pub content_type: String,
    /// Let the server encrypt (plaintext leaves this machine, over TLS).
    pub server_side: bool,
}

const CHUNK: usize = 1 << 20;
const ATTEMPTS: u32 = 8;
/// Parts in flight at once after part 1: the server verifies and stores one while the
/// next ones arrive, and this machine encrypts meanwhile. Memory: this many parts.
const IN_FLIGHT: usize = 4;

/// The encryption materials of a key the server granted (a recording's, the library's).
pub(crate) fn materials(grant: &DataKeyGrant) -> anyhow::Result<EncryptionMaterials> {
    let key = Zeroizing::new(B64.decode(grant.data_key.as_bytes()).context("data key is not base64")?);
    let data_key = DataKey::try_from_slice(&key).context("data key has the wrong length")?;
    let edks = grant
        .encrypted_data_keys
        .iter()
        .map(EncryptedDataKey::try_from)
        .collect::<Result<Vec<_>, base64::DecodeError>>()?;
    let context = grant.encryption_context.clone().into_iter().collect::<EncryptionContext>();
    Ok(EncryptionMaterials::new(context, data_key, edks)?)
}

/// Uploads `path`; returns the new recording's id.
pub(crate) async fn upload(
    client: &ApiClient,
    path: &Path,
    options: &UploadOptions,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<String> {
    let size = tokio::fs::metadata(path).await.with_context(|| format!("cannot read {}", path.display()))?.len();
    let request = CreateRecording {
        title: options.title.clone(),
        kind: options.kind,
        content_type: options.content_type.clone(),
        plaintext_size: size,
        encryption: if options.server_side { Encryption::Server } else { Encryption::Client },
    };
    let created: Created = client.post("/v1/recordings", &request).await?;
    let id = created.recording.id.clone();
    let mut file = tokio::fs::File::open(path).await?;
    if options.server_side {
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file));
        let req = client
            .request(Method::PUT, &format!("/v1/recordings/{id}/plaintext"))
            .header("content-length", size)
            .body(body);
        client.send_empty(req).await?;
        bar.inc(size);
        return Ok(id);
    }
    let materials = materials(created.key.as_ref().context("the server sent no data key")?)?;
    let mut encryptor = Encryptor::new(&materials, created.upload.frame_length, &mut OsRng)?;
    let plan = PartPlan::new(created.upload.frame_length, created.upload.part_frames)?;
    let header_len = encryptor.header_len() as u64;
    let part_len = |n: u32| usize::try_from(plan.full_part_len(n, header_len)).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let mut chunk = vec![0u8; CHUNK];
    let mut part = 1u32;
    let mut parts = Pipeline { client: client.clone(), id: id.clone(), in_flight: tokio::task::JoinSet::new() };
    loop {
        let n = file.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        encryptor.update(&chunk[..n], &mut out)?;
        bar.inc(n as u64);
        while out.len() >= part_len(part) {
            let rest = out.split_off(part_len(part));
            parts.send(part, std::mem::replace(&mut out, rest)).await?;
            part += 1;
        }
    }
    encryptor.finish(&mut out)?;
    if out.len() > part_len(part) {
        let rest = out.split_off(part_len(part));
        parts.send(part, std::mem::replace(&mut out, rest)).await?;
        part += 1;
    }
    parts.send(part, out).await?;
    parts.finish().await?;
    let mut last = None;
    for attempt in 0..ATTEMPTS {
        match client.post::<RecordingView>(&format!("/v1/recordings/{id}/complete"), &serde_json::json!({})).await {
            Ok(_) => return Ok(id),
            Err(e) if is_retryable(&e) => {
                last = Some(e);
                backoff(attempt).await;
                // A commit that landed before the connection dropped shows as committed.
                if let Ok(r) = client.get::<RecordingView>(&format!("/v1/recordings/{id}")).await
                    && r.status == RecordingStatus::Committed
                {
                    return Ok(id);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("could not complete the upload")))
}

/// The parts on their way: part 1 alone (it carries the header the server checks the
/// others against), then up to [`IN_FLIGHT`] at once, each retried on its own.
struct Pipeline {
    client: ApiClient,
    id: String,
    in_flight: tokio::task::JoinSet<anyhow::Result<()>>,
}

impl Pipeline {
    async fn send(&mut self, n: u32, bytes: Vec<u8>) -> anyhow::Result<()> {
        if n == 1 {
            return put_part(&self.client, &self.id, n, bytes).await;
        }
        while self.in_flight.len() >= IN_FLIGHT {
            self.in_flight.join_next().await.context("no part in flight")???;
        }
        let (client, id) = (self.client.clone(), self.id.clone());
        self.in_flight.spawn(async move { put_part(&client, &id, n, bytes).await });
        Ok(())
    }

    /// Waits for every part still in flight.
    async fn finish(mut self) -> anyhow::Result<()> {
        while let Some(sent) = self.in_flight.join_next().await {
            sent??;
        }
        Ok(())
    }
}

/// Sends one part, retrying on connection loss and server errors; a part that did
/// arrive before the connection broke is recognised by its checksum.
async fn put_part(client: &ApiClient, id: &str, n: u32, bytes: Vec<u8>) -> anyhow::Result<()> {
    let sha = hex::encode(Sha256::digest(&bytes));
    let bytes = bytes::Bytes::from(bytes);
    let mut last = None;
    for attempt in 0..ATTEMPTS {
        let req = client
            .request(Method::PUT, &format!("/v1/recordings/{id}/parts/{n}"))
            .header("x-vault-sha256", &sha)
            .body(bytes.clone());
        match client.send_empty(req).await {
            Ok(()) => return Ok(()),
            Err(e) if is_retryable(&e) => {
                tracing::debug!(part = n, attempt, error = %e, "retrying part");
                last = Some(e);
                backoff(attempt).await;
                if let Ok(status) = client.get::<UploadStatus>(&format!("/v1/recordings/{id}/upload")).await
                    && status.parts.iter().any(|p| p.part_number == n)
                {
                    return Ok(());
                }
            }
            Err(e) => return Err(e.context(format!("part {n} refused"))),
        }
    }
    bail!("part {n} failed after {ATTEMPTS} attempts: {}", last.map(|e| format!("{e:#}")).unwrap_or_default())
}

async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt.min(5)))).await;
}
