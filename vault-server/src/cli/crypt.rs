//! `vault encrypt` and `vault decrypt`: streaming, constant memory, atomic files.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::mpsc;

use anyhow::{Context, bail};
use rand_core::OsRng;
use tempfile::NamedTempFile;
use vault_core::io::{DecryptReader, EncryptWriter};
use vault_core::{DecryptPolicy, Decryptor, EncryptionMaterials, Encryptor, Keyring};

use super::{DecryptArgs, EncryptArgs, IoArgs, context, progress};
use crate::keyfile;

/// Bytes read from the input per step: large enough for throughput, small enough
/// that memory stays flat whatever the file size.
const CHUNK: usize = 1 << 20;

pub(super) fn encrypt(args: EncryptArgs) -> anyhow::Result<()> {
    let keyring = keyfile::load_raw_aes(&args.key.key_file, &args.key.key_namespace, &args.key.key_name)?;
    let materials = EncryptionMaterials::generate(context(args.context), &[&keyring as &dyn Keyring], &mut OsRng)?;
    let encryptor = Encryptor::new(&materials, args.frame_length, &mut OsRng)?;
    with_io(&args.io, "encrypting", |input, output, bar| {
        let mut writer = EncryptWriter::new(output, encryptor);
        let mut chunk = vec![0u8; CHUNK];
        loop {
            let n = read_some(input, &mut chunk)?;
            if n == 0 {
                break;
            }
            writer.write_all(&chunk[..n])?;
            bar.inc(n as u64);
        }
        writer.finish()?;
        Ok(())
    })
}

pub(super) fn decrypt(args: DecryptArgs) -> anyhow::Result<()> {
    let keyring = keyfile::load_raw_aes(&args.key.key_file, &args.key.key_namespace, &args.key.key_name)?;
    let policy = DecryptPolicy::requiring(context(args.context));
    with_io(&args.io, "decrypting", |input, output, bar| {
        let counted = Counted { inner: input, bar: bar.clone() };
        let mut plaintext = DecryptReader::new(counted, policy, |d: &mut Decryptor| d.unlock_with(&[&keyring]));
        // Only verified frames are ever lent; those before a failure are delivered.
        let copied = plaintext.copy_to(output);
        output.flush()?;
        copied?;
        Ok(())
    })
}

/// Counts the bytes read on the progress bar.
struct Counted<'a> {
    inner: &'a mut dyn Read,
    bar: indicatif::ProgressBar,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

/// Runs `body` between the chosen input and output. A file output is written to a
/// temporary file beside it and renamed into place only when `body` succeeds, so a
/// failed decryption never leaves a partial plaintext behind.
fn with_io(
    io: &IoArgs,
    verb: &str,
    body: impl FnOnce(&mut dyn Read, &mut Sink, &indicatif::ProgressBar) -> anyhow::Result<()>,
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
            let tmp = temp_beside(path)?;
            let file = tmp.as_file().try_clone().context("cannot open the temporary output")?;
            let mut sink = Sink::spawn(Box::new(file));
            let result = body(&mut input, &mut sink, &bar);
            let closed = sink.close();
            result?;
            closed?;
            tmp.as_file().sync_all().context("cannot flush output to disk")?;
            tmp.persist(path).with_context(|| format!("cannot move output into place at {}", path.display()))?;
        }
        None => {
            // Everything sent is verified plaintext: deliver it even when a later
            // frame fails, so a reader of a stream gets every good frame.
            let mut sink = Sink::spawn(Box::new(io::stdout()));
            let result = body(&mut input, &mut sink, &bar);
            let closed = sink.close();
            result?;
            closed?;
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// Writes go into the current buffer, handed to the writer thread when full.
impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.current.capacity() == 0 {
            self.current = self.buffer().map_err(|e| io::Error::other(format!("{e:#}")))?;
        }
        self.current.extend_from_slice(bytes);
        if self.current.len() >= CHUNK {
            let full = std::mem::take(&mut self.current);
            self.current = self.send(full).map_err(|e| io::Error::other(format!("{e:#}")))?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let full = std::mem::take(&mut self.current);
        self.current = self.send(full).map_err(|e| io::Error::other(format!("{e:#}")))?;
        Ok(())
    }
}

/// Output written on its own thread, so writing overlaps reading and crypto (the
/// CLI is otherwise I/O-bound). Buffers go round between the two threads: at most
/// [`IN_FLIGHT`] + 1 of them exist, so memory stays flat.
struct Sink {
    full: Option<mpsc::SyncSender<Vec<u8>>>,
    empty: mpsc::Receiver<Vec<u8>>,
    writer: Option<std::thread::JoinHandle<io::Result<()>>>,
    /// The buffer being filled.
    current: Vec<u8>,
}

const IN_FLIGHT: usize = 2;

impl Sink {
    fn spawn(mut output: Box<dyn Write + Send>) -> Self {
        let (full_tx, full_rx) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT);
        let (empty_tx, empty_rx) = mpsc::sync_channel(IN_FLIGHT + 1);
        for _ in 0..IN_FLIGHT {
            let _ = empty_tx.send(Vec::with_capacity(CHUNK + CHUNK / 16));
        }
        let writer = std::thread::spawn(move || {
            for mut buf in full_rx {
                output.write_all(&buf)?;
                buf.clear();
                // The main thread may already be gone after an error: nothing to recycle to.
                let _ = empty_tx.send(buf);
            }
            output.flush()
        });
        Self { full: Some(full_tx), empty: empty_rx, writer: Some(writer), current: Vec::new() }
    }

    /// An empty buffer to fill.
    fn buffer(&mut self) -> anyhow::Result<Vec<u8>> {
        match self.empty.recv() {
            Ok(buf) => Ok(buf),
            Err(_) => self.fail(),
        }
    }

    /// Queues `buf` for writing and returns an empty buffer to fill next.
    fn send(&mut self, buf: Vec<u8>) -> anyhow::Result<Vec<u8>> {
        if buf.is_empty() {
            return Ok(buf);
        }
        let sent = self.full.as_ref().map(|tx| tx.send(buf));
        if !matches!(sent, Some(Ok(()))) {
            return self.fail();
        }
        self.buffer()
    }

    /// Writes what is buffered and waits for every queued buffer to be written.
    fn close(mut self) -> anyhow::Result<()> {
        self.flush()?;
        self.full = None;
        match self.writer.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result.context("cannot write output"),
            _ => bail!("the output writer stopped unexpectedly"),
        }
    }

    /// The writer thread has stopped: report why.
    fn fail<T>(&mut self) -> anyhow::Result<T> {
        self.full = None;
        match self.writer.take().map(std::thread::JoinHandle::join) {
            Some(Ok(Err(e))) => Err(e).context("cannot write output"),
            _ => bail!("the output writer stopped unexpectedly"),
        }
    }
}

/// A temporary file beside `path` (same filesystem), persisted over it once complete.
pub(super) fn temp_beside(path: &Path) -> anyhow::Result<NamedTempFile> {
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
