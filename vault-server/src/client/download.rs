//! Download and local decryption, written atomically: no output file unless every
//! frame verified and the ciphertext's SHA-256 matches the recorded one. To standard
//! output (`-`), frames are written as they verify, and a failure after them is an
//! error (as `vault decrypt` does).

use std::io::{self, Read, Write};
use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use futures_util::TryStreamExt;
use reqwest::Method;
use sha2::{Digest, Sha256};
use vault_core::io::DecryptReader;
use vault_core::{DataKey, DecryptPolicy, Decryptor, EncryptionContext};
use zeroize::Zeroizing;

use super::{ApiClient, checked};
use crate::api::families::FamilyView;
use crate::api::playback::KeyRelease;
use crate::api::recordings::RecordingView;

/// Hashes (and counts, on the progress bar) the ciphertext as it is read.
struct Hashing<R> {
    inner: R,
    sha: Sha256,
    bar: indicatif::ProgressBar,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        self.bar.inc(n as u64);
        Ok(n)
    }
}

/// Downloads recording `id` of the caller's family into `output` (`-`: standard output).
pub(crate) async fn download(
    client: &ApiClient,
    id: &str,
    output: &Path,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<()> {
    let meta: RecordingView = client.get(&format!("/v1/recordings/{id}")).await?;
    let family: FamilyView = client.get("/v1/family").await?;
    let release: KeyRelease = client.post(&format!("/v1/recordings/{id}/key"), &serde_json::json!({})).await?;
    let key = Zeroizing::new(B64.decode(release.data_key.as_bytes()).context("data key is not base64")?);
    let data_key = DataKey::try_from_slice(&key).context("data key has the wrong length")?;
    let response = checked(client.request(Method::GET, &format!("/v1/recordings/{id}/content")).send().await?).await?;
    let body = tokio_util::io::StreamReader::new(response.bytes_stream().map_err(io::Error::other));
    let ciphertext = tokio_util::io::SyncIoBridge::new(body);
    let policy = DecryptPolicy::requiring(EncryptionContext::for_vault_object(&family.id, id));
    let (output, bar, expected) = (output.to_owned(), bar.clone(), meta.sha256.unwrap_or_default());
    // The decryption reads synchronously (vault-core's `Read` adapter): off the runtime.
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut hashing = Hashing { inner: ciphertext, sha: Sha256::new(), bar };
        let mut plaintext = DecryptReader::new(&mut hashing, policy, |d: &mut Decryptor| d.unlock(&data_key));
        let file = if output.as_os_str() == "-" {
            let mut stdout = io::stdout().lock();
            plaintext.copy_to(&mut stdout).context("the download did not decrypt")?;
            stdout.flush()?;
            None
        } else {
            let dir = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let mut file =
                tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot write in {}", dir.display()))?;
            plaintext.copy_to(&mut file).context("the download did not decrypt")?;
            Some(file)
        };
        drop(plaintext);
        if hex::encode(hashing.sha.finalize()) != expected {
            bail!("the downloaded ciphertext does not match the recorded SHA-256");
        }
        if let Some(file) = file {
            file.as_file().sync_all()?;
            file.persist(&output).with_context(|| format!("cannot write {}", output.display()))?;
        }
        Ok(())
    })
    .await?
}
