// @ts-check
// The page's cryptography, shared by the upload worker and the service worker.
// vault-wasm (vault-core compiled to WebAssembly) computes the format: header, key
// derivation, commitment, every frame's IV and AAD, frame order, and how a message is
// cut into upload parts. The bulk AES-256-GCM of frame bodies runs on WebCrypto
// (hardware AES) when the browser has it, else in WASM ("wasm" engine: software AES,
// ~14x slower, the tested fallback).
//
// vault-wasm throws `Error`s named "VaultError" with a stable `code` (its
// `ErrorCode`, one per vault-core error) and a `message` for people: decide on the code.
import init, { Sealer, Opener, PartPlan } from './pkg/vault_wasm.js';

export { Sealer, Opener, PartPlan };

/** The engine that runs the bulk AES-GCM of frames. @typedef {'webcrypto' | 'wasm'} Engine */
/** @typedef {import('./pkg/vault_wasm.js').ErrorCode} FormatErrorCode */
/** An error thrown by vault-wasm. @typedef {Error & { name: 'VaultError', code: FormatErrorCode }} FormatError */

/** @type {Promise<unknown> | undefined} */
let ready;

/**
 * Loads the WebAssembly module once.
 * @param {string | URL | Response | BufferSource | WebAssembly.Module} [source] bytes or URL; default next to this file
 */
export function loadWasm(source) {
  ready ??= init(source === undefined ? undefined : { module_or_path: source });
  return ready;
}

/** @param {unknown} e @returns {e is FormatError} */
export function isFormatError(e) {
  return e instanceof Error && e.name === 'VaultError' && typeof (/** @type {{ code?: unknown }} */ (e).code) === 'string';
}

/**
 * Codes that say the stored bytes are not a valid message under this key for this
 * recording: damaged, tampered with, or another object passed off as this one.
 * (`misuse` is a bug in the page; `no-usable-data-key` is never thrown here.)
 * @type {ReadonlySet<FormatErrorCode>}
 */
const DAMAGED = new Set(['malformed', 'unsupported', 'truncated', 'trailing-data', 'frame-out-of-order',
  'authentication-failed', 'commitment-mismatch', 'context-mismatch', 'limit-exceeded']);

/**
 * The engine to use: `forced` when it names one (tests, benchmarks), else WebCrypto
 * where SubtleCrypto exists, else WASM.
 * @param {unknown} [forced]
 * @returns {Engine}
 */
export function cryptoMode(forced) {
  if (forced === 'wasm' || forced === 'webcrypto') return forced;
  return globalThis.crypto?.subtle ? 'webcrypto' : 'wasm';
}

/**
 * Frames each engine sealed or opened in this worker so far (the page reports an
 * upload's share, so a test can see which engine did the work).
 * @type {Record<Engine, number>}
 */
export const framesBy = { webcrypto: 0, wasm: 0 };

/**
 * The engine a frame key stands for: a CryptoKey is WebCrypto's; none means the key
 * stays inside WASM, which then runs the AES too.
 * @param {CryptoKey | null} key
 * @returns {Engine}
 */
export const engineOf = (key) => key ? 'webcrypto' : 'wasm';

/**
 * Imports a frame key as a non-extractable AES-GCM key and zeroes the raw copy.
 * @param {Uint8Array<ArrayBuffer>} raw
 */
export async function importFrameKey(raw) {
  try {
    return await crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
  } finally {
    raw.fill(0);
  }
}

/**
 * A frame key for `engine`: a CryptoKey for WebCrypto, null for WASM (the key stays in WASM).
 * @param {Sealer | Opener} owner
 * @param {Engine} engine
 * @returns {Promise<CryptoKey | null>}
 */
export async function frameKeyFor(owner, engine) {
  return engine === 'webcrypto' ? importFrameKey(buffer(owner.frameKey())) : null;
}

/**
 * Bytes from vault-wasm (always a fresh `ArrayBuffer`, never shared memory), typed as
 * WebCrypto wants them.
 * @param {Uint8Array} bytes
 * @returns {Uint8Array<ArrayBuffer>}
 */
const buffer = (bytes) => /** @type {Uint8Array<ArrayBuffer>} */ (bytes);

/**
 * Encrypts one upload part's plaintext as the message's next frames (whole frames
 * unless `last`, which also writes the final frame). Returns `prefix` (part 1's
 * header, or nothing) and the frames' bytes, written into `alloc(length)`.
 * @param {Sealer} sealer
 * @param {CryptoKey | null} key from `frameKeyFor`
 * @param {Uint8Array<ArrayBuffer>} plain
 * @param {boolean} last
 * @param {Uint8Array} prefix
 * @param {(length: number) => Uint8Array<ArrayBuffer>} alloc
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
export async function sealFrames(sealer, key, plain, last, prefix, alloc) {
  if (!key) {
    const before = sealer.nextSequence;
    const sealed = sealer.seal(plain, last);
    framesBy.wasm += sealer.nextSequence - before;
    const out = alloc(prefix.length + sealed.length);
    out.set(prefix);
    out.set(sealed, prefix.length);
    return out;
  }
  // Plans are taken in order (the sealer numbers frames and checks the piece's
  // length); the AES runs concurrently.
  const plans = sealer.planFrames(plain.length, last).map((p) => {
    const plan = { prefix: p.prefix, iv: buffer(p.iv), aad: buffer(p.aad), start: p.start, end: p.end };
    p.free();
    return plan;
  });
  const sealed = await Promise.all(plans.map((p) =>
    crypto.subtle.encrypt({ name: 'AES-GCM', iv: p.iv, additionalData: p.aad, tagLength: 128 }, key, plain.subarray(p.start, p.end))));
  framesBy.webcrypto += plans.length;
  let size = prefix.length;
  plans.forEach((p, i) => { size += p.prefix.length + sealed[i].byteLength; });
  const out = alloc(size);
  out.set(prefix);
  let at = prefix.length;
  plans.forEach((p, i) => {
    out.set(p.prefix, at); at += p.prefix.length;
    out.set(new Uint8Array(sealed[i]), at); at += sealed[i].byteLength;
  });
  return out;
}

/** Thrown when the stored bytes do not verify: damaged or tampered ciphertext. */
export class TamperedError extends Error {
  /**
   * @param {FormatErrorCode | 'authentication-failed' | 'length'} reason what failed
   * @param {string} detail
   */
  constructor(reason, detail) {
    super(`This recording is damaged or has been tampered with; nothing of it was shown. (${detail})`);
    this.name = 'TamperedError';
    /** @type {'tampered'} */
    this.code = 'tampered';
    this.reason = reason;
  }
}

/**
 * A vault-wasm error that says the stored bytes are bad becomes a `TamperedError`;
 * anything else stays as it is.
 * @param {unknown} e
 * @returns {unknown}
 */
export function asTampered(e) {
  return isFormatError(e) && DAMAGED.has(e.code) ? new TamperedError(e.code, e.message) : e;
}

/**
 * Decrypts the ciphertext of `span` (fetched as `cipher`) to exactly the plaintext
 * range the span was located for. Nothing is returned unless every frame verified.
 * @param {Opener} opener
 * @param {CryptoKey | null} key from `frameKeyFor`
 * @param {import('./pkg/vault_wasm.js').Span} span
 * @param {Uint8Array<ArrayBuffer>} cipher
 * @returns {Promise<Uint8Array>}
 */
export async function openSpan(opener, key, span, cipher) {
  try {
    if (!key) {
      const plain = opener.decrypt(span, cipher);
      framesBy.wasm += span.frameCount;
      return plain;
    }
    const frames = opener.frames(span, cipher);
    const plans = frames.map((f) => ({ iv: buffer(f.iv), aad: buffer(f.aad), start: f.start, end: f.end }));
    frames.forEach((f) => f.free());
    let opened;
    try {
      opened = await Promise.all(plans.map((f) =>
        crypto.subtle.decrypt({ name: 'AES-GCM', iv: f.iv, additionalData: f.aad, tagLength: 128 }, key, cipher.subarray(f.start, f.end))));
    } catch {
      throw new TamperedError('authentication-failed', 'a frame failed authentication');
    }
    framesBy.webcrypto += plans.length;
    const skip = span.plainStart - span.framesStart;
    const out = new Uint8Array(span.plainEnd - span.plainStart);
    let pos = 0; // plaintext offset from the first frame's start
    for (const buf of opened) {
      const bytes = new Uint8Array(buf);
      const from = Math.max(0, skip - pos), to = Math.min(bytes.length, skip + out.length - pos);
      if (to > from) out.set(bytes.subarray(from, to), pos + from - skip);
      pos += bytes.length;
    }
    return out;
  } catch (e) {
    throw asTampered(e);
  }
}

/** @param {Uint8Array} bytes */
export const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
/** @param {string} text */
export const unhex = (text) => Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
/** @param {string} text */
export const unbase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
/** @param {Uint8Array<ArrayBuffer>} bytes */
export async function sha256hex(bytes) {
  return hex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
}

/**
 * What the server grants to encrypt with: a data key (base64), its wrapped copies and
 * the encryption context (as `POST /v1/family/library-key` answers).
 * @typedef {object} KeyGrant
 * @property {string} data_key
 * @property {unknown[]} encrypted_data_keys
 * @property {Record<string, string>} encryption_context
 */

/**
 * Encrypts a small piece (a recording's details, a poster) as one whole ESDK message
 * under `grant`, in WASM (a few kilobytes: not worth WebCrypto's round trips).
 * @param {KeyGrant} grant
 * @param {Uint8Array} plain not empty
 * @param {number} [frameLength]
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
export async function sealWhole(grant, plain, frameLength = 4096) {
  await loadWasm();
  const plan = new PartPlan(frameLength, 1);
  const dataKey = unbase64(grant.data_key);
  try {
    const sealer = Sealer.create(dataKey, JSON.stringify(grant.encryption_context), JSON.stringify(grant.encrypted_data_keys),
      plan, crypto.getRandomValues(new Uint8Array(32)));
    try {
      const header = sealer.header;
      const body = sealer.seal(plain, true);
      const message = new Uint8Array(header.length + body.length);
      message.set(header);
      message.set(body, header.length);
      return message;
    } finally {
      sealer.free();
    }
  } finally {
    dataKey.fill(0);
    plan.free();
  }
}

/**
 * Decrypts and authenticates a whole small ESDK message whose context must name
 * `family` and `object`.
 * @param {Uint8Array} dataKey
 * @param {string} family
 * @param {string} object
 * @param {Uint8Array} message
 * @returns {Promise<Uint8Array>}
 */
export async function openWhole(dataKey, family, object, message) {
  await loadWasm();
  const opener = Opener.open(message, dataKey, message.length, family, object);
  try {
    const span = opener.locate(0, opener.plaintextLength);
    try {
      return opener.decrypt(span, message.subarray(span.cipherStart, span.cipherEnd));
    } finally {
      span.free();
    }
  } finally {
    opener.free();
  }
}
