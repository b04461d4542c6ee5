// @ts-check
// The share link viewer: opens `/share.html#<link id>.<secret>` with no account. It
// asks the server to open the link (one counted view), derives the link's key from
// the fragment (and a passphrase, if the link has one), opens each recording's sealed
// item, hands the keys to the service worker, and plays through /media/link/<id>,
// decrypted in this browser like the family page's recordings. It holds no token and
// reaches no route of the family but the link's own.
import { client, ApiError } from './api.js';
import { ToServiceWorker, FromServiceWorker } from './messages.js';
import { wrappingKey, openItem, unbase64url } from './links.js';
import { unbase64 } from './crypto.js';
import { swReady, postToServiceWorker } from './worker-channel.js';
import { $, el } from './dom.js';

/**
 * @typedef {import('./links.js').SharedItem} SharedItem
 * @typedef {import('./links.js').PassphraseKdf} PassphraseKdf
 * @typedef {{ recording_id: string, family_id: string, sealed: string, content_type: string, header_len: number,
 *   ciphertext_size: number, plaintext_size: number }} LinkedRecording
 * @typedef {{ id: string, expires_at: number, allow_download: boolean, passphrase: PassphraseKdf | null, view: string,
 *   recordings: LinkedRecording[] }} OpenedLink
 */

const api = client(() => null);

/** @param {string} text */
function failed(text) {
  $('#shared-status').textContent = '';
  $('#shared-error').textContent = text;
  $('#shared-error').hidden = false;
}

/** What the viewer reads for the server's refusals. @param {unknown} e */
function said(e) {
  if (e instanceof ApiError) {
    if (e.code === 'not-found') return 'This link does not exist. Check that you copied all of it.';
    if (e.code === 'rate-limited') return 'Too many links were opened from here just now. Wait a minute and try again.';
    if (e.code === 'expired') return e.message.replace(/^[^:]*: /, '').replace(/^./, (c) => c.toUpperCase());
    return e.message;
  }
  return e instanceof Error ? e.message : 'The link could not be opened.';
}

/** A day as the viewer reads it. @param {string} day YYYY-MM-DD */
const fmtDay = (day) => {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(y, m - 1, d).toLocaleDateString(undefined, { dateStyle: 'long' });
};
/** @param {number | undefined} s */
const fmtDuration = (s) => s === undefined ? '' : `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`;

/** @type {HTMLElement | null} */
let opener = null;
/** What the service worker was given for this link (it asks again after a restart). @type {import('./messages.js').LinkMessage | null} */
let sentToWorker = null;
/** The server's bounds on a passphrase's Argon2id (a link asking for more is refused here). */
const KDF_MEMORY_KIB_MAX = 262_144;
const KDF_ITERATIONS_MAX = 10;

/**
 * @param {SharedItem} item
 * @param {LinkedRecording} r
 */
function play(item, r) {
  opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  $('#player').hidden = false;
  $('#player-error').hidden = true;
  $('#player-title').textContent = item.title;
  const src = `/media/link/${r.recording_id}`;
  const body = $('#player-body');
  let media;
  if (item.kind === 'photo') {
    media = el('img', { src, id: 'photo', alt: item.title });
  } else if (item.kind === 'video' || item.kind === 'audio') {
    media = el(item.kind, { controls: true, preload: 'metadata', src, id: 'media', 'aria-label': item.title });
  } else {
    media = el('p', {}, 'This is a letter: save it to read it.');
  }
  media.addEventListener('error', () => {
    if ($('#player-error').hidden) showPlayerError('This recording cannot be played in this browser (or could not be decrypted).');
  });
  body.replaceChildren(media);
  $('#player').scrollIntoView();
  $('#player-title').focus();
}

/** @param {string} text */
function showPlayerError(text) {
  $('#player-error').textContent = text;
  $('#player-error').hidden = false;
}

/**
 * A download: a navigation the service worker answers as an attachment, allowed once.
 * @param {string} href
 */
async function save(href) {
  const nonce = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
  await postToServiceWorker({ type: ToServiceWorker.allowNavigation, nonce });
  location.assign(`${href}&nonce=${nonce}`);
}

/**
 * @param {OpenedLink} link
 * @param {Array<[SharedItem, LinkedRecording]>} shown
 */
function render(link, shown) {
  const until = new Date(link.expires_at).toLocaleDateString(undefined, { dateStyle: 'long' });
  $('#shared-status').textContent = `${shown.length === 1 ? 'One recording' : `${shown.length} recordings`}, shared with you until ${until}.`;
  $('#shared-list').replaceChildren(...shown.map(([item, r]) => {
    const poster = item.poster
      ? el('img', { class: 'poster', alt: '', src: URL.createObjectURL(new Blob([unbase64(item.poster)], { type: 'image/jpeg' })) })
      : el('span', { class: `poster none ${item.kind}`, 'aria-hidden': 'true' });
    const verb = item.kind === 'photo' ? 'View' : item.kind === 'letter' ? 'Read' : 'Play';
    return el('li', { 'data-id': r.recording_id }, poster,
      el('div', { class: 'what' }, el('bdi', { class: 'title' }, item.title),
        el('span', { class: 'meta' }, [item.kind, fmtDuration(item.duration), fmtDay(item.recorded_on)].filter(Boolean).join(' · '))),
      el('div', { class: 'actions' },
        item.kind === 'letter' ? null : el('button', { type: 'button', onclick: () => play(item, r), 'aria-label': `${verb} ${item.title}` }, verb),
        link.allow_download ? el('a', { class: 'button secondary', href: `/media/link/${r.recording_id}?download&name=${encodeURIComponent(item.name)}`,
          'aria-label': `Save ${item.title}`, onclick: (/** @type {Event} */ e) => {
            e.preventDefault();
            save(/** @type {HTMLAnchorElement} */ (e.currentTarget).getAttribute('href') ?? '').catch((err) => failed(said(err)));
          } }, 'Save') : null));
  }));
  $('#shared-list').hidden = false;
  $('#shared-note').hidden = false;
}

/**
 * Opens every item with the link's key; a wrong passphrase fails on the first.
 * @param {OpenedLink} link
 * @param {Uint8Array} secret
 * @param {string | null} passphrase
 */
async function unlock(link, secret, passphrase) {
  const key = await wrappingKey(link.id, secret, link.passphrase && passphrase !== null ? { passphrase, kdf: link.passphrase } : null);
  try {
    /** @type {Array<[SharedItem, LinkedRecording]>} */
    const shown = [];
    for (const r of link.recordings) {
      shown.push([await openItem(key, link.id, r.family_id, r.recording_id, r.sealed), r]);
    }
    return shown;
  } finally {
    key.fill(0);
  }
}

async function main() {
  const [id, secretText] = location.hash.slice(1).split('.');
  // The link's id names it to the server; the key is derived from this one, never from the server's answer.
  /** @type {Uint8Array | null} */
  let secret = null;
  try {
    secret = id && /^[A-Za-z0-9_-]{22}$/.test(id) && /^[A-Za-z0-9_-]{43}$/.test(secretText ?? '') ? unbase64url(secretText) : null;
  } catch { secret = null; }
  if (!id || !secret) return failed('This link is incomplete. Copy all of it, including the part after “#”.');
  await swReady();
  /** @type {OpenedLink} */
  const link = await (await api.request('POST', `/v1/links/${id}/open`)).json();
  if (link.id !== id) return failed('The server answered for another link.');
  if (link.passphrase && (link.passphrase.memory_kib > KDF_MEMORY_KIB_MAX || link.passphrase.iterations > KDF_ITERATIONS_MAX)) {
    return failed('This link asks for more memory than a passphrase may take here.');
  }
  const ready = async (/** @type {Array<[SharedItem, LinkedRecording]>} */ shown) => {
    /** @type {import('./messages.js').LinkMessage} */
    const message = {
      type: ToServiceWorker.link, link: id, view: link.view,
      entries: shown.map(([item, r]) => ({ id: r.recording_id, family: r.family_id, dataKey: item.data_key,
        headerLength: r.header_len, ciphertextSize: r.ciphertext_size, contentType: r.content_type,
        allowDownload: link.allow_download })),
    };
    // Kept while this page is open: a restarted service worker asks for it again
    // (a paused film must not cost another view).
    sentToWorker = message;
    await postToServiceWorker(message);
    for (const [item] of shown) item.data_key = '';
    render(link, shown);
  };
  const known = /** @type {Uint8Array} */ (secret);
  if (!link.passphrase) {
    const shown = await unlock(link, known, null);
    known.fill(0);
    return ready(shown);
  }
  $('#shared-status').textContent = 'This link is protected by a passphrase.';
  $('#passphrase-form').hidden = false;
  $('#passphrase').focus();
  $('#passphrase-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = /** @type {HTMLInputElement} */ ($('#passphrase'));
    $('#shared-error').hidden = true;
    $('#shared-status').textContent = 'Checking the passphrase…';
    try {
      const shown = await unlock(link, known, input.value);
      known.fill(0);
      input.value = '';
      $('#passphrase-form').hidden = true;
      await ready(shown);
    } catch {
      $('#shared-status').textContent = '';
      failed('That passphrase does not open this link. Check it with the person who shared it.');
      input.select();
    }
  });
}

$('#player-close').addEventListener('click', () => {
  $('#player-body').replaceChildren();
  $('#player').hidden = true;
  (opener ?? $('#main')).focus();
});
navigator.serviceWorker?.addEventListener('message', (e) => {
  if (e.data?.type === FromServiceWorker.mediaError) showPlayerError(e.data.message);
  if (e.data?.type === FromServiceWorker.needLink) e.ports[0]?.postMessage(sentToWorker);
});
main().catch((e) => failed(said(e)));
