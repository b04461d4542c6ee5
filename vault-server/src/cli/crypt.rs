//! `vault encrypt` and `vault decrypt`: streaming, constant memory, atomic files.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use anyhow::{Context, bail};
use rand_core::OsRng;
use tempfile::NamedTempFile;
use vault_core::{DecryptPolicy, Decryptor, EncryptionMaterials, Encryptor, Keyring};

use super::{DecryptArgs, EncryptArgs, IoArgs, context, progress};
use crate::keyfile;

/// Bytes read from the input per step: large enough for throughput, small enough
/// that memory stays flat whatever the file size.
const CHUNK: usize = 1 << 20;

pub(super) fn encrypt(args: EncryptArgs) -> anyhow::Result<()> {
    let keyring = keyfile::load_raw_aes(&args.key.key_file, &args.key.key_namespace, &args.key.key_name)?;
    let materials = EncryptionMaterials::generate(context(args.context), &[&keyring as &dyn Keyring], &mut OsRng)?;
    let mut encryptor = Encryptor::new(&materials, args.frame_length, &mut OsRng)?;
    with_io(&args.io, "encrypting", |input, output, bar| {
        let mut chunk = vec![0u8; CHUNK];
        let mut out = Vec::with_capacity(CHUNK + CHUNK / 16);
        loop {
            let n = read_some(input, &mut chunk)?;
            if n == 0 {
                break;
            }
            encryptor.update(&chunk[..n], &mut out)?;
            output.write_all(&out).context("cannot write output")?;
            out.clear();
            bar.inc(n as u64);
        }
        encryptor.finish(&mut out)?;
        output.write_all(&out).context("cannot write output")?;
        Ok(())
    })
}

pub(super) fn decrypt(args: DecryptArgs) -> anyhow::Result<()> {
    let keyring = keyfile::load_raw_aes(&args.key.key_file, &args.key.key_namespace, &args.key.key_name)?;
    let policy = DecryptPolicy::requiring(context(args.context));
    with_io(&args.io, "decrypting", |input, output, bar| {
        let mut decryptor = Decryptor::new(policy);
        let mut chunk = vec![0u8; CHUNK];
        let mut out = Vec::with_capacity(CHUNK + CHUNK / 16);
        loop {
            let n = read_some(input, &mut chunk)?;
            if n == 0 {
                break;
            }
            let mut offered = &chunk[..n];
            while !offered.is_empty() {
                let step = decryptor.update(offered, &mut out);
                // Only verified frames are ever in `out`, even when a later one failed.
                output.write_all(&out).context("cannot write output")?;
                out.clear();
                offered = &offered[step?..];
                if decryptor.header().is_some() {
                    decryptor.unlock_with(&[&keyring])?;
                }
            }
            bar.inc(n as u64);
        }
        decryptor.finish()?;
        Ok(())
    })
}

/// Runs `body` between the chosen input and output. A file output is written to a
/// temporary file beside it and renamed into place only when `body` succeeds, so a
/// failed decryption never leaves a partial plaintext behind.
fn with_io(
    io: &IoArgs,
    verb: &str,
    body: impl FnOnce(&mut dyn Read, &mut dyn Write, &indicatif::ProgressBar) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let (mut input, total): (Box<dyn Read>, Option<u64>) = match &io.input {
        Some(path) => {
            let file = File::open(path).with_context(|| format!("cannot open input {}", path.display()))?;
            let len = file.metadata().ok().map(|m| m.len());
            (Box::new(file), len)
        }
        None => (Box::new(io::stdin().lock()), None),
    };
    let bar = progress::bytes(total, verb);
    match &io.output {
        Some(path) => {
            let mut tmp = temp_beside(path)?;
            {
                let mut writer = BufWriter::with_capacity(CHUNK, tmp.as_file_mut());
                body(&mut input, &mut writer, &bar)?;
                writer.flush().context("cannot write output")?;
            }
            tmp.as_file().sync_all().context("cannot flush output to disk")?;
            tmp.persist(path).with_context(|| format!("cannot move output into place at {}", path.display()))?;
        }
        None => {
            let stdout = io::stdout().lock();
            let mut writer = BufWriter::with_capacity(CHUNK, stdout);
            // Everything in the buffer is verified plaintext: deliver it even when a
            // later frame fails, so a reader of a stream gets every good frame.
            let result = body(&mut input, &mut writer, &bar);
            let flushed = writer.flush().context("cannot write to standard output");
            result?;
            flushed?;
        }
    }
    bar.finish_and_clear();
    Ok(())
}

fn temp_beside(path: &Path) -> anyhow::Result<NamedTempFile> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if path.is_dir() {
        bail!("output {} is a directory", path.display());
    }
    tempfile::Builder::new()
        .prefix(".vault-partial-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))
}

/// Fills as much of `buf` as the input gives in one go, retrying on interrupts.
fn read_some(input: &mut dyn Read, buf: &mut [u8]) -> anyhow::Result<usize> {
    loop {
        match input.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("cannot read input"),
        }
    }
}
