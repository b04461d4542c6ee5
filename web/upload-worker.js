// Encrypts and uploads recordings off the main thread. One upload at a time per
// worker (the page queues); memory is two parts (~16 MiB) whatever the file's size:
// part n+1 is encrypted while part n is on the wire.
//
// Page → worker: {type:'start', file, title, kind, token, mode}
//                {type:'resume', id, file, token, mode}    (after a reload or crash)
//                {type:'pause'} | {type:'token', token}
// Worker → page: {type:'created'|'progress'|'paused'|'retrying'|'done'|'error', ...}
import { loadWasm, cryptoMode, frameKeyFor, sealFrames, Sealer, hex, unhex, unbase64, sha256hex } from './crypto.js';
import { client, ApiError } from './api.js';
import { pending } from './pending.js';

let token = '';
let current = null; // { id, abort: AbortController, paused }
const api = client(() => token);

self.onmessage = (e) => {
  const msg = e.data;
  if (msg.token) token = msg.token;
  if (msg.type === 'start' || msg.type === 'resume') {
    run(msg).catch((err) => post({ type: 'error', id: current?.id ?? msg.id, message: err.message ?? String(err) }));
  } else if (msg.type === 'pause' && current) {
    current.paused = true;
    current.abort.abort();
  }
};

const post = (m) => self.postMessage(m);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Retries `fn` on network loss and server errors with capped backoff (for ~10 minutes). */
async function retrying(what, fn) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (e?.name === 'AbortError' || !(e instanceof ApiError) || !e.retryable || attempt >= 60) throw e;
      post({ type: 'retrying', id: current.id, message: `${e.message} Retrying ${what}…` });
      await sleep(Math.min(10_000, 250 * 2 ** Math.min(attempt, 6)));
    }
  }
}

async function run(msg) {
  if (current) throw new Error('an upload is already running in this worker');
  await loadWasm();
  const mode = cryptoMode(msg.mode);
  const { file } = msg;
  let sealer, entry, startPart;
  current = { id: msg.id, abort: new AbortController(), paused: false };
  try {
    if (msg.type === 'start') {
      const created = await api.json('POST', '/v1/recordings', {
        title: msg.title, kind: msg.kind, content_type: file.type || 'application/octet-stream', plaintext_size: file.size,
      });
      const dataKey = unbase64(created.key.data_key);
      try {
        sealer = Sealer.create(dataKey, JSON.stringify(created.key.encryption_context),
          JSON.stringify(created.key.encrypted_data_keys), created.upload.frame_length, crypto.getRandomValues(new Uint8Array(32)));
      } finally {
        dataKey.fill(0);
      }
      current.id = created.recording.id;
      entry = {
        id: current.id, owner: msg.owner, title: msg.title, kind: msg.kind, name: file.name, size: file.size, lastModified: file.lastModified,
        header: hex(sealer.header), part_frames: created.upload.part_frames, frame_length: created.upload.frame_length,
        inflight: null, created_at: Date.now(),
      };
      await pending.put(entry);
      startPart = 1;
      post({ type: 'created', id: current.id, recording: created.recording });
    } else {
      entry = await pending.get(msg.id);
      if (!entry) throw new Error('This upload is not known on this device any more.');
      if (file.name !== entry.name || file.size !== entry.size || file.lastModified !== entry.lastModified) {
        throw new Error(`Choose the same file to resume: "${entry.name}", ${entry.size} bytes.`);
      }
      const status = await retrying('the upload status', () => api.get(`/v1/recordings/${entry.id}/upload`));
      if (status.header && status.header !== entry.header) throw new Error('The stored upload does not match this device’s record.');
      const release = await retrying('the key', () => api.json('POST', `/v1/recordings/${entry.id}/key`, {}));
      const dataKey = unbase64(release.data_key);
      startPart = status.next_part;
      try {
        sealer = Sealer.resume(unhex(entry.header), dataKey, (startPart - 1) * entry.part_frames + 1);
      } finally {
        dataKey.fill(0);
      }
      if (status.ready) startPart = Infinity; // every part is stored; only the commit is missing
    }
    await upload(sealer, mode, file, entry, startPart);
    await retrying('the commit', async () => {
      try {
        await api.request('POST', `/v1/recordings/${entry.id}/complete`, { json: {} });
      } catch (e) {
        // A commit that landed before the connection dropped shows as committed.
        const r = await api.get(`/v1/recordings/${entry.id}`).catch(() => null);
        if (r?.status !== 'committed') throw e;
      }
    });
    await pending.remove(entry.id);
    post({ type: 'done', id: entry.id });
  } catch (e) {
    if (e?.name === 'AbortError' && current.paused) {
      post({ type: 'paused', id: current.id });
      return;
    }
    throw e;
  } finally {
    sealer?.free(); // wipes the frame key from WASM memory
    current = null;
  }
}

async function upload(sealer, mode, file, entry, startPart) {
  const key = await frameKeyFor(sealer, mode);
  const partPlain = entry.part_frames * entry.frame_length;
  // Part n holds plaintext [(n-1)·P, n·P); the last part is the first that is not full
  // (empty when the size is a multiple of P: then it holds only the final frame).
  const lastPart = Math.floor(file.size / partPlain) + 1;
  const total = file.size;
  let encrypted = Math.min(total, (startPart - 1) * partPlain), uploaded = encrypted;
  const progress = () => post({ type: 'progress', id: entry.id, encrypted, uploaded, total, mode });
  progress();

  const encrypt = async (n) => {
    const from = (n - 1) * partPlain, to = Math.min(total, n * partPlain);
    const plain = new Uint8Array(await file.slice(from, to).arrayBuffer());
    const plainSha = await sha256hex(plain);
    if (entry.inflight?.part === n && entry.inflight.sha256 !== plainSha) {
      throw new Error('The file changed since the upload started; start a new upload instead.');
    }
    let body = await sealFrames(sealer, key, plain, n === lastPart);
    plain.fill(0);
    if (n === 1) {
      const withHeader = new Uint8Array(sealer.header.length + body.length);
      withHeader.set(sealer.header);
      withHeader.set(body, sealer.header.length);
      body = withHeader;
    }
    encrypted = to;
    progress();
    return { n, body, plainSha, plainLen: to - from };
  };

  let next = startPart <= lastPart ? encrypt(startPart) : null;
  try {
    while (next) {
      const part = await next;
      // Recorded before the first byte of this part leaves: see pending.js.
      entry.inflight = { part: part.n, sha256: part.plainSha };
      await pending.put(entry);
      next = part.n < lastPart ? encrypt(part.n + 1) : null;
      const sha = await sha256hex(part.body);
      await retrying(`part ${part.n}`, async () => {
        try {
          await api.request('PUT', `/v1/recordings/${entry.id}/parts/${part.n}`, {
            body: part.body, headers: { 'x-vault-sha256': sha }, signal: current.abort.signal,
          });
        } catch (e) {
          // A part that arrived before the connection broke is recognised by its number.
          if (e instanceof ApiError && e.retryable) {
            const status = await api.get(`/v1/recordings/${entry.id}/upload`).catch(() => null);
            if (status && status.next_part > part.n) return;
          }
          throw e;
        }
      });
      uploaded += part.plainLen;
      progress();
    }
  } finally {
    // A pause or failure mid-part leaves the next part's encryption running: settle it quietly.
    next?.catch(() => {});
  }
}
