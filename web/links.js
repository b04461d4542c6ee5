// @ts-check
// Share links' cryptography, for the family page that makes a link and the viewer
// page (share.js) that opens one.
//
// A link is `<origin>/share.html#<id>.<secret>`: the 128-bit id names it to the
// server; the 256-bit secret stays in the fragment, which browsers never send. The
// wrapping key and the items' format are vault-core's (`vault_core::link`: HKDF of
// the secret and, for links that ask for one, of an Argon2id of the passphrase);
// each shared recording travels as one small ESDK message holding its data key,
// title, date and poster. The server keeps those messages and can open none of them.
import { loadWasm, unbase64 } from './crypto.js';
import { sealForLink, openFromLink, passphraseKey, linkWrappingKey } from './pkg/vault_wasm.js';

/** Argon2id for a passphrase: 64 MiB, 3 passes (about a second on a phone). */
export const KDF = Object.freeze({ algorithm: 'argon2id', memory_kib: 65536, iterations: 3 });
/** Random bytes one `sealForLink` takes: message id, data key, wrapping IV. */
const SEAL_RANDOM = 32 + 32 + 12;

/**
 * The passphrase KDF's public parameters, as the server keeps them.
 * @typedef {object} PassphraseKdf
 * @property {string} algorithm
 * @property {string} salt base64, 16 bytes
 * @property {number} memory_kib
 * @property {number} iterations
 */

/**
 * What a link carries of one recording (sealed; only the link opens it).
 * @typedef {object} SharedItem
 * @property {string} recording the recording's id: an item moved to another recording is refused
 * @property {string} data_key base64
 * @property {string} title
 * @property {string} recorded_on YYYY-MM-DD
 * @property {string} kind audio, video, photo or letter
 * @property {string} name the file name a download is saved under
 * @property {number} [duration] seconds
 * @property {string} [poster] base64 of a small JPEG
 */

/** @param {Uint8Array} bytes */
export const base64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
/** @param {string} text */
export const unbase64url = (text) => unbase64(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4));
/** @param {Uint8Array} bytes */
export const base64 = (bytes) => {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
};

/**
 * The link's wrapping key (raw bytes; the caller wipes them).
 * @param {string} id
 * @param {Uint8Array} secret
 * @param {{ passphrase: string, kdf: PassphraseKdf } | null} lock
 * @returns {Promise<Uint8Array>}
 */
export async function wrappingKey(id, secret, lock) {
  await loadWasm();
  const stretched = lock
    ? passphraseKey(lock.passphrase.normalize('NFC'), unbase64(lock.kdf.salt), lock.kdf.memory_kib, lock.kdf.iterations)
    : new Uint8Array(0);
  try {
    return linkWrappingKey(id, secret, stretched);
  } finally {
    stretched.fill(0);
  }
}

/** A new link's id and secret, and the salt of its passphrase KDF. */
export function newLink() {
  return {
    id: base64url(crypto.getRandomValues(new Uint8Array(16))),
    secret: crypto.getRandomValues(new Uint8Array(32)),
    kdf: /** @type {PassphraseKdf} */ ({ ...KDF, salt: base64(crypto.getRandomValues(new Uint8Array(16))) }),
  };
}

/**
 * Seals one recording's item for link `id` of `family`.
 * @param {Uint8Array} key the wrapping key
 * @param {string} id
 * @param {string} family
 * @param {SharedItem} item
 * @returns {Promise<string>} base64 of the message
 */
export async function sealItem(key, id, family, item) {
  await loadWasm();
  const plain = new TextEncoder().encode(JSON.stringify(item));
  try {
    return base64(sealForLink(key, id, family, plain, crypto.getRandomValues(new Uint8Array(SEAL_RANDOM))));
  } finally {
    plain.fill(0);
  }
}

/** Characters a title must not hide behind: controls, bidi overrides, zero-width. */
const DECEPTIVE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/;

/**
 * Opens one sealed item of link `id`, or throws: another key (a wrong passphrase),
 * another link or family, damage, or an item that names another recording.
 * @param {Uint8Array} key
 * @param {string} id
 * @param {string} family
 * @param {string} recording the id the server says the item is for
 * @param {string} sealed base64
 * @returns {Promise<SharedItem>}
 */
export async function openItem(key, id, family, recording, sealed) {
  await loadWasm();
  const plain = openFromLink(key, id, family, unbase64(sealed));
  /** @type {SharedItem} */
  const item = JSON.parse(new TextDecoder().decode(plain));
  plain.fill(0);
  const text = (/** @type {unknown} */ v, /** @type {number} */ max) => typeof v === 'string' && v.length <= max && !DECEPTIVE.test(v);
  if (item?.recording !== recording || typeof item.data_key !== 'string' || !text(item.title, 300) || !text(item.name, 300)
    || !/^\d{4}-\d{2}-\d{2}$/.test(item.recorded_on ?? '') || !['audio', 'video', 'photo', 'letter'].includes(item.kind)) {
    throw new Error('This link’s contents do not fit together.');
  }
  return item;
}
