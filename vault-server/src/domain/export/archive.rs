//! A family's export (GDPR/CCPA access and portability): a tar archive a family can
//! open without Vault, streamed (one store chunk in memory), holding
//!
//! ```text
//! README.txt              how to decrypt, in plain words
//! metadata.json           the family and every recording (title, kind, sizes, hashes, dates)
//! objects/<id>.esdk       each recording's ciphertext exactly as stored (ESDK message)
//! recovery/<id>.key       the recovery kit: that recording's data key, as the plaintext of
//!                         a small ESDK message under the export's recovery key (raw AES)
//! recovery/library.key    the family's library key, sealed the same way (if it has one)
//! library/<id>.details    the recording's encrypted details (title, date, note) and
//! library/<id>.poster     poster, as stored: ESDK messages under the library key
//! recovery/decrypt.py     decrypts everything with the official Python aws-encryption-sdk
//! ```
//!
//! The recovery key is a fresh random 256-bit key per export, returned to the caller
//! once and never stored. With it, the official SDK opens `recovery/<id>.key` (a raw AES
//! keyring, namespace [`RECOVERY_NAMESPACE`], name `export/<export id>`) and then the
//! stored message with that data key, checking its commitment, header and every frame:
//! the family needs neither Vault, nor KMS, nor its account to read its recordings.
//!
//! Why not re-wrap the data key into a new header of the stored message: the header's
//! tag is AES-GCM under the message's frame key with a fixed all-zero IV, so a second
//! header for the same message would reuse that key and IV, and the two tags together
//! reveal GCM's hash key, letting anyone forge frames.

use futures_util::StreamExt;
use rand_core::{OsRng, RngCore};
use serde::Serialize;
use serde_json::json;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use vault_core::{
    DecryptPolicy, EncryptionContext, EncryptionMaterials, HeaderParse, Keyring, ParsedHeader, RawAesKeyring,
};
use zeroize::Zeroizing;

use crate::db::Recording;
use crate::domain::Services;
use crate::domain::audit::{Action, Event, Outcome, RequestMeta};
use crate::store::get_small;

/// Key namespace (ESDK provider id) of recovery keys.
pub(crate) const RECOVERY_NAMESPACE: &str = "vault-recovery";
const BLOCK: usize = 512;

/// What an export produced, for the caller and the audit row.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ExportSummary {
    pub export_id: String,
    pub family_id: String,
    pub recordings: usize,
    pub ciphertext_bytes: u64,
    pub key_name: String,
}

/// A fresh export: its id and the recovery key that only the caller will see.
pub(crate) struct ExportKey {
    pub export_id: String,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for ExportKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportKey").field("export_id", &self.export_id).finish_non_exhaustive()
    }
}

impl ExportKey {
    pub(crate) fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(key.as_mut());
        Self { export_id: uuid::Uuid::new_v4().to_string(), key }
    }

    /// The key as 64 hex characters, for the owner to keep.
    pub(crate) fn hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.key.as_ref()))
    }

    pub(crate) fn key_name(&self) -> String {
        format!("export/{}", self.export_id)
    }

    /// The key of export `export_id`, back from its link.
    pub(super) fn restore(export_id: String, key: Zeroizing<[u8; 32]>) -> Self {
        Self { export_id, key }
    }

    pub(super) fn bytes(&self) -> &Zeroizing<[u8; 32]> {
        &self.key
    }

    fn keyring(&self) -> anyhow::Result<RawAesKeyring> {
        Ok(RawAesKeyring::new(RECOVERY_NAMESPACE, self.key_name(), *self.key)?)
    }
}

#[derive(Serialize)]
struct RecordingEntry<'a> {
    id: &'a str,
    title: &'a str,
    kind: &'a str,
    content_type: &'a str,
    plaintext_size: u64,
    ciphertext_size: Option<u64>,
    ciphertext_sha256: Option<String>,
    header_len: Option<u64>,
    frame_length: u32,
    encryption: &'a str,
    created_at: i64,
    created_by: &'a str,
    object: String,
    recovery_key: String,
    /// The encrypted details and poster, when the page sealed them (`super::super::library`).
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    poster: Option<String>,
}

/// Writes `family`'s export to `out`. Fails before writing anything if the family is
/// unknown or erased; a failure later leaves a truncated archive (the caller removes
/// it: the CLI writes to a temporary file, the HTTP body is cut).
pub(crate) async fn write<W: AsyncWrite + Unpin>(
    state: &Services,
    family_id: &str,
    export: &ExportKey,
    out: &mut W,
) -> anyhow::Result<ExportSummary> {
    let family = state.db.family(family_id).await?.ok_or_else(|| anyhow::anyhow!("no family {family_id:?}"))?;
    if state.db.family_erased(family_id).await?.is_some() {
        anyhow::bail!("family {family_id:?} was erased: nothing can be exported");
    }
    let keyring = export.keyring()?;
    let mut tar = Tar { out, mtime: time::OffsetDateTime::now_utc().unix_timestamp() };
    tar.file("README.txt", readme(&export.export_id, family_id).as_bytes()).await?;
    tar.file("recovery/decrypt.py", DECRYPT_PY.as_bytes()).await?;

    // Recordings page by page: headers and objects stream; the metadata entries of
    // every recording are small and go last.
    let mut entries = Vec::new();
    let mut summary = ExportSummary {
        export_id: export.export_id.clone(),
        family_id: family_id.to_owned(),
        recordings: 0,
        ciphertext_bytes: 0,
        key_name: export.key_name(),
    };
    // The library key opens every recording's sealed details and poster.
    let library = match state.db.library_edks(family_id).await? {
        Some(edks) => {
            let context = EncryptionContext::for_vault_object(family_id, crate::domain::library::LIBRARY_OBJECT);
            let key = state
                .keys
                .decrypt_data_key(&crate::keys::FamilyKeyId(family.key_id.clone()), &edks, &context)
                .await
                .map_err(|e| anyhow::anyhow!("cannot unwrap the library key: {e}"))?;
            let mut kit_context = context.clone();
            kit_context.insert("vault:kit", "library-key");
            let materials = EncryptionMaterials::generate(kit_context, &[&keyring as &dyn Keyring], &mut OsRng)?;
            tar.file("recovery/library.key", &vault_core::encrypt(&materials, 4096, key.expose(), &mut OsRng)?).await?;
            true
        }
        None => false,
    };
    let mut cursor: Option<(i64, String)> = None;
    loop {
        let page = state
            .db
            .list_recordings(family_id, cursor.as_ref().map(|(a, id)| (*a, id.as_str())), 100, true, None)
            .await?;
        let Some(last) = page.last() else { break };
        cursor = Some((last.created_at, last.id.clone()));
        for r in &page {
            let kit = recovery_kit(state, &family.key_id, r, &keyring).await?;
            tar.file(&format!("recovery/{}.key", r.id), &kit).await?;
            let size = r.ciphertext_size.unwrap_or(0);
            let body = state.store.get(&r.object_key, None).await?;
            tar.stream(&format!("objects/{}.esdk", r.id), size, body).await?;
            summary.recordings += 1;
            summary.ciphertext_bytes += size;
            let details = match &r.details {
                Some(message) if library => {
                    let path = format!("library/{}.details", r.id);
                    tar.file(&path, message).await?;
                    Some(path)
                }
                _ => None,
            };
            let poster = match state.db.poster(family_id, &r.id).await? {
                Some(message) if library => {
                    let path = format!("library/{}.poster", r.id);
                    tar.file(&path, &message).await?;
                    Some(path)
                }
                _ => None,
            };
            entries.push(serde_json::to_value(RecordingEntry {
                id: &r.id,
                title: &r.title,
                kind: r.kind.as_str(),
                content_type: &r.content_type,
                plaintext_size: r.plaintext_size,
                ciphertext_size: r.ciphertext_size,
                ciphertext_sha256: r.sha256.map(hex::encode),
                header_len: r.header_len,
                frame_length: r.plan.frame_length(),
                encryption: r.encryption.as_str(),
                created_at: r.created_at,
                created_by: &r.created_by,
                object: format!("objects/{}.esdk", r.id),
                recovery_key: format!("recovery/{}.key", r.id),
                details,
                poster,
            })?);
        }
    }
    let metadata = json!({
        "format": "vault-export/1",
        "export_id": export.export_id,
        "exported_at": crate::db::now_ms(),
        "family": { "id": family.id, "name": family.name, "created_at": family.created_at },
        "members": state.db.members(family_id).await?.into_iter().map(crate::api::members::MemberView::from).collect::<Vec<_>>(),
        "recovery_key": { "namespace": RECOVERY_NAMESPACE, "name": export.key_name(), "algorithm": "AES-256-GCM (raw AES keyring)" },
        "library_key": library.then_some("recovery/library.key"),
        "recordings": entries,
    });
    tar.file("metadata.json", &serde_json::to_vec_pretty(&metadata)?).await?;
    tar.finish().await?;
    Ok(summary)
}

/// The data key of `r`, checked against the stored header (key commitment and tag),
/// sealed as an ESDK message under the recovery keyring.
async fn recovery_kit(
    state: &Services,
    family_key: &str,
    r: &Recording,
    keyring: &RawAesKeyring,
) -> anyhow::Result<Vec<u8>> {
    let len = r.header_len.ok_or_else(|| anyhow::anyhow!("recording {} has no header", r.id))?;
    let bytes = get_small(state.store.as_ref(), &r.object_key, Some(0..len), usize::try_from(len)?).await?;
    let header = match ParsedHeader::parse(&bytes, &DecryptPolicy::default())? {
        HeaderParse::Complete(h) => h,
        HeaderParse::NeedMore(_) => anyhow::bail!("the stored header of {} is incomplete", r.id),
    };
    let data_key = crate::domain::recordings::data_key(state, r, family_key)
        .await
        .map_err(|e| anyhow::anyhow!("cannot unwrap the data key of {}: {e}", r.id))?;
    header.verify(&data_key).map_err(|e| anyhow::anyhow!("the data key of {} does not open its object: {e}", r.id))?;
    let mut context = EncryptionContext::for_vault_object(&r.family_id, &r.id);
    context.insert("vault:kit", "data-key");
    let materials = EncryptionMaterials::generate(context, &[keyring as &dyn Keyring], &mut OsRng)?;
    Ok(vault_core::encrypt(&materials, 4096, data_key.expose(), &mut OsRng)?)
}

/// A ustar writer over an async sink (headers from the `tar` crate).
struct Tar<'a, W> {
    out: &'a mut W,
    mtime: i64,
}

impl<W: AsyncWrite + Unpin> Tar<'_, W> {
    fn header(&self, path: &str, size: u64) -> anyhow::Result<tar::Header> {
        let mut header = tar::Header::new_ustar();
        header.set_path(path)?;
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(u64::try_from(self.mtime).unwrap_or(0));
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        Ok(header)
    }

    async fn file(&mut self, path: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let header = self.header(path, bytes.len() as u64)?;
        self.out.write_all(header.as_bytes()).await?;
        self.out.write_all(bytes).await?;
        self.pad(bytes.len() as u64).await
    }

    /// An entry of exactly `size` bytes from `body`; a body of another length fails.
    async fn stream(&mut self, path: &str, size: u64, mut body: crate::store::ByteStream) -> anyhow::Result<()> {
        let header = self.header(path, size)?;
        self.out.write_all(header.as_bytes()).await?;
        let mut written = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            written += chunk.len() as u64;
            if written > size {
                anyhow::bail!("{path}: the store returned more than the recorded {size} bytes");
            }
            self.out.write_all(&chunk).await?;
        }
        if written != size {
            anyhow::bail!("{path}: the store returned {written} of the recorded {size} bytes");
        }
        self.pad(size).await
    }

    async fn pad(&mut self, size: u64) -> anyhow::Result<()> {
        let rem = usize::try_from(size % BLOCK as u64)?;
        if rem != 0 {
            self.out.write_all(&[0u8; BLOCK][..BLOCK - rem]).await?;
        }
        Ok(())
    }

    async fn finish(self) -> anyhow::Result<()> {
        self.out.write_all(&[0u8; 2 * BLOCK]).await?;
        self.out.flush().await?;
        Ok(())
    }
}

/// The export's README: what is inside and how to decrypt it without Vault.
fn readme(export_id: &str, family_id: &str) -> String {
    format!(
        r#"Vault export {export_id} of family {family_id}
=====================================================================

Every recording is here as it was stored: an AWS Encryption SDK message (format
version 2, algorithm suite 0x0478, AES-256-GCM with key commitment), readable by
the official AWS Encryption SDKs (Python, Java, JavaScript, C, .NET, the CLI).

  metadata.json          titles, kinds, sizes, SHA-256 of each object, dates, members
  objects/<id>.esdk      the encrypted recording, byte for byte as Vault stored it
  recovery/<id>.key      the recovery kit: that recording's data key, itself
                         encrypted under your RECOVERY KEY (an ESDK message)
  recovery/library.key   the family's library key, encrypted the same way
  library/<id>.details   the recording's title, date and note, and
  library/<id>.poster    its poster (a JPEG), each an ESDK message under the library key
  recovery/decrypt.py    a script that decrypts everything with the official Python SDK

Your recovery key was shown to you once, when you made this export: 64 hex
characters. Vault does not keep it. Anyone who has both this archive and that key
can read every recording: keep them apart. (Member ids, and titles of recordings
uploaded without the web page, are in metadata.json unencrypted.)

To decrypt everything:

    python3 -m venv venv && venv/bin/pip install aws-encryption-sdk
    venv/bin/python recovery/decrypt.py --key <RECOVERY KEY> --out decrypted/ .

decrypt.py streams every recording listed in metadata.json into decrypted/, named
by its title (opened from library/<id>.details) plus an extension from its type.

With another official SDK, or the AWS Encryption SDK CLI with a raw-key master key
provider plugin, it is two steps per recording:
  1. decrypt recovery/<id>.key with a raw AES keyring (provider id / key namespace
     "{RECOVERY_NAMESPACE}", key name "export/{export_id}", the recovery key as the
     256-bit wrapping key): the result is the recording's 32-byte data key;
  2. decrypt objects/<id>.esdk with that data key (a materials manager that supplies
     it, as decrypt.py's KnownDataKey does).
The SDK checks the key commitment, the header and every frame's tag: a damaged or
altered file fails, it never yields wrong bytes.
"#
    )
}

/// Decrypts an export with the official Python AWS Encryption SDK (see README.txt).
pub(crate) const DECRYPT_PY: &str = include_str!("decrypt.py");

/// Runs an export into `out` and records it in the family's audit log.
pub(crate) async fn export_audited<W: AsyncWrite + Unpin>(
    state: &Services,
    family_id: &str,
    actor: &str,
    meta: &RequestMeta,
    export: &ExportKey,
    out: &mut W,
) -> anyhow::Result<ExportSummary> {
    let result = write(state, family_id, export, out).await;
    let (outcome, metadata) = match &result {
        Ok(s) => (
            Outcome::Success,
            json!({ "export_id": s.export_id, "recordings": s.recordings, "ciphertext_bytes": s.ciphertext_bytes, "key_name": s.key_name }),
        ),
        Err(e) => (Outcome::Failed, json!({ "export_id": export.export_id, "error": e.to_string() })),
    };
    let event = Event {
        tenant: family_id.to_owned(),
        actor: actor.to_owned(),
        action: Action::FamilyExported,
        target: family_id.to_owned(),
        outcome,
        metadata,
    };
    state.audit.record(&event, meta).await?;
    result
}
