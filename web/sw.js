// @ts-check
// Service worker: answers the page's requests for /media/<recording id> with
// decrypted bytes, so <audio>/<video> play and seek by ordinary HTTP range requests
// while only ciphertext ranges travel. For each request it fetches exactly the frames
// holding the asked range, authenticates and decrypts them (WebCrypto, format from
// vault-wasm) and streams the plaintext; nothing is cached, nothing is written.
//
// Registered as a module service worker (app.js). Messages: messages.js
// (`ToServiceWorker` in, `FromServiceWorker` out).
import { loadWasm, cryptoMode, engineOf, frameKeyFor, openSpan, asTampered, Opener, unbase64, TamperedError } from './crypto.js';
import { client, ApiError } from './api.js';
import { ToServiceWorker, FromServiceWorker, PLAYBACK_ERROR_HEADER, ENGINE_HEADER } from './messages.js';
import { makeZip } from './vendor/client-zip/index.js';

/**
 * @typedef {import('./messages.js').ToServiceWorkerMessage} ToServiceWorkerMessage
 * @typedef {import('./messages.js').FromServiceWorkerMessage} FromServiceWorkerMessage
 * @typedef {import('./messages.js').SessionReply} SessionReply
 * @typedef {import('./messages.js').PlaybackErrorCode} PlaybackErrorCode
 * @typedef {import('./messages.js').ArchiveEntry} ArchiveEntry
 * @typedef {import('./crypto.js').Engine} Engine
 * @typedef {import('./api.js').KeyRelease} KeyRelease
 * @typedef {{ token: string, family: string, mode: Engine }} Auth
 * @typedef {import('./messages.js').LinkEntry} LinkEntry
 * @typedef {(start: number, end: number, purpose: Purpose) => Promise<Uint8Array<ArrayBuffer>>} CipherReader
 * @typedef {{ opener: Opener, key: CryptoKey | null, type: string, length: number, read: CipherReader }} Session
 */

const sw = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));

const CHUNK = 1 << 20; // plaintext bytes decrypted per step of a response stream
// Types a media element may receive inline. Everything else, and every navigation,
// is answered as a download in a sandbox: a "recording" whose bytes are HTML, SVG or
// script must never run on Vault's origin (the stored type is the uploader's word).
const INLINE_TYPE = /^(audio|video)\/[a-z0-9.+-]+$|^image\/(jpeg|png|gif|webp|avif|heic|heif|bmp|tiff)$/;
const INLINE_DESTINATIONS = new Set(['audio', 'video', 'track', 'image']);
const OPAQUE = 'application/octet-stream';
// A navigation (or a frame) to /media/ is answered only with a one-time nonce the page
// registered just before: another site cannot make this browser release a key and
// save a recording by linking or framing it.
const FRAME_DESTINATIONS = new Set(['document', 'iframe', 'frame', 'embed', 'object']);
const NAVIGATION_NONCE_MS = 60_000;
/** @type {Map<string, number>} nonce → expiry (Unix ms) */
const allowedNavigations = new Map();
const SANDBOX = "default-src 'none'; sandbox; frame-ancestors 'none'";
const SESSION_TTL_MS = 5 * 60_000;
/** @type {Map<string, ArchiveEntry[]>} nonce → the recordings its navigation saves as one ZIP */
const archives = new Map();
/** @type {Auth | null} */
let auth = null;
/** @type {Map<string, Promise<Session>>} recording id (or link/<recording id>) → its session */
const opened = new Map();
/** @type {Map<string, { link: string, view: string, entry: LinkEntry }>} recording id → how its share link reads it */
const linked = new Map();
const api = client(() => auth?.token ?? null);
/** Share links' reads carry a view token, no sign-in. */
const anonymous = client(() => null);

sw.addEventListener('install', () => { sw.skipWaiting(); });
sw.addEventListener('activate', (e) => e.waitUntil(sw.clients.claim()));

sw.addEventListener('message', (e) => {
  /** @type {ToServiceWorkerMessage} */
  const msg = e.data;
  if (msg?.type === ToServiceWorker.session) {
    const mode = cryptoMode(msg.mode);
    if (auth && (auth.family !== msg.family || auth.mode !== mode)) forgetAll();
    auth = { token: msg.token, family: msg.family, mode };
  } else if (msg?.type === ToServiceWorker.signOut) {
    auth = null;
    forgetAll();
  } else if (msg?.type === ToServiceWorker.allowNavigation && typeof msg.nonce === 'string') {
    const now = Date.now();
    for (const [n, until] of allowedNavigations) if (until < now) allowedNavigations.delete(n);
    allowedNavigations.set(msg.nonce, now + NAVIGATION_NONCE_MS);
  } else if (msg?.type === ToServiceWorker.archive && typeof msg.nonce === 'string' && Array.isArray(msg.entries)) {
    const entries = msg.entries.filter((x) => /^[A-Za-z0-9_-]{1,64}$/.test(x?.id) && typeof x.name === 'string'
      && x.name.length > 0 && x.name.length <= 255 && Number.isFinite(x.lastModified));
    archives.clear(); // one archive at a time; an older one not yet opened is dropped
    archives.set(msg.nonce, entries);
    allowedNavigations.set(msg.nonce, Date.now() + NAVIGATION_NONCE_MS);
  } else if (msg?.type === ToServiceWorker.link) {
    takeLink(msg);
  }
  e.ports?.[0]?.postMessage('ok');
});

sw.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (url.origin === sw.location.origin && url.pathname.startsWith('/media/')) {
    e.respondWith(serve(e, url).catch((err) => failure(err, url)));
  }
});

/**
 * Keeps an opened link's entries. A new opening (a reload of the viewer) reads with its
 * own view: the sessions of the old one go (not when a restarted worker recovers them:
 * the session asking is being made).
 * @param {import('./messages.js').LinkMessage} msg
 * @param {boolean} [recovered]
 */
function takeLink(msg, recovered = false) {
  if (typeof msg.link !== 'string' || typeof msg.view !== 'string' || !Array.isArray(msg.entries)) return;
  for (const entry of msg.entries) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(entry?.id)) continue;
    linked.set(entry.id, { link: msg.link, view: msg.view, entry });
    if (recovered) continue;
    const stale = opened.get(`link/${entry.id}`);
    opened.delete(`link/${entry.id}`);
    stale?.then((x) => x.opener.free(), () => {});
  }
}

/**
 * After a restart the worker has lost the links' keys: ask the viewer pages (each keeps
 * what it sent) rather than have the viewer open the link again (another view).
 * @param {string} id
 */
async function recoverLink(id) {
  for (const c of await sw.clients.matchAll({ type: 'window' })) {
    /** @type {import('./messages.js').LinkMessage | null} */
    const answer = await ask(c, { type: FromServiceWorker.needLink, id });
    if (answer?.type === ToServiceWorker.link) takeLink(answer, true);
    if (linked.has(id)) return;
  }
}

/**
 * Asks one window and waits for its answer on a port of its own (null after 2 s: a
 * page that does not answer, or has nothing to give).
 * @param {Client} c
 * @param {FromServiceWorkerMessage} message
 * @returns {Promise<any>}
 */
function ask(c, message) {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = (m) => resolve(m.data);
    post(c, message, [ch.port2]);
    setTimeout(() => resolve(null), 2000);
  });
}

function forgetAll() {
  for (const s of opened.values()) s.then((x) => x.opener.free(), () => {});
  opened.clear();
  // Share links' keys too: an open viewer page hands them back when asked (`recoverLink`).
  linked.clear();
}

/**
 * After a restart the worker has no token: ask the page (every page holds one).
 * @returns {Promise<Auth>}
 */
async function ensureAuth() {
  if (auth) return auth;
  for (const c of await sw.clients.matchAll({ type: 'window' })) {
    /** @type {SessionReply | null} */
    const answer = await ask(c, { type: FromServiceWorker.needSession });
    if (answer?.token) {
      auth = { token: answer.token, family: answer.family, mode: cryptoMode(answer.mode) };
      return auth;
    }
  }
  throw new ApiError(401, 'Your session has expired. Please sign in again.', 'unauthenticated');
}

/** What playback says for the server's refusals (by code). @type {Partial<Record<PlaybackErrorCode, string>>} */
const REFUSALS = {
  unauthenticated: 'Your session has expired. Please sign in again.',
  'not-found': 'This recording does not exist or is not in your family.',
  forbidden: 'You are not allowed to play this recording.',
};

/**
 * A request of the API with the session's token; refusals in playback's words.
 * @param {string} method
 * @param {string} path
 * @param {import('./api.js').RequestOptions} [options]
 */
async function request(method, path, options) {
  await ensureAuth();
  try {
    return await api.request(method, path, options);
  } catch (e) {
    const better = e instanceof ApiError ? REFUSALS[e.code] : undefined;
    throw e instanceof ApiError && better ? new ApiError(e.status, better, e.code) : e;
  }
}

/** What a read of a recording is for, as the family's audit log tells it. @typedef {'play' | 'download'} Purpose */

/**
 * Ciphertext bytes `start .. end` of a family's recording: exactly those, or a `TamperedError`.
 * @param {string} id
 * @param {number} start
 * @param {number} end
 * @param {Purpose} purpose
 */
async function fetchCipher(id, start, end, purpose) {
  // The purpose only labels the family's audit log: "Grandma played", not "downloaded".
  const res = await request('GET', `/v1/recordings/${id}/content`, { headers: { range: `bytes=${start}-${end - 1}`, 'x-vault-purpose': purpose } });
  return exactly(await res.arrayBuffer(), end - start);
}

/**
 * @param {ArrayBuffer} body
 * @param {number} length what was asked for
 */
function exactly(body, length) {
  const bytes = new Uint8Array(body);
  if (bytes.length !== length) throw new TamperedError('length', 'the store returned the wrong number of bytes');
  return bytes;
}

/** What a share link's viewer reads for the server's refusals (by code). @type {Partial<Record<PlaybackErrorCode, string>>} */
const LINK_REFUSALS = {
  forbidden: 'This viewing has ended: open the link again.',
  'not-found': 'This recording is not part of the link.',
};

/**
 * Ciphertext bytes of a recording a share link shows, read with the view's token.
 * @param {string} link
 * @param {string} view
 * @param {string} id
 * @returns {CipherReader}
 */
function linkReader(link, view, id) {
  return async (start, end) => {
    try {
      const res = await anonymous.request('GET', `/v1/links/${link}/recordings/${id}/content`,
        { headers: { range: `bytes=${start}-${end - 1}`, 'x-vault-view': view } });
      return exactly(await res.arrayBuffer(), end - start);
    } catch (e) {
      const better = e instanceof ApiError ? LINK_REFUSALS[e.code] : undefined;
      throw e instanceof ApiError && better ? new ApiError(e.status, better, e.code) : e;
    }
  };
}

/**
 * Key release, header check (commitment, tag, this family and this recording), frame key.
 * @param {string} id
 * @param {Purpose} purpose what the read that opens it is for
 * @returns {Promise<Session>}
 */
function session(id, purpose) {
  return remembered(id, async () => {
    const { family, mode } = await ensureAuth();
    await loadWasm();
    /** @type {KeyRelease} */
    const release = await (await request('POST', `/v1/recordings/${id}/key`, { json: {} })).json();
    if (release.header_len === null || release.ciphertext_size === null) {
      throw new ApiError(409, 'This recording is not stored yet.', 'conflict');
    }
    /** @type {CipherReader} */
    const read = (start, end, p) => fetchCipher(id, start, end, p);
    return opening(id, family, unbase64(release.data_key), release.header_len, release.ciphertext_size,
      release.content_type, mode, read, purpose);
  });
}

/**
 * The session of a recording a share link shows (its key came with the link).
 * @param {string} id
 * @returns {Promise<Session>}
 */
function linkSession(id) {
  return remembered(`link/${id}`, async () => {
    if (!linked.has(id)) await recoverLink(id);
    const shared = linked.get(id);
    if (!shared) throw new ApiError(404, 'Open the link again to watch this recording.', 'not-found');
    await loadWasm();
    const { entry } = shared;
    return opening(id, entry.family, unbase64(entry.dataKey), entry.headerLength, entry.ciphertextSize, entry.contentType,
      cryptoMode(null), linkReader(shared.link, shared.view, id), 'play');
  });
}

/**
 * One session per key while it is in use; dropped after `SESSION_TTL_MS`, or at once if it fails.
 * @param {string} key
 * @param {() => Promise<Session>} make
 * @returns {Promise<Session>}
 */
function remembered(key, make) {
  let s = opened.get(key);
  if (!s) {
    const started = make();
    opened.set(key, started);
    started.then((x) => setTimeout(() => { if (opened.get(key) === started) { opened.delete(key); x.opener.free(); } }, SESSION_TTL_MS),
      () => opened.delete(key));
    s = started;
  }
  return s;
}

/**
 * Reads and checks a recording's header with its data key (wiped after), and imports the frame key.
 * @param {string} id
 * @param {string} family
 * @param {Uint8Array} dataKey
 * @param {number} headerLength
 * @param {number} ciphertextSize
 * @param {string} type
 * @param {Engine} mode
 * @param {CipherReader} read
 * @param {Purpose} purpose
 * @returns {Promise<Session>}
 */
async function opening(id, family, dataKey, headerLength, ciphertextSize, type, mode, read, purpose) {
  let opener;
  try {
    const header = await read(0, headerLength, purpose);
    try {
      opener = Opener.open(header, dataKey, ciphertextSize, family, id);
    } catch (e) {
      throw asTampered(e);
    }
  } finally {
    dataKey.fill(0);
  }
  const key = await frameKeyFor(opener, mode);
  return { opener, key, type, length: opener.plaintextLength, read };
}

/**
 * @param {Session} s
 * @param {number} start
 * @param {number} end
 * @param {Purpose} purpose
 */
async function decryptRange(s, start, end, purpose) {
  const span = s.opener.locate(start, end);
  try {
    const cipher = await s.read(span.cipherStart, span.cipherEnd, purpose);
    return await openSpan(s.opener, s.key, span, cipher);
  } finally {
    span.free();
  }
}

/**
 * @param {string | null} header a Range header
 * @param {number} length the plaintext's
 * @returns {[number, number] | 'unsatisfiable' | null}
 */
function parseRange(header, length) {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header ?? '');
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') return [Math.max(0, length - Number(m[2])), length]; // suffix range
  const start = Number(m[1]);
  const end = m[2] === '' ? length : Math.min(length, Number(m[2]) + 1);
  return start < end ? [start, end] : 'unsatisfiable';
}

/**
 * Whether this navigation was started by the page (and uses up its nonce).
 * @param {Request} request
 * @param {URL} url
 */
function startedByPage(request, url) {
  if (request.mode !== 'navigate' && !FRAME_DESTINATIONS.has(request.destination)) return true;
  const nonce = url.searchParams.get('nonce');
  if (!nonce) return false;
  const until = allowedNavigations.get(nonce);
  allowedNavigations.delete(nonce);
  return until !== undefined && until >= Date.now();
}

/**
 * @param {FetchEvent} e
 * @param {URL} url
 * @returns {Promise<Response>}
 */
async function serve(e, url) {
  if (!startedByPage(e.request, url)) {
    return new Response('Open your recordings from your Vault page.', {
      status: 403, headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', 'content-security-policy': SANDBOX },
    });
  }
  const path = url.pathname.slice('/media/'.length);
  if (path === 'archive') return serveArchive(url.searchParams.get('nonce') ?? '');
  const shared = path.startsWith('link/');
  const id = shared ? path.slice('link/'.length) : path;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new ApiError(404, 'No such recording.', 'not-found');
  // Saving a decrypted copy (a download link, a navigation) or playing and reading here.
  /** @type {Purpose} */
  const purpose = url.searchParams.has('download') || e.request.mode === 'navigate' ? 'download' : 'play';
  if (shared && purpose === 'download' && !linked.get(id)?.entry.allowDownload) {
    // The sharer did not let the viewer save copies (advisory: a viewer can still record what plays).
    throw new ApiError(403, 'Whoever shared this recording did not let it be saved.', 'forbidden');
  }
  const s = shared ? await linkSession(id) : await session(id, purpose);
  const range = parseRange(e.request.headers.get('range'), s.length);
  if (range === 'unsatisfiable') {
    return new Response(null, { status: 416, headers: { 'content-range': `bytes */${s.length}`, 'x-content-type-options': 'nosniff' } });
  }
  const [start, end] = range ?? [0, s.length];
  const inline = INLINE_TYPE.test(s.type) && e.request.mode !== 'navigate'
    && INLINE_DESTINATIONS.has(e.request.destination) && !url.searchParams.has('download');
  /** @type {Record<string, string>} */
  const headers = {
    'content-type': INLINE_TYPE.test(s.type) || s.type === 'text/plain' ? s.type : OPAQUE,
    'accept-ranges': 'bytes', 'cache-control': 'no-store',
    'content-length': String(end - start), 'x-content-type-options': 'nosniff',
    'content-security-policy': SANDBOX,
    // Which engine decrypts this answer's frames (the e2e tests check the fallback's).
    [ENGINE_HEADER]: engineOf(s.key),
  };
  if (range) headers['content-range'] = `bytes ${start}-${end - 1}/${s.length}`;
  if (!inline) {
    const name = (url.searchParams.get('name') || 'recording').replace(/[^\w. -]/g, '_');
    headers['content-disposition'] = `attachment; filename="${name}"`;
  }
  const body = await decryptedBody(s, start, end, purpose, (err) => notify(id, err));
  return new Response(body, { status: range ? 206 : 200, headers });
}

/**
 * The plaintext of bytes [start, end) of a recording, as a stream. The first step is
 * decrypted before returning, so a damaged object fails with a clear error instead of
 * a cut stream; later steps are decrypted as the reader reads.
 * @param {Session} s
 * @param {number} start
 * @param {number} end
 * @param {Purpose} purpose
 * @param {(err: unknown) => void} onError a later step failed (the stream errors too)
 * @returns {Promise<ReadableStream<Uint8Array>>}
 */
async function decryptedBody(s, start, end, purpose, onError) {
  let pos = start;
  const first = end > start ? await decryptRange(s, pos, Math.min(end, pos + CHUNK), purpose) : new Uint8Array(0);
  pos += first.length;
  let cancelled = false; // the element stops reading a stream when it seeks elsewhere
  return new ReadableStream({
    start(controller) {
      if (first.length) controller.enqueue(first);
      if (pos >= end) controller.close();
    },
    async pull(controller) {
      try {
        const bytes = await decryptRange(s, pos, Math.min(end, pos + CHUNK), purpose);
        if (cancelled) return;
        pos += bytes.length;
        controller.enqueue(bytes);
        if (pos >= end) controller.close();
      } catch (err) {
        if (cancelled) return;
        onError(err);
        controller.error(err);
      }
    },
    cancel() {
      cancelled = true;
    },
  }, { highWaterMark: 1 });
}

/**
 * "Download everything" where the browser cannot save into a folder: one ZIP file
 * (stored, Zip64: media does not compress) streamed from the recordings decrypted one
 * after the other, so memory stays flat. A recording whose key is refused or whose
 * header does not verify is left out and named in "Not included.txt"; one that fails
 * in the middle stops the download (the browser shows it as failed).
 * @param {string} nonce
 * @returns {Response}
 */
function serveArchive(nonce) {
  const listed = archives.get(nonce);
  archives.delete(nonce);
  if (!listed) throw new ApiError(404, 'This download has expired: press “Download everything” again.', 'not-found');
  const entries = listed;
  /** @type {string[]} */
  const missing = [];
  /** @param {number} saved @param {boolean} done @param {string} [failed] */
  const report = (saved, done, failed) => sw.clients.matchAll({ type: 'window' }).then((cs) => cs.forEach((c) =>
    post(c, { type: FromServiceWorker.archiveProgress, nonce, saved, total: entries.length, missing, done, failed })));
  let saved = 0;
  async function* files() {
    for (const entry of entries) {
      report(saved, false);
      try {
        const s = await session(entry.id, 'download');
        const input = await decryptedBody(s, 0, s.length, 'download', (err) =>
          report(saved, true, `${entry.name}: ${err instanceof Error ? err.message : String(err)}`));
        yield { name: entry.name, lastModified: new Date(entry.lastModified), size: s.length, input };
        // The archive asks for the next file only once this one is written.
        saved += 1;
      } catch (err) {
        missing.push(entry.name);
        console.warn(`archive: ${entry.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (missing.length) {
      yield { name: 'Not included.txt', lastModified: new Date(),
        input: `These recordings could not be decrypted and are not in this archive:\r\n${missing.join('\r\n')}\r\n` };
    }
  }
  const zip = makeZip(files());
  const done = new TransformStream({ flush() { report(saved, true); } });
  return new Response(zip.pipeThrough(done), {
    headers: {
      'content-type': 'application/zip', 'content-disposition': 'attachment; filename="Vault recordings.zip"',
      'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'content-security-policy': SANDBOX,
    },
  });
}

/**
 * @param {Client} c
 * @param {FromServiceWorkerMessage} message
 * @param {Transferable[]} [transfer]
 */
function post(c, message, transfer = []) {
  c.postMessage(message, transfer);
}

/**
 * Why playback failed, as the page decides on it.
 * @param {unknown} err
 * @returns {PlaybackErrorCode}
 */
function codeOf(err) {
  if (err instanceof TamperedError) return 'tampered';
  if (err instanceof ApiError) return err.code;
  return 'failed';
}

/**
 * Tells every window of the failure (a media element shows only that it failed).
 * @param {string} id
 * @param {unknown} err
 */
function notify(id, err) {
  const message = err instanceof Error ? err.message : 'Playback failed.';
  sw.clients.matchAll({ type: 'window' }).then((cs) => cs.forEach((c) =>
    post(c, { type: FromServiceWorker.mediaError, id, message, code: codeOf(err) })));
}

/**
 * The answer to a /media/ request that failed: its status and `PlaybackErrorCode`.
 * @param {unknown} err
 * @param {URL} url
 */
function failure(err, url) {
  const id = url.pathname.slice('/media/'.length);
  notify(id, err);
  const code = codeOf(err);
  // The server's status where it refused; 502 when what it returned does not verify or
  // it could not be reached; 500 for the rest.
  const status = code === 'tampered' || code === 'network' ? 502
    : err instanceof ApiError && err.status >= 400 && err.status <= 599 ? err.status : 500;
  return new Response(err instanceof Error ? err.message : 'Playback failed.', {
    status, headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff',
      'content-security-policy': SANDBOX, [PLAYBACK_ERROR_HEADER]: code },
  });
}
