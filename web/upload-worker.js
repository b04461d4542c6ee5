// @ts-check
// Encrypts and uploads recordings off the main thread. One upload at a time per
// worker (the page queues), and one tab at a time per upload (a Web Lock). Memory is a
// few parts whatever the file's size: the plaintext of the part being sealed and of the
// next (read ahead), and PARTS_IN_FLIGHT sealed parts on the wire, sent by the part
// senders (part-senders.js), which keep PARTS_PER_SENDER of Chromium's copies of their
// bodies at most. The parts are vault-core's
// (`PartPlan`, from the numbers the server announced), so each is the one the server
// checks. Messages: messages.js (`ToUploader` in, `FromUploader` out).
import { loadWasm, cryptoMode, frameKeyFor, sealFrames, framesBy, isFormatError, Sealer, PartPlan, hex, unhex, unbase64, sha256hex } from './crypto.js';
import { client, ApiError } from './api.js';
import { pending } from './pending.js';
import { ToUploader, FromUploader } from './messages.js';
import { PartSenders } from './part-senders.js';

/**
 * @typedef {import('./messages.js').ToUploaderMessage} ToUploaderMessage
 * @typedef {import('./messages.js').FromUploaderMessage} FromUploaderMessage
 * @typedef {import('./messages.js').StartUpload} StartUpload
 * @typedef {import('./messages.js').ResumeUpload} ResumeUpload
 * @typedef {import('./messages.js').UploadErrorCode} UploadErrorCode
 * @typedef {import('./messages.js').ReplacedBecause} ReplacedBecause
 * @typedef {import('./crypto.js').Engine} Engine
 * @typedef {import('./pending.js').PendingUpload} PendingUpload
 * @typedef {import('./api.js').Created} Created
 * @typedef {import('./api.js').UploadStatus} UploadStatus
 * @typedef {import('./api.js').KeyRelease} KeyRelease
 * @typedef {import('./api.js').RecordingView} RecordingView
 */

/** An upload refused for a reason of the worker's own. */
class UploadError extends Error {
  /** @param {UploadErrorCode} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = 'UploadError';
    this.code = code;
  }
}

/**
 * The code the page decides on, whoever threw.
 * @param {unknown} e
 * @returns {UploadErrorCode}
 */
function codeOf(e) {
  if (e instanceof ApiError || e instanceof UploadError || isFormatError(e)) return e.code;
  return 'failed';
}

let token = '';
/** The studio delivery the running upload goes into, if any. */
let delivery = '';
/** @type {{ id: string | undefined, abort: AbortController, paused: boolean, locks: Array<() => void> } | null} */
let current = null;
/** @returns {Record<string, string>} */
const scope = () => (delivery ? { 'x-vault-delivery': delivery } : {});
const api = client(() => token, scope);

/** @param {FromUploaderMessage} m */
const post = (m) => self.postMessage(m);
/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Parts sent at once after part 1 (each a part's size in memory). */
const PARTS_IN_FLIGHT = 3;
/** Parts one part sender sends before it is replaced (part-senders.js): ~128 MiB. */
const PARTS_PER_SENDER = 16;

/** Who waits for the page's answer to a `NeedToken`. @type {((token: string | null) => void) | null} */
let tokenWaiter = null;

/** A renewed token from the page, or null if it could not renew one (30 s at most).
 * @returns {Promise<string | null>} */
function freshToken() {
  return new Promise((resolve) => {
    tokenWaiter = resolve;
    post({ type: FromUploader.needToken, id: current?.id ?? '' });
    setTimeout(() => {
      if (tokenWaiter === resolve) { tokenWaiter = null; resolve(null); }
    }, 30_000);
  });
}

self.onmessage = (/** @type {MessageEvent<ToUploaderMessage>} */ e) => {
  const msg = e.data;
  if (msg.type === ToUploader.token) {
    if (msg.token) token = msg.token;
    tokenWaiter?.(msg.token);
    tokenWaiter = null;
  } else if (msg.type === ToUploader.start || msg.type === ToUploader.resume) {
    token = msg.token;
    delivery = msg.type === ToUploader.start ? msg.delivery ?? '' : '';
    run(msg).catch((err) => post({
      type: FromUploader.error, id: current?.id ?? (msg.type === ToUploader.resume ? msg.id : undefined),
      message: err instanceof Error ? err.message : String(err), code: codeOf(err),
    }));
  } else if (msg.type === ToUploader.pause && current) {
    current.paused = true;
    current.abort.abort();
  }
};

/**
 * Runs `fn`; if the server found the token expired, once more with one the page renewed
 * (a renewed token refused again is a real refusal). A long upload outlives many tokens.
 * @template T
 * @param {() => Promise<T>} fn
 * @returns {Promise<T>}
 */
async function withToken(fn) {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof ApiError && e.code === 'unauthenticated')) throw e;
    const before = token;
    const fresh = await freshToken();
    if (!fresh || fresh === before) throw e;
    return fn();
  }
}

/**
 * Retries `fn` on network loss and server errors with capped backoff (for ~10 minutes).
 * @template T
 * @param {string} what
 * @param {() => Promise<T>} fn
 * @returns {Promise<T>}
 */
async function retrying(what, fn) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await withToken(fn);
    } catch (e) {
      if (!(e instanceof ApiError) || !e.retryable || attempt >= 60) throw e;
      post({ type: FromUploader.retrying, id: current?.id ?? '', message: `${e.message} Retrying ${what}…`, code: e.code });
      await sleep(Math.min(10_000, 250 * 2 ** Math.min(attempt, 6)));
    }
  }
}

/**
 * What an upload needs, with the WASM objects it owns (freed when it ends).
 * @typedef {object} Job
 * @property {PendingUpload} entry this device's record of it
 * @property {PartPlan} plan
 * @property {Sealer | null} sealer null when every part is stored already
 * @property {number} startPart the first part to send
 */

/** @param {StartUpload | ResumeUpload} msg */
async function run(msg) {
  if (current) throw new UploadError('busy', 'An upload is already running in this worker.');
  const me = current = { id: msg.type === ToUploader.resume ? msg.id : undefined, abort: new AbortController(), paused: false, locks: /** @type {Array<() => void>} */ ([]) };
  /** @type {Job | null} */
  let job = null;
  try {
    await loadWasm();
    const engine = cryptoMode(msg.mode);
    if (msg.type === ToUploader.resume) {
      if (!await holdUpload(msg.id)) throw new UploadError('busy', 'This upload is going on in another tab or window.');
      const entry = await pending.get(msg.id);
      if (!entry) throw new UploadError('unknown-upload', 'This upload is not known on this device any more.');
      const resumed = await resume(msg.file, entry, engine);
      // Not the file the upload started with (or no way to tell): a new recording, with
      // a new data key and message id. The interrupted one stays as it was (resumable
      // with its own file until it expires).
      if (resumed === 'unverifiable') {
        // No file can ever resume it from this record: not offered again (the page
        // deletes it from the server once the new recording is stored; if it never
        // is, the server lets the upload expire).
        await pending.remove(entry.id);
      }
      job = typeof resumed === 'string'
        ? await create(msg.file, entry.title, entry.kind, msg.owner, { id: entry.id, because: resumed })
        : resumed;
    } else {
      job = await create(msg.file, msg.title, msg.kind, msg.owner);
    }
    const { entry, plan, sealer, startPart } = job;
    if (sealer) await upload(sealer, plan, engine, msg.file, entry, startPart);
    await retrying('the commit', async () => {
      try {
        await api.request('POST', `/v1/recordings/${entry.id}/complete`, { json: {} });
      } catch (e) {
        // A commit that landed before the connection dropped shows as committed.
        /** @type {RecordingView | null} */
        const r = await api.get(`/v1/recordings/${entry.id}`).catch(() => null);
        if (r?.status !== 'committed') throw e;
      }
    });
    await pending.remove(entry.id);
    post({ type: FromUploader.done, id: entry.id });
  } catch (e) {
    if (e instanceof Error && e.name === 'AbortError' && me.paused) {
      post({ type: FromUploader.paused, id: me.id ?? '' });
      return;
    }
    throw e;
  } finally {
    job?.sealer?.free(); // wipes the frame key from WASM memory
    job?.plan.free();
    for (const release of me.locks) release();
    current = null;
  }
}

/**
 * Holds upload `id`'s lock, across this browser's tabs, until the running upload ends:
 * two tabs sending one upload's parts could seal different files' bytes under the same
 * IVs. False if another tab or window holds it. Without Web Locks (older browsers) an
 * upload runs unguarded.
 * @param {string} id
 * @returns {Promise<boolean>}
 */
function holdUpload(id) {
  const locks = /** @type {LockManager | undefined} */ (navigator.locks);
  const held = current?.locks;
  if (!locks || !held) return Promise.resolve(true);
  return new Promise((resolve, reject) => {
    locks.request(`vault-upload:${id}`, { ifAvailable: true }, (lock) => {
      if (!lock) return resolve(false);
      // The lock is held until this promise settles: when the upload ends.
      return new Promise((release) => {
        held.push(() => release(undefined));
        resolve(true);
      });
    }).catch(reject);
  });
}

/**
 * A new recording for `file`.
 * @param {File} file
 * @param {string} title
 * @param {import('./api.js').RecordingKind} kind
 * @param {string} owner
 * @param {{ id: string, because: ReplacedBecause }} [replaces] the interrupted upload the file was chosen to resume
 * @returns {Promise<Job>}
 */
async function create(file, title, kind, owner, replaces) {
  /** @type {Created} */
  const created = await withToken(() => api.json('POST', '/v1/recordings', {
    // The title travels sealed in the recording's details (library.js), never in the clear.
    title: '', kind, content_type: file.type || 'application/octet-stream', plaintext_size: file.size,
  }));
  if (!created.key) throw new UploadError('failed', 'The server did not hand out a key to encrypt with.');
  const plan = new PartPlan(created.upload.frame_length, created.upload.part_frames);
  const dataKey = unbase64(created.key.data_key);
  let sealer;
  try {
    sealer = Sealer.create(dataKey, JSON.stringify(created.key.encryption_context),
      JSON.stringify(created.key.encrypted_data_keys), plan, crypto.getRandomValues(new Uint8Array(32)));
  } catch (e) {
    plan.free();
    throw e;
  } finally {
    dataKey.fill(0);
  }
  try {
    const id = created.recording.id;
    if (current) current.id = id;
    await holdUpload(id); // a new id: nobody else has it yet
    /** @type {PendingUpload} */
    const entry = {
      id, owner, title, kind, name: file.name, size: file.size, lastModified: file.lastModified,
      header: hex(sealer.header), frame_length: plan.frameLength, part_frames: plan.partFrames,
      parts: plan.partCount(file.size), sealed: [], created_at: Date.now(),
    };
    await pending.put(entry);
    post({ type: FromUploader.created, id, recording: created.recording, replaces: replaces?.id, because: replaces?.because });
    return { entry, plan, sealer, startPart: 1 };
  } catch (e) {
    sealer.free();
    plan.free();
    throw e;
  }
}

/**
 * Continues `entry` with `file`; or says why it cannot: `file` is not the file the
 * upload started with (a part that may have been sent holds other bytes in it), or
 * the record cannot tell.
 * @param {File} file
 * @param {PendingUpload} entry
 * @param {Engine} engine
 * @returns {Promise<Job | ReplacedBecause>}
 */
async function resume(file, entry, engine) {
  if (file.name !== entry.name || file.size !== entry.size || file.lastModified !== entry.lastModified) {
    throw new UploadError('other-file', `Choose the same file to resume: "${entry.name}", ${entry.size} bytes.`);
  }
  /** @type {UploadStatus} */
  const status = await retrying('the upload status', () => api.get(`/v1/recordings/${entry.id}/upload`));
  if (status.header && status.header !== entry.header) {
    throw new UploadError('header-mismatch', 'The stored upload does not match this device’s record.');
  }
  const plan = new PartPlan(status.frame_length, status.part_frames);
  // Every part stored: only the commit is missing, which needs neither file nor key.
  if (status.ready) return { entry, plan, sealer: null, startPart: status.next_part };
  // A record that cannot tell (fewer digests than stored parts, or one from before
  // records held sealed parts' digests) is treated as another file.
  if (!Array.isArray(entry.sealed) || entry.sealed.length < status.next_part - 1) {
    plan.free();
    return 'unverifiable';
  }
  try {
    /** @type {KeyRelease} */
    const release = await retrying('the key', () => api.json('POST', `/v1/recordings/${entry.id}/key`, {}));
    const dataKey = unbase64(release.data_key);
    try {
      const header = unhex(entry.header);
      const checker = Sealer.resume(header, dataKey, plan, 1);
      let same;
      try {
        same = await unchanged(file, plan, checker, engine, entry.sealed);
      } finally {
        checker.free();
      }
      if (!same) {
        plan.free();
        return 'changed';
      }
      const sealer = Sealer.resume(header, dataKey, plan, status.next_part);
      return { entry, plan, sealer, startPart: status.next_part };
    } finally {
      dataKey.fill(0);
    }
  } catch (e) {
    plan.free();
    throw e;
  }
}

/**
 * Whether `file` holds, in every part that may have left this device, the plaintext
 * that part held then: sealed again with the same key and frame IVs, each must come
 * out as the bytes whose digest was recorded before they were first sent. A resumed
 * part is encrypted again under those IVs, so AES-GCM would otherwise see two
 * plaintexts under one IV; the bytes sealed for this check never leave the worker.
 * @param {File} file
 * @param {PartPlan} plan
 * @param {Sealer} checker positioned at part 1
 * @param {Engine} engine
 * @param {string[]} sealed the recorded digests, parts 1, 2, …
 */
async function unchanged(file, plan, checker, engine, sealed) {
  const key = await frameKeyFor(checker, engine);
  const lastPart = plan.partCount(file.size);
  for (let n = 1; n <= sealed.length; n++) {
    if (current?.abort.signal.aborted) throw new DOMException('Paused while checking the file.', 'AbortError');
    const plain = new Uint8Array(await file.slice(plan.plaintextStart(n, file.size), plan.plaintextEnd(n, file.size)).arrayBuffer());
    let sha;
    try {
      const part = await sealPart(checker, key, plain, n, lastPart);
      part.body.fill(0);
      sha = part.sha;
    } finally {
      plain.fill(0);
    }
    if (sha !== sealed[n - 1]) return false;
  }
  return true;
}

/**
 * Part `n` sealed as the server takes it (part 1 begins with the message header),
 * and its SHA-256, which the server checks and a resume compares (`unchanged`).
 * @param {Sealer} sealer positioned at part `n`
 * @param {CryptoKey | null} key from `frameKeyFor`
 * @param {Uint8Array<ArrayBuffer>} plain
 * @param {number} n
 * @param {number} lastPart
 * @param {(length: number) => Uint8Array<ArrayBuffer>} [alloc] where the sealed part goes
 */
async function sealPart(sealer, key, plain, n, lastPart, alloc = (length) => new Uint8Array(length)) {
  const prefix = n === 1 ? sealer.header : new Uint8Array(0);
  const body = await sealFrames(sealer, key, plain, n === lastPart, prefix, alloc);
  return { body, sha: await sha256hex(body) };
}

/**
 * Sealed parts' buffers, used again once a part's answer gives its body back: each
 * fresh 8 MiB buffer cost the kernel a page fault per 4 KiB it touched (the renderer's
 * kernel time fell from 2.1 to 1.5 s per GiB uploaded).
 */
class PartBuffers {
  /** @param {number} keep buffers kept for later parts */
  constructor(keep) {
    this.keep = keep;
    /** @type {ArrayBuffer[]} */
    this.free = [];
  }

  /** @param {number} length @returns {Uint8Array<ArrayBuffer>} */
  take(length) {
    const i = this.free.findIndex((b) => b.byteLength >= length);
    const buffer = i >= 0 ? this.free.splice(i, 1)[0] : new ArrayBuffer(length);
    return new Uint8Array(buffer, 0, length);
  }

  /** A part's body back (one lost with a sender is detached, and not kept). @param {Uint8Array<ArrayBuffer>} body */
  give(body) {
    if (body.buffer.byteLength > 0 && this.free.length < this.keep) this.free.push(body.buffer);
  }
}

/**
 * Encrypts and sends parts `startPart` … of `file`.
 * @param {Sealer} sealer positioned at `startPart`'s first frame
 * @param {PartPlan} plan
 * @param {Engine} engine
 * @param {File} file
 * @param {PendingUpload} entry
 * @param {number} startPart
 */
async function upload(sealer, plan, engine, file, entry, startPart) {
  const key = await frameKeyFor(sealer, engine);
  const buffers = new PartBuffers(PARTS_IN_FLIGHT + 1);
  const total = file.size;
  const lastPart = plan.partCount(total);
  let encrypted = plan.plaintextStart(startPart, total), uploaded = encrypted;
  const before = { ...framesBy };
  const progress = () => post({
    type: FromUploader.progress, id: entry.id, encrypted, uploaded, total, engine,
    frames: { webcrypto: framesBy.webcrypto - before.webcrypto, wasm: framesBy.wasm - before.wasm },
  });
  progress();

  /**
   * Part `n`'s plaintext, read from the file (the next part is read while this one is
   * sealed: the read waits on the browser process, the sealing on WebCrypto).
   * @param {number} n
   */
  const read = (n) => {
    const from = plan.plaintextStart(n, total), to = plan.plaintextEnd(n, total);
    const bytes = file.slice(from, to).arrayBuffer().then((b) => new Uint8Array(b));
    bytes.catch(() => {}); // awaited below, or dropped when the upload stops
    return { n, to, plainLen: to - from, bytes };
  };

  /**
   * Part `n` sealed, with its digest.
   * @param {ReturnType<typeof read>} reading
   */
  const encrypt = async ({ n, to, plainLen, bytes }) => {
    const plain = await bytes;
    let sealedPart;
    try {
      sealedPart = await sealPart(sealer, key, plain, n, lastPart, (length) => buffers.take(length));
    } finally {
      plain.fill(0);
    }
    const { body, sha } = sealedPart;
    // Checked at resume for the whole file; this catches a file that changes meanwhile
    // (the sealed bytes go no further: see `unchanged`).
    if (entry.sealed[n - 1] !== undefined && entry.sealed[n - 1] !== sha) {
      body.fill(0);
      throw new UploadError('file-changed', 'The file changed since the upload started; start a new upload instead.');
    }
    encrypted = to;
    progress();
    return { n, body, sha, plainLen };
  };

  let recorded = Promise.resolve();
  /**
   * Records that part `n` may leave this device (see pending.js). One write at a time,
   * in the order parts are sealed, so that no older copy of the record lands last.
   * @param {Awaited<ReturnType<typeof encrypt>>} part
   */
  const record = (part) => {
    if (entry.sealed[part.n - 1] === part.sha) return recorded;
    entry.sealed[part.n - 1] = part.sha;
    recorded = recorded.then(() => pending.put(entry));
    return recorded;
  };

  const senders = new PartSenders(PARTS_PER_SENDER);
  /** @param {Awaited<ReturnType<typeof encrypt>>} part */
  const send = async (part) => {
    try {
      await retrying(`part ${part.n}`, async () => {
        try {
          await api.request('PUT', `/v1/recordings/${entry.id}/parts/${part.n}`, {
            body: part.body, headers: { 'x-vault-sha256': part.sha }, signal: current?.abort.signal,
            fetcher: (url, init) => senders.put(url, init, (body) => { part.body = body; }),
          });
        } catch (e) {
          // A part that arrived before the connection broke is recognised by its number
          // and its digest (a refusal answered before the body was read looks the same).
          if (e instanceof ApiError && e.retryable) {
            /** @type {UploadStatus | null} */
            const status = await api.get(`/v1/recordings/${entry.id}/upload`).catch(() => null);
            if (status && status.parts.some((p) => p.part_number === part.n && p.sha256 === part.sha)) return;
          }
          throw e;
        }
      });
    } finally {
      buffers.give(part.body);
    }
    uploaded += part.plainLen;
    progress();
  };

  // Part 1 alone (the server checks the others against its header), then up to
  // PARTS_IN_FLIGHT at once while the next is read and sealed: the server verifies and
  // stores one part while the following ones travel, and this device's record of a
  // part is written while the next one is sealed.
  // Memory: that many sealed parts, and the plaintext of two.
  /** @type {Set<Promise<void>>} */
  const inFlight = new Set();
  /** @type {unknown} */
  let failed = null;
  let next = read(startPart);
  try {
    for (let n = startPart; n <= lastPart; n++) {
      const reading = next;
      await reading.bytes;
      if (n < lastPart) next = read(n + 1);
      const part = await encrypt(reading);
      if (failed) throw failed;
      // Recorded before the first byte of this part leaves.
      const written = record(part);
      if (part.n === 1) {
        await written;
        await send(part);
        continue;
      }
      /** @type {Promise<void>} */
      const sending = written.then(() => send(part))
        .catch((e) => {
          failed ??= e;
          current?.abort.abort(); // the other parts stop too: the upload has failed
        })
        .finally(() => inFlight.delete(sending));
      inFlight.add(sending);
      while (inFlight.size >= PARTS_IN_FLIGHT) await Promise.race(inFlight);
      if (failed) throw failed;
    }
    await Promise.all(inFlight);
    if (failed) throw failed;
  } finally {
    // A pause or failure stops the parts still on their way (their requests share the
    // abort signal); they settle quietly. A part read ahead is wiped when it arrives.
    await Promise.allSettled(inFlight);
    senders.close();
    next.bytes.then((b) => b.fill(0), () => {});
  }
}
