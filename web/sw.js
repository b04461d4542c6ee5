// Service worker: answers the page's requests for /media/<recording id> with
// decrypted bytes, so <audio>/<video> play and seek by ordinary HTTP range requests
// while only ciphertext ranges travel. For each request it fetches exactly the frames
// holding the asked range, authenticates and decrypts them (WebCrypto, format from
// vault-wasm) and streams the plaintext; nothing is cached, nothing is written.
//
// Page → SW: {type:'session', token, family, mode} on sign-in/refresh; {type:'sign-out'}.
import { loadWasm, cryptoMode, frameKeyFor, openSpan, Opener, unbase64, TamperedError } from './crypto.js';

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
const allowedNavigations = new Map(); // nonce → expiry
const SANDBOX = "default-src 'none'; sandbox; frame-ancestors 'none'";
const SESSION_TTL_MS = 5 * 60_000;
let auth = null; // { token, family, mode }
const opened = new Map(); // recording id → Promise<session>

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));

self.addEventListener('message', (e) => {
  const msg = e.data ?? {};
  if (msg.type === 'session') {
    if (auth && (auth.family !== msg.family || auth.mode !== msg.mode)) forgetAll();
    auth = { token: msg.token, family: msg.family, mode: cryptoMode(msg.mode) };
  } else if (msg.type === 'sign-out') {
    auth = null;
    forgetAll();
  } else if (msg.type === 'allow-navigation' && typeof msg.nonce === 'string') {
    const now = Date.now();
    for (const [n, until] of allowedNavigations) if (until < now) allowedNavigations.delete(n);
    allowedNavigations.set(msg.nonce, now + NAVIGATION_NONCE_MS);
  }
  e.ports?.[0]?.postMessage('ok');
});

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (url.origin === self.location.origin && url.pathname.startsWith('/media/')) {
    e.respondWith(serve(e, url).catch((err) => failure(err, url)));
  }
});

function forgetAll() {
  for (const s of opened.values()) s.then((x) => x.opener.free(), () => {});
  opened.clear();
}

/** After a restart the worker has no token: ask the page (every page holds one). */
async function ensureAuth() {
  if (auth) return auth;
  for (const c of await self.clients.matchAll({ type: 'window' })) {
    const answer = await new Promise((resolve) => {
      const ch = new MessageChannel();
      ch.port1.onmessage = (m) => resolve(m.data);
      c.postMessage({ type: 'need-session' }, [ch.port2]);
      setTimeout(() => resolve(null), 2000);
    });
    if (answer?.token) {
      auth = { token: answer.token, family: answer.family, mode: cryptoMode(answer.mode) };
      return auth;
    }
  }
  throw Object.assign(new Error('Your session has expired. Please sign in again.'), { status: 401 });
}

async function api(path, init = {}) {
  const { token } = await ensureAuth();
  const res = await fetch(path, { ...init, headers: { ...init.headers, authorization: `Bearer ${token}` } });
  if (!res.ok) {
    const detail = await res.json().then((p) => p.detail, () => '');
    const text = res.status === 401 ? 'Your session has expired. Please sign in again.'
      : res.status === 404 ? 'This recording does not exist or is not in your family.'
      : res.status === 403 ? 'You are not allowed to play this recording.'
      : `The server answered ${res.status}${detail ? `: ${detail}` : ''}.`;
    throw Object.assign(new Error(text), { status: res.status });
  }
  return res;
}

async function fetchCipher(id, start, end) {
  const res = await api(`/v1/recordings/${id}/content`, { headers: { range: `bytes=${start}-${end - 1}` } });
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.length !== end - start) throw new TamperedError('the store returned the wrong number of bytes');
  return bytes;
}

/** Key release, header check (commitment, tag, this family and this recording), frame key. */
function session(id) {
  let s = opened.get(id);
  if (!s) {
    s = (async () => {
      const { family, mode } = await ensureAuth();
      await loadWasm();
      const release = await (await api(`/v1/recordings/${id}/key`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json();
      const dataKey = unbase64(release.data_key);
      let opener;
      try {
        const header = await fetchCipher(id, 0, release.header_len);
        try {
          opener = Opener.open(header, dataKey, release.ciphertext_size, JSON.stringify({ 'vault:tenant': family, 'vault:object': id }));
        } catch (e) {
          throw new TamperedError(String(e.message ?? e));
        }
      } finally {
        dataKey.fill(0);
      }
      const key = await frameKeyFor(opener, mode);
      setTimeout(() => { if (opened.get(id) === s) { opened.delete(id); opener.free(); } }, SESSION_TTL_MS);
      return { opener, key, type: release.content_type, length: opener.plaintextLength };
    })();
    opened.set(id, s);
    s.catch(() => opened.delete(id));
  }
  return s;
}

async function decryptRange(id, s, start, end) {
  const span = s.opener.locate(start, end);
  try {
    const cipher = await fetchCipher(id, span.cipherStart, span.cipherEnd);
    return await openSpan(s.opener, s.key, span, cipher);
  } finally {
    span.free();
  }
}

function parseRange(header, length) {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header ?? '');
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') return [Math.max(0, length - Number(m[2])), length]; // suffix range
  const start = Number(m[1]);
  const end = m[2] === '' ? length : Math.min(length, Number(m[2]) + 1);
  return start < end ? [start, end] : 'unsatisfiable';
}

/** Whether this navigation was started by the page (and uses up its nonce). */
function startedByPage(request, url) {
  if (request.mode !== 'navigate' && !FRAME_DESTINATIONS.has(request.destination)) return true;
  const nonce = url.searchParams.get('nonce');
  const until = nonce ? allowedNavigations.get(nonce) : undefined;
  allowedNavigations.delete(nonce);
  return until !== undefined && until >= Date.now();
}

async function serve(e, url) {
  if (!startedByPage(e.request, url)) {
    return new Response('Open your recordings from your Vault page.', {
      status: 403, headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', 'content-security-policy': SANDBOX },
    });
  }
  const id = url.pathname.slice('/media/'.length);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw Object.assign(new Error('No such recording.'), { status: 404 });
  const s = await session(id);
  const range = parseRange(e.request.headers.get('range'), s.length);
  if (range === 'unsatisfiable') {
    return new Response(null, { status: 416, headers: { 'content-range': `bytes */${s.length}`, 'x-content-type-options': 'nosniff' } });
  }
  const [start, end] = range ?? [0, s.length];
  const inline = INLINE_TYPE.test(s.type) && e.request.mode !== 'navigate'
    && INLINE_DESTINATIONS.has(e.request.destination) && !url.searchParams.has('download');
  const headers = {
    'content-type': INLINE_TYPE.test(s.type) || s.type === 'text/plain' ? s.type : OPAQUE,
    'accept-ranges': 'bytes', 'cache-control': 'no-store',
    'content-length': String(end - start), 'x-content-type-options': 'nosniff',
    'content-security-policy': SANDBOX,
  };
  if (range) headers['content-range'] = `bytes ${start}-${end - 1}/${s.length}`;
  if (!inline) {
    const name = (url.searchParams.get('name') || 'recording').replace(/[^\w. -]/g, '_');
    headers['content-disposition'] = `attachment; filename="${name}"`;
  }
  // The first step is decrypted before answering, so a damaged object fails with a
  // clear status instead of a cut stream; later steps stream as the element reads.
  let pos = start;
  const first = end > start ? await decryptRange(id, s, pos, Math.min(end, pos + CHUNK)) : new Uint8Array(0);
  pos += first.length;
  let cancelled = false; // the element stops reading a stream when it seeks elsewhere
  const body = new ReadableStream({
    start(controller) {
      if (first.length) controller.enqueue(first);
      if (pos >= end) controller.close();
    },
    async pull(controller) {
      try {
        const bytes = await decryptRange(id, s, pos, Math.min(end, pos + CHUNK));
        if (cancelled) return;
        pos += bytes.length;
        controller.enqueue(bytes);
        if (pos >= end) controller.close();
      } catch (err) {
        if (cancelled) return;
        notify(id, err);
        controller.error(err);
      }
    },
    cancel() {
      cancelled = true;
    },
  }, { highWaterMark: 1 });
  return new Response(body, { status: range ? 206 : 200, headers });
}

function notify(id, err) {
  self.clients.matchAll({ type: 'window' }).then((cs) => cs.forEach((c) =>
    c.postMessage({ type: 'media-error', id, message: err.message, tampered: err instanceof TamperedError })));
}

function failure(err, url) {
  const id = url.pathname.slice('/media/'.length);
  notify(id, err);
  const status = err instanceof TamperedError ? 502 : err.status ?? 500;
  return new Response(err.message ?? 'Playback failed.', {
    status, headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff',
      'content-security-policy': SANDBOX, 'x-vault-error': err instanceof TamperedError ? 'tampered' : 'failed' },
  });
}
