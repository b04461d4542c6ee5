// The page's cryptography, shared by the upload worker and the service worker.
// vault-wasm (vault-core compiled to WebAssembly) computes the format: header, key
// derivation, commitment, every frame's IV and AAD, frame order. The bulk AES-256-GCM
// of frame bodies runs on WebCrypto (hardware AES) when the browser has it, else in
// WASM ("wasm" mode: software AES, ~14x slower, the tested fallback).
import init, { Sealer, Opener } from './pkg/vault_wasm.js';

let ready;
/** Loads the WebAssembly module once (`source`: bytes or URL; default next to this file). */
export function loadWasm(source) {
  ready ??= init(source === undefined ? undefined : { module_or_path: source });
  return ready;
}

export { Sealer, Opener };

/** "webcrypto" where SubtleCrypto exists, else "wasm"; `forced` picks one (tests, benchmarks). */
export function cryptoMode(forced) {
  if (forced === 'wasm' || forced === 'webcrypto') return forced;
  return globalThis.crypto?.subtle ? 'webcrypto' : 'wasm';
}

/** Imports a frame key as a non-extractable AES-GCM key and zeroes the raw copy. */
export async function importFrameKey(raw) {
  try {
    return await crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
  } finally {
    raw.fill(0);
  }
}

/** A frame key for `mode`: a CryptoKey for WebCrypto, null for WASM (the key stays in WASM). */
export async function frameKeyFor(owner, mode) {
  return mode === 'webcrypto' ? importFrameKey(owner.frameKey()) : null;
}

/**
 * Encrypts one upload part's plaintext as the message's next frames (whole frames
 * unless `last`, which also writes the final frame). Returns the frames' bytes.
 */
export async function sealFrames(sealer, key, plain, last) {
  if (!key) return sealer.seal(plain, last);
  const F = sealer.frameLength;
  const regular = Math.floor(plain.length / F);
  const finalLen = plain.length - regular * F;
  if (!last && finalLen !== 0) throw new Error('only the last part may end inside a frame');
  const count = regular + (last ? 1 : 0);
  // Plans are taken in order (the sealer numbers frames); the AES runs concurrently.
  const plans = [];
  for (let i = 0; i < count; i++) {
    const isFinal = last && i === regular;
    const p = sealer.plan(isFinal ? finalLen : F, isFinal);
    plans.push({ prefix: p.prefix, iv: p.iv, aad: p.aad, from: i * F, to: isFinal ? plain.length : (i + 1) * F });
    p.free();
  }
  const sealed = await Promise.all(plans.map((p) =>
    crypto.subtle.encrypt({ name: 'AES-GCM', iv: p.iv, additionalData: p.aad, tagLength: 128 }, key, plain.subarray(p.from, p.to))));
  let size = 0;
  plans.forEach((p, i) => { size += p.prefix.length + sealed[i].byteLength; });
  const out = new Uint8Array(size);
  let at = 0;
  plans.forEach((p, i) => {
    out.set(p.prefix, at); at += p.prefix.length;
    out.set(new Uint8Array(sealed[i]), at); at += sealed[i].byteLength;
  });
  return out;
}

/** Thrown when a frame fails authentication: damaged or tampered ciphertext. */
export class TamperedError extends Error {
  constructor(detail) {
    super(`This recording is damaged or has been tampered with; nothing of it was shown. (${detail})`);
    this.name = 'TamperedError';
  }
}

/**
 * Decrypts the ciphertext of `span` (fetched as `cipher`) to exactly the plaintext
 * range the span was located for. Nothing is returned unless every frame verified.
 */
export async function openSpan(opener, key, span, cipher) {
  try {
    if (!key) return opener.decrypt(span, cipher);
    const frames = opener.frames(span, cipher);
    const plans = frames.map((f) => ({ iv: f.iv, aad: f.aad, start: f.start, end: f.end }));
    frames.forEach((f) => f.free());
    let opened;
    try {
      opened = await Promise.all(plans.map((f) =>
        crypto.subtle.decrypt({ name: 'AES-GCM', iv: f.iv, additionalData: f.aad, tagLength: 128 }, key, cipher.subarray(f.start, f.end))));
    } catch (e) {
      throw new TamperedError('a frame failed authentication');
    }
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
    if (e instanceof TamperedError) throw e;
    const text = String(e?.message ?? e);
    if (/authentication|tag|commitment|out of order|malformed|truncated|disagrees/i.test(text)) throw new TamperedError(text);
    throw e;
  }
}

export const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
export const unhex = (text) => Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
export const unbase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
export async function sha256hex(bytes) {
  return hex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
}
