// @ts-check
// The family page: sign-in, recordings (upload, play, download, delete), members, audit.
// Cryptography happens in workers (upload-worker.js, sw.js); this file only drives the
// UI. It decides on error codes (the server's problem codes, the workers' codes),
// never on an error's text. Messages with the workers: messages.js.
import { client, ApiError } from './api.js';
import { pending } from './pending.js';
import { ToUploader, FromUploader, ToServiceWorker, FromServiceWorker, PLAYBACK_ERROR_HEADER } from './messages.js';
import { Library, makePoster, mediaDuration, fingerprint, isoDay, kindOf } from './library.js';
import { newLink, wrappingKey, sealItem, base64, base64url } from './links.js';
import { swReady, partsReady, postToServiceWorker } from './worker-channel.js';
import { claims, renewalDelay, renewed } from './session.js';
import { $, el, fmtSize, fmtDay } from './dom.js';

/**
 * @typedef {import('./api.js').RecordingView} RecordingView
 * @typedef {import('./api.js').RecordingKind} RecordingKind
 * @typedef {import('./api.js').FamilyView} FamilyView
 * @typedef {import('./api.js').MemberView} MemberView
 * @typedef {import('./api.js').AuditPage} AuditPage
 * @typedef {import('./api.js').UploadStatus} UploadStatus
 * @typedef {import('./api.js').ExportStarted} ExportStarted
 * @typedef {import('./crypto.js').Engine} Engine
 * @typedef {import('./messages.js').ToUploaderMessage} ToUploaderMessage
 * @typedef {import('./messages.js').FromUploaderMessage} FromUploaderMessage
 * @typedef {import('./messages.js').ToServiceWorkerMessage} ToServiceWorkerMessage
 * @typedef {import('./messages.js').FromServiceWorkerMessage} FromServiceWorkerMessage
 * @typedef {import('./messages.js').SessionReply} SessionReply
 * @typedef {RecordingView & { recorded_on?: string, note?: string, fingerprint?: string, name?: string, duration?: number }} LibraryItem
 * @typedef {import('./api.js').ShareLinkView} ShareLinkView
 * @typedef {import('./api.js').ShareLinkOpening} ShareLinkOpening
 */

/** @param {string} sel */
const $input = (sel) => /** @type {HTMLInputElement} */ ($(sel));

const params = new URLSearchParams(location.search);
const forced = params.get('crypto'); // "wasm" forces the pure-WASM fallback (tests, benchmarks)
/** @type {Engine | null} */
const cryptoModeParam = forced === 'wasm' || forced === 'webcrypto' ? forced : null;
/**
 * @type {{ token: string | null, family: FamilyView | null, role: string | null, user: string | null,
 *   cursor: string | null, auditBefore: number | null }}
 */
const state = { token: sessionStorage.getItem('vault.token'), family: null, role: null, user: null, cursor: null, auditBefore: null };
/** The family's library key while signed in (titles, dates, notes and posters are sealed under it).
 * @type {Library | null} */
let library = null;
/** The recordings loaded so far, their details opened. @type {LibraryItem[]} */
let items = [];
const api = client(() => state.token);
/** What /web-config.json says: how this server signs in and renews tokens.
 * @type {{ dev_sign_in?: boolean, sign_in_url?: string, refresh_url?: string }} */
let webConfig = {};

// ---------- messages ----------
/** @param {string} text */
function showAlert(text) {
  const el = $('#alert');
  el.textContent = text;
  el.hidden = !text;
}
/** @param {string} text */
function announce(text) { $('#status').textContent = text; }
/** @param {unknown} e */
function fail(e) {
  if (e instanceof ApiError && e.code === 'unauthenticated') return signOut('Your session has expired. Please sign in again.');
  showAlert(e instanceof Error ? e.message : String(e));
}
/** A duration as 0:07, 12:05 or 1:02:09; empty when unknown. @param {number | undefined} seconds */
const fmtDuration = (seconds) => {
  if (seconds === undefined) return '';
  const t = Math.max(1, Math.round(seconds));
  const [h, m, s] = [Math.floor(t / 3600), Math.floor(t / 60) % 60, t % 60];
  return `${h ? `${h}:${String(m).padStart(2, '0')}` : m}:${String(s).padStart(2, '0')}`;
};
/** @param {number} ms */
const fmtDate = (ms) => new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
// ---------- session ----------
const SIGN_IN_STATE = 'vault.sign-in-state';

/** @param {number} [bytes] */
function randomHex(bytes = 16) {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Who is signed in, for this device's records of interrupted uploads. */
function identityKey() {
  return `${claims(state.token ?? '')?.iss}|${state.user}|${state.family?.id}`;
}

/** Asks the user before a link signs them in: a token in a link they did not ask for
 * could be someone else's, and what they then upload would go to that person's family.
 * @param {string} token
 * @returns {Promise<boolean>} */
function confirmLinkSignIn(token) {
  const c = claims(token) ?? {};
  $('#confirm-sign-in-user').textContent = c.sub ?? '?';
  $('#confirm-sign-in-family').textContent = c.org_id ?? '?';
  const dialog = /** @type {HTMLDialogElement} */ ($('#confirm-sign-in'));
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'sign-in'), { once: true }));
}

/** A link to a decrypted recording that the service worker will answer: it refuses
 * navigations to /media/ that this page did not start (another site could otherwise
 * make the browser release a key and save a file).
 * @param {string} path */
async function mediaNavigation(path) {
  const nonce = randomHex();
  await postToServiceWorker({ type: ToServiceWorker.allowNavigation, nonce });
  return `${path}${path.includes('?') ? '&' : '?'}nonce=${nonce}`;
}

/** @param {Event} e */
function followMediaLink(e) {
  e.preventDefault();
  const href = /** @type {Element} */ (e.currentTarget).getAttribute('href') ?? '';
  mediaNavigation(href).then((url) => location.assign(url), fail);
}

function tellServiceWorker() {
  if (!state.token || !state.family) return Promise.resolve();
  return postToServiceWorker({ type: ToServiceWorker.session, token: state.token, family: state.family.id, mode: cryptoModeParam });
}
navigator.serviceWorker?.addEventListener('message', (e) => {
  /** @type {FromServiceWorkerMessage} */
  const msg = e.data;
  if (msg?.type === FromServiceWorker.needSession && state.token && state.family) {
    /** @type {SessionReply} */
    const reply = { token: state.token, family: state.family.id, mode: cryptoModeParam };
    e.ports[0]?.postMessage(reply);
  } else if (msg?.type === FromServiceWorker.mediaError) {
    if (msg.code === 'unauthenticated') return signOut('Your session has expired. Please sign in again.');
    playerError(msg.message);
  }
});

// ---------- renewing the token ----------
// The page renews its token ahead of expiry (session.js says when) and whenever a
// worker's is refused, and hands it to the upload worker and the service worker.
/** @type {ReturnType<typeof setTimeout> | undefined} */
let renewTimer;
/** @type {Promise<boolean> | null} */
let renewing = null;

function scheduleRenewal() {
  clearTimeout(renewTimer);
  const delay = renewalDelay(state.token ?? '', webConfig);
  if (delay !== null) renewTimer = setTimeout(() => { renewToken(); }, delay);
}

/** Gets a fresh token for the same person and family; resolves whether it did. */
function renewToken() {
  renewing ??= (async () => {
    try {
      const current = state.token;
      const fresh = current ? await renewed(current, webConfig) : null;
      if (!fresh || state.token !== current) return false;
      state.token = fresh;
      sessionStorage.setItem('vault.token', fresh);
      await tellServiceWorker();
      toUploader({ type: ToUploader.token, token: fresh });
      scheduleRenewal();
      return true;
    } catch {
      return false;
    } finally {
      renewing = null;
    }
  })();
  return renewing;
}

/** @param {string} token */
async function signIn(token) {
  const c = claims(token);
  if (!c) throw new Error('That is not a valid token.');
  if (c.exp && c.exp * 1000 < Date.now()) throw new Error('That token has expired. Please sign in again.');
  state.token = token;
  state.user = c.sub ?? null;
  sessionStorage.setItem('vault.token', token);
  await start();
}

/**
 * Uploads under way when their person signed out in this tab (or their session ended):
 * paused, and resumed with the same files when the same person signs in again.
 * @type {{ owner: string, jobs: UploadJob[] } | null}
 */
let held = null;
/** Whose uploads the list shows. */
let shownFor = '';

/** Pauses this person's uploads until they sign in again. */
function holdUploads() {
  const jobs = [running, ...queue].filter((j) => j !== null && !j.cancelled);
  if (jobs.length === 0 || !state.token) return;
  held = { owner: identityKey(), jobs: /** @type {UploadJob[]} */ (jobs) };
  queue.length = 0;
  // The worker still holds a valid token: it stops between parts and says so.
  if (running) toUploader({ type: ToUploader.pause });
}

/** After a sign-in: the same person's held uploads go on; anyone else sees none of them. */
function resumeHeldUploads() {
  const me = identityKey();
  if (shownFor && shownFor !== me) {
    $('#uploads').replaceChildren();
    $('#uploads-clear').hidden = true;
  }
  shownFor = me;
  if (!held) return;
  const { owner, jobs } = held;
  held = null;
  if (owner !== me) {
    for (const j of jobs) j.li.remove();
    return;
  }
  for (const job of jobs) {
    const button = /** @type {HTMLButtonElement | null} */ (job.li.querySelector('.pause'));
    if (job === running) job.resumeAfterPause = true; // its pause is still on its way
    if (!job.paused || !button) continue;
    job.paused = false;
    button.textContent = 'Pause';
    button.setAttribute('aria-label', `Pause ${job.title}`);
    setState(job.li, 'Waiting…');
    queue.push(job);
  }
  announce('Your uploads go on from where they stopped.');
  pump();
}

/** @param {string} [message] */
function signOut(message) {
  holdUploads();
  clearTimeout(renewTimer);
  library?.forget();
  library = null;
  items = [];
  titles.clear();
  names.clear();
  state.token = null;
  state.family = null;
  sessionStorage.removeItem('vault.token');
  /** @type {ToServiceWorkerMessage} */
  const out = { type: ToServiceWorker.signOut };
  navigator.serviceWorker?.controller?.postMessage(out);
  for (const id of ['#app', '#create-family', '#join-family', '#who', '#sign-out']) $(id).hidden = true;
  $('#sign-in').hidden = false;
  showAlert(message ?? '');
  $('#main').focus();
}

async function start() {
  showAlert('');
  $('#sign-in').hidden = true;
  /** @type {FamilyView} */
  let family;
  try {
    family = await api.get('/v1/family');
  } catch (e) {
    // Forbidden: not a member. Either the family does not exist yet (create it) or
    // an owner has to invite this user; the server does not say which, on purpose.
    if (e instanceof ApiError && (e.code === 'forbidden' || e.code === 'not-found')) {
      const invite = pendingInvite();
      if (invite) return offerToJoin(invite);
      // A studio's staff work on the studio's own page.
      if (await api.get('/v1/studio').then(() => true, () => false)) return location.assign('/studio.html');
      $('#create-family').hidden = false;
      $('#family-name').focus();
      return;
    }
    if (e instanceof ApiError && e.code === 'unauthenticated') return signOut('Your session has expired or is not valid. Please sign in again.');
    if (e instanceof ApiError && e.code === 'family-erased') return signOut(e.message);
    throw e;
  }
  state.family = family;
  state.role = family.role;
  const invite = pendingInvite();
  if (invite?.family === family.id) sessionStorage.removeItem(INVITE); // a member already: nothing to accept
  scheduleRenewal();
  try {
    library = new Library(family.id, await api.json('POST', '/v1/family/library-key', {}));
  } catch (e) {
    // The library still lists and plays; titles sealed in the browser wait for the key.
    if (e instanceof ApiError && e.code === 'unauthenticated') throw e;
    library = null;
  }
  await swReady();
  partsReady();
  await tellServiceWorker();
  $('#create-family').hidden = true;
  // Ids and names are isolated from the text around them (no bidirectional spill).
  $('#who').replaceChildren(el('bdi', {}, state.user), ' · ', el('bdi', {}, family.name), ` (${state.role})`);
  $('#who').hidden = false;
  $('#sign-out').hidden = false;
  $('#app').hidden = false;
  const manager = state.role === 'owner' || state.role === 'admin';
  document.querySelectorAll('.tab[data-view="members"], .tab[data-view="audit"]').forEach((t) => { /** @type {HTMLElement} */ (t).hidden = !manager; });
  $('#family-data').hidden = state.role !== 'owner';
  showSharing(family);
  show('recordings');
  await Promise.all([loadRecordings(true), loadInterrupted()]);
  if (invite && invite.family !== family.id) showAlert(wrongFamily(invite));
  resumeHeldUploads();
  document.body.dataset.ready = 'true';
}

// ---------- invitations ----------
const INVITE = 'vault.invite';

/** The invitation link this tab was opened with, until it is used or declined (`name`:
 * the customer a studio's delivery is for).
 * @returns {{ secret: string, family: string, name?: string } | null} */
function pendingInvite() {
  try { return JSON.parse(sessionStorage.getItem(INVITE) ?? 'null'); } catch { return null; }
}

/** @param {{ family: string }} invite */
const wrongFamily = (invite) => `This invitation is for the family “${invite.family}”, and you are signed in to another one. `
  + `Sign out, then sign in to “${invite.family}” to accept it.`;

/** Asks a signed-in relative who is not yet a member whether to join. @param {{ secret: string, family: string, name?: string }} invite */
function offerToJoin(invite) {
  const family = claims(state.token ?? '')?.org_id;
  $('#sign-out').hidden = false;
  if (invite.family && family && invite.family !== family) {
    $('#create-family').hidden = false;
    return showAlert(wrongFamily(invite));
  }
  $('#join-text').replaceChildren(...(invite.name
    // A studio's delivery names its customer. The name is the link's word, not the
    // server's: the page promises no role on it (the welcome says the real one).
    ? ['You were invited to the family vault made for ', el('strong', {}, el('bdi', {}, invite.name)), ' (',
      el('bdi', {}, invite.family), '). Joining lets you see its recordings. When a studio delivered them, the parent ',
      'who joins owns the vault, and the studio’s access ends.']
    : ['You were invited to the family vault ', el('strong', {}, el('bdi', {}, invite.family)),
      '. Joining lets you see and play its recordings, with the role the person who invited you chose.']));
  $('#notice').hidden = true;
  $('#join-family').hidden = false;
  $('#join-ok').focus();
}

async function acceptInvitation() {
  const invite = pendingInvite();
  if (!invite) return;
  try {
    /** @type {FamilyView} */
    const family = await api.json('POST', '/v1/invitations/accept', { secret: invite.secret });
    sessionStorage.removeItem(INVITE);
    $('#join-family').hidden = true;
    await start();
    $('#notice').replaceChildren('Welcome to ', el('bdi', {}, family.name), `: you joined as ${family.role}.`);
    $('#notice').hidden = false;
  } catch (e) {
    if (!(e instanceof ApiError) || e.code === 'network' || e.code === 'unauthenticated') throw e;
    sessionStorage.removeItem(INVITE);
    $('#join-family').hidden = true;
    $('#create-family').hidden = false;
    showAlert(e.code === 'expired' || e.code === 'not-found'
      ? 'This invitation link cannot be used any more: it was used already, withdrawn, or it expired. Ask for a new one.'
      : e.message);
  }
}

/** The family's invitations, with Revoke for those still waiting. */
async function loadInvitations() {
  /** @type {import('./api.js').InvitationView[]} */
  const list = await api.get('/v1/family/invitations');
  const said = (/** @type {import('./api.js').InvitationView} */ i) => i.state === 'pending' ? `waiting, until ${fmtLongDay(i.expires_at)}`
    : i.state === 'accepted' ? `joined on ${fmtLongDay(i.accepted_at ?? 0)} as ${i.accepted_by ?? '?'}`
    : i.state === 'revoked' ? 'withdrawn' : `expired on ${fmtLongDay(i.expires_at)}`;
  $('#invitations').replaceChildren(...list.map((i) => el('li', { 'data-id': i.id, 'data-state': i.state },
    el('div', {}, el('bdi', { class: 'title' }, i.name), el('span', { class: 'meta' }, `${i.role} · ${said(i)}`)),
    i.state === 'pending' ? el('button', { type: 'button', class: 'secondary', 'aria-label': `Withdraw the invitation for ${i.name}`,
      onclick: () => api.request('DELETE', `/v1/family/invitations/${i.id}`).then(loadInvitations).catch(fail) }, 'Withdraw') : null)));
  $('#invitations-wrap').hidden = list.length === 0;
}

/** @param {Event} e */
async function makeInvitation(e) {
  e.preventDefault();
  const name = $input('#invite-name').value.trim();
  const role = /** @type {HTMLSelectElement} */ ($('#invite-link-role')).value;
  /** @type {import('./api.js').InvitationCreated} */
  const made = await api.json('POST', '/v1/family/invitations', { name, role });
  const link = `${location.origin}/#invite=${made.secret}&family=${encodeURIComponent(made.family_id)}`;
  $input('#invite-link').value = link;
  $('#invite-for').textContent = name;
  $('#invite-until').textContent = `Works once, until ${fmtLongDay(made.invitation.expires_at)}.`;
  $('#invite-result').hidden = false;
  $input('#invite-name').value = '';
  $input('#invite-link').focus();
  $input('#invite-link').select();
  await loadInvitations();
}

/** Studios the family invited, and their deliveries into the vault, with "End access". */
async function loadFamilyStudios() {
  /** @type {[import('./api.js').StudioInvitationView[], import('./api.js').FamilyDeliveryView[]]} */
  const [invited, delivering] = await Promise.all([api.get('/v1/family/studio-invitations'), api.get('/v1/family/deliveries')]);
  const count = (/** @type {number} */ n) => n === 1 ? '1 recording' : `${n} recordings`;
  const waiting = invited.filter((i) => i.state === 'pending').map((i) => el('li', { 'data-id': i.id, 'data-state': 'invited' },
    el('div', {}, el('bdi', { class: 'title' }, i.name), el('span', { class: 'meta' }, `invited · the link works until ${fmtLongDay(i.expires_at)}`)),
    el('button', { type: 'button', class: 'secondary', 'aria-label': `Withdraw the invitation for ${i.name}`,
      onclick: () => api.request('DELETE', `/v1/family/studio-invitations/${i.id}`).then(loadFamilyStudios).catch(fail) }, 'Withdraw')));
  const studios = delivering.map((d) => el('li', { 'data-id': d.id, 'data-state': d.state },
    el('div', {}, el('bdi', { class: 'title' }, d.studio_name), el('span', { class: 'meta' }, d.state === 'accepted'
      ? `delivering until ${fmtLongDay(d.contribute_until ?? 0)} · ${count(d.recordings)}`
      : `access ended on ${fmtLongDay(d.handed_off_at ?? 0)} · ${count(d.recordings)}`)),
    d.state === 'accepted' ? el('button', { type: 'button', class: 'danger', 'aria-label': `End the access of ${d.studio_name}`, onclick: () => {
      if (!confirm(`End ${d.studio_name}’s access now? What it delivered stays yours.`)) return;
      api.request('POST', `/v1/family/deliveries/${d.id}/end`, { json: {} })
        .then(() => { announce(`${d.studio_name} no longer reaches this vault.`); return loadFamilyStudios(); }).catch(fail);
    } }, 'End access') : null));
  $('#family-deliveries').replaceChildren(...waiting, ...studios);
  $('#family-deliveries').hidden = waiting.length + studios.length === 0;
}

/** @param {Event} e */
async function inviteStudio(e) {
  e.preventDefault();
  const name = $input('#studio-invite-name').value.trim();
  /** @type {import('./api.js').StudioInvitationCreated} */
  const made = await api.json('POST', '/v1/family/studio-invitations', { name });
  $input('#studio-invite-link').value = `${location.origin}/studio.html#family-invite=${made.secret}`;
  $('#studio-invite-for').textContent = name;
  $('#studio-invite-until').textContent = `Works once, until ${fmtLongDay(made.invitation.expires_at)}.`;
  $('#studio-invite-result').hidden = false;
  $input('#studio-invite-name').value = '';
  $input('#studio-invite-link').focus();
  $input('#studio-invite-link').select();
  await loadFamilyStudios();
}

// ---------- views ----------
/** @param {string} view */
function show(view) {
  // A banner belongs to the view it was raised on; a recording does not keep playing
  // behind the members list.
  showAlert('');
  $('#notice').hidden = true;
  if (view !== 'recordings') closePlayer({ restoreFocus: false });
  for (const v of ['recordings', 'members', 'audit', 'trash']) $(`#view-${v}`).hidden = v !== view;
  document.querySelectorAll('.tab').forEach((t) => {
    if (/** @type {HTMLElement} */ (t).dataset.view === view) t.setAttribute('aria-current', 'page'); else t.removeAttribute('aria-current');
  });
  if (view === 'recordings' && state.family) loadLinks().catch(fail);
  if (view === 'members') loadMembers().catch(fail);
  if (view === 'audit') loadAudit(true).catch(fail);
  if (view === 'trash') loadTrash().catch(fail);
}

/**
 * A recording with its sealed details opened: title, "recorded on", note.
 * @param {RecordingView} r
 * @returns {Promise<LibraryItem>}
 */
async function withDetails(r) {
  /** @type {LibraryItem} */
  const item = { ...r };
  const d = r.details && library ? await library.openDetails(r.details, r.id) : null;
  if (d) {
    Object.assign(item, { title: d.title, recorded_on: d.recorded_on, note: d.note, fingerprint: d.fingerprint, name: d.name,
      duration: d.duration });
  }
  if (!item.title) item.title = 'Untitled recording';
  titles.set(item.id, item.title);
  return item;
}

/** @param {boolean} reset */
async function loadRecordings(reset) {
  if (reset) state.cursor = null;
  const q = state.cursor ? `?cursor=${encodeURIComponent(state.cursor)}` : '';
  /** @type {import('./api.js').RecordingPage<RecordingView>} */
  const page = await api.get(`/v1/recordings${q}`);
  const loaded = await Promise.all(page.items.map(withDetails));
  const ids = new Set(loaded.map((r) => r.id));
  items = (reset ? [] : items.filter((r) => !ids.has(r.id))).concat(loaded);
  state.cursor = page.next_cursor;
  $('#more').hidden = !page.next_cursor;
  renderLibrary();
}

/** The day a recording was made, as far as the page knows. @param {LibraryItem} r */
const recordedOn = (r) => r.recorded_on ?? isoDay(r.created_at);

/** The loaded recordings, newest "recorded on" first, under a heading per month. */
function renderLibrary() {
  const sorted = [...items].sort((a, b) => recordedOn(b).localeCompare(recordedOn(a)) || b.created_at - a.created_at);
  /** @type {HTMLElement[]} */
  const rows = [];
  let month = '';
  for (const r of sorted) {
    const m = recordedOn(r).slice(0, 7);
    if (m !== month) {
      month = m;
      const [y, mo] = m.split('-').map(Number);
      const label = new Date(y, mo - 1, 1).toLocaleDateString(undefined, { month: 'long', year: 'numeric' });
      rows.push(el('tr', { class: 'month' }, el('th', { colspan: 5, scope: 'colgroup' }, label)));
    }
    rows.push(recordingRow(r));
  }
  $('#recordings tbody').replaceChildren(...rows);
  $('#empty').hidden = items.length > 0;
  // An empty library shows only its invitation: no bare table, nothing to download.
  $('#recordings').hidden = items.length === 0;
  $('#everything').hidden = items.length === 0;
  for (const img of document.querySelectorAll('#recordings img.poster[data-pending]')) posters.observe(img);
}

/** Posters are fetched and decrypted when their row comes into view. */
const posters = new IntersectionObserver((entries) => {
  for (const e of entries) {
    if (!e.isIntersecting) continue;
    const img = /** @type {HTMLImageElement} */ (e.target);
    posters.unobserve(img);
    img.removeAttribute('data-pending');
    loadPoster(img).catch(() => { img.dataset.failed = 'true'; });
  }
}, { rootMargin: '200px' });

/** @param {HTMLImageElement} img */
async function loadPoster(img) {
  if (!library) return;
  const id = img.dataset.poster ?? '';
  const sealed = new Uint8Array(await (await api.request('GET', `/v1/recordings/${id}/poster`)).arrayBuffer());
  img.src = URL.createObjectURL(await library.openPoster(sealed));
  img.dataset.loaded = 'true';
}

/** @type {Record<string, string>} */
const EXTENSIONS = { 'audio/wav': '.wav', 'audio/x-wav': '.wav', 'audio/mpeg': '.mp3', 'audio/ogg': '.ogg', 'audio/mp4': '.m4a',
  'video/webm': '.webm', 'video/mp4': '.mp4', 'video/quicktime': '.mov', 'text/plain': '.txt', 'application/pdf': '.pdf',
  'image/jpeg': '.jpg', 'image/png': '.png', 'image/gif': '.gif', 'image/webp': '.webp', 'image/heic': '.heic', 'image/avif': '.avif' };

/** A photo, shown as an image, never as text (a non-browser client may have stored
 * an image as a letter). @param {RecordingView} r */
const isPhoto = (r) => r.kind === 'photo' || r.content_type.startsWith('image/');
/** What the page calls a recording's kind. @param {RecordingView} r */
const kindLabel = (r) => isPhoto(r) ? 'photo' : r.kind;
/** The verb of its first button. @param {RecordingView} r */
const openVerb = (r) => isPhoto(r) ? 'View' : r.kind === 'letter' ? 'Read' : 'Play';

/** A recording's title as a file name, with the extension of its type. @param {RecordingView} r */
const fileName = (r) => r.title.replace(/[^\w. ()-]/g, '_') + (EXTENSIONS[r.content_type] ?? '');

/**
 * Saves every recording of the family, decrypted here by the service worker, named by
 * its title: into a folder the person picks where the browser can (File System Access
 * API, one file at a time), else as one ZIP file the service worker streams into the
 * browser's downloads (most phones). Either way memory stays flat however large the
 * library.
 */
async function downloadEverything() {
  /** @type {((options?: object) => Promise<FileSystemDirectoryHandle>) | undefined} */
  const pick = /** @type {any} */ (window).showDirectoryPicker;
  /** @type {FileSystemDirectoryHandle | null} */
  let folder = null;
  if (typeof pick === 'function') {
    try {
      folder = await pick.call(window, { mode: 'readwrite', id: 'vault-everything' });
    } catch {
      return; // the person closed the folder picker
    }
  }
  const button = /** @type {HTMLButtonElement} */ ($('#download-all'));
  const status = $('#everything-status');
  button.disabled = true;
  try {
    while (state.cursor) await loadRecordings(false); // every recording, not only the loaded pages
    const all = [...items];
    const progress = /** @type {HTMLProgressElement} */ ($('#everything-progress'));
    progress.max = Math.max(1, all.length);
    progress.value = 0;
    progress.hidden = false;
    await tellServiceWorker();
    const taken = new Set(['not included.txt']); // the archive's list of what it left out
    const named = all.map((r) => {
      let name = fileName(r);
      for (let n = 2; taken.has(name.toLowerCase()); n += 1) name = fileName({ ...r, title: `${r.title} (${n})` });
      taken.add(name.toLowerCase());
      return { r, name };
    });
    if (folder) await saveIntoFolder(folder, named, progress, status);
    else await saveAsArchive(named, progress, status);
  } finally {
    button.disabled = false;
  }
}

/**
 * @param {FileSystemDirectoryHandle} folder
 * @param {{ r: LibraryItem, name: string }[]} named
 * @param {HTMLProgressElement} progress
 * @param {HTMLElement} status
 */
async function saveIntoFolder(folder, named, progress, status) {
  /** @type {string[]} */
  const failed = [];
  for (const [i, { r, name }] of named.entries()) {
    status.textContent = `Saving ${i + 1} of ${named.length}: ${r.title}…`;
    try {
      const res = await fetch(`/media/${r.id}?download`);
      if (!res.ok || !res.body) throw new Error(await res.text());
      const file = await (await folder.getFileHandle(name, { create: true })).createWritable();
      await res.body.pipeTo(file); // closes the file when the last byte is written, aborts it on an error
    } catch (e) {
      failed.push(r.title);
      console.warn(`Download everything: ${r.title}: ${e instanceof Error ? e.message : String(e)}`);
      await folder.removeEntry(name).catch(() => {});
    }
    progress.value = i + 1;
  }
  status.textContent = `Saved ${named.length - failed.length} of ${named.length} recordings into “${folder.name}”.`
    + (failed.length ? ` Not saved: ${failed.join(', ')}; try Download on those.` : '');
}

/**
 * The ZIP way: the service worker is told which recordings, under which names, and
 * the page navigates to the archive (a download: the page stays); the worker reports
 * its progress.
 * @param {{ r: LibraryItem, name: string }[]} named
 * @param {HTMLProgressElement} progress
 * @param {HTMLElement} status
 */
async function saveAsArchive(named, progress, status) {
  const nonce = randomHex();
  const entries = named.map(({ r, name }) => ({ id: r.id, name, lastModified: Date.parse(`${recordedOn(r)}T12:00:00Z`) }));
  /** @type {Promise<void>} */
  const finished = new Promise((resolve) => {
    /** @param {MessageEvent} e */
    const listen = (e) => {
      /** @type {FromServiceWorkerMessage} */
      const msg = e.data;
      if (msg?.type !== FromServiceWorker.archiveProgress || msg.nonce !== nonce) return;
      progress.value = msg.saved;
      const left = msg.missing.length ? ` Left out (they could not be decrypted): ${msg.missing.join(', ')}.` : '';
      if (msg.failed) {
        status.textContent = `The download stopped at ${msg.failed}. Try again, or use Download on each recording.`;
      } else if (msg.done) {
        status.textContent = `Saved ${msg.saved} of ${msg.total} recordings in “Vault recordings.zip” among your downloads.${left}`;
      } else {
        status.textContent = `Your browser is saving “Vault recordings.zip”: ${msg.saved} of ${msg.total} recordings so far…${left}`;
      }
      if (msg.done) {
        navigator.serviceWorker.removeEventListener('message', listen);
        resolve();
      }
    };
    navigator.serviceWorker.addEventListener('message', listen);
  });
  await postToServiceWorker({ type: ToServiceWorker.archive, nonce, entries });
  status.textContent = 'Your browser is saving “Vault recordings.zip”: a ZIP file with every recording, named by its title…';
  location.assign(`/media/archive?nonce=${nonce}`);
  await finished;
}

/** @param {LibraryItem} r */
function recordingRow(r) {
  const manager = state.role === 'owner' || state.role === 'admin';
  const name = fileName(r);
  return el('tr', { 'data-id': r.id },
    // On a phone the kind, size and date columns fold into a line under the title.
    el('td', {}, el('div', { class: 'with-poster' },
      r.has_poster ? el('img', { class: 'poster', alt: '', 'data-poster': r.id, 'data-pending': true, width: 64, height: 48 })
        : el('span', { class: `poster none ${kindLabel(r)}`, 'aria-hidden': 'true' }),
      el('span', {}, el('span', { class: 'title' }, r.title),
        el('span', { class: 'meta' }, [kindLabel(r), fmtDuration(r.duration), fmtSize(r.plaintext_size), fmtRecorded(r)]
          .filter(Boolean).join(' · ')),
        r.note ? el('span', { class: 'note-text' }, r.note) : null))),
    el('td', {}, [kindLabel(r), fmtDuration(r.duration)].filter(Boolean).join(' · ')),
    el('td', { class: 'num' }, fmtSize(r.plaintext_size)),
    el('td', {}, fmtRecorded(r)),
    el('td', { class: 'actions' },
      el('button', { type: 'button', onclick: () => play(r), 'aria-label': `${openVerb(r)} ${r.title}` }, openVerb(r)),
      // A navigation (not <a download>, which Chromium does not route through the
      // service worker) answered with Content-Disposition: attachment: the browser
      // streams the decrypted bytes to disk as the worker produces them.
      el('a', { class: 'button secondary', href: `/media/${r.id}?download&name=${encodeURIComponent(name)}`, onclick: followMediaLink, 'aria-label': `Download ${r.title} decrypted` }, 'Download'),
      (manager || state.family?.sharing.members_may_share) && r.status === 'committed'
        ? el('button', { type: 'button', class: 'secondary', onclick: () => openShare(r), 'aria-label': `Share ${r.title}` }, 'Share') : null,
      manager || r.created_by === state.user
        ? el('button', { type: 'button', class: 'danger', onclick: () => remove(r), 'aria-label': `Delete ${r.title}` }, 'Delete') : null));
}

// ---------- share links ----------
/** The owner's form for the family's rules on share links. @param {FamilyView} family */
function showSharing(family) {
  $('#sharing-form').hidden = state.role !== 'owner';
  $input('#sharing-members').checked = family.sharing.members_may_share;
  const days = /** @type {HTMLSelectElement} */ ($('#sharing-days'));
  if (![...days.options].some((o) => o.value === String(family.sharing.max_link_days))) {
    days.append(el('option', { value: family.sharing.max_link_days }, `${family.sharing.max_link_days} days`));
  }
  days.value = String(family.sharing.max_link_days);
}

/** @param {Event} e */
async function saveSharing(e) {
  e.preventDefault();
  /** @type {FamilyView} */
  const family = await api.json('PUT', '/v1/family/sharing', { members_may_share: $input('#sharing-members').checked,
    max_link_days: Number(/** @type {HTMLSelectElement} */ ($('#sharing-days')).value) });
  state.family = family;
  showSharing(family);
  announce(family.sharing.members_may_share ? 'Members may now share links too.' : 'Only owners and admins may share links now.');
}

/** The Share dialog, for `r` and any others of the library the sharer ticks. @param {LibraryItem} r */
function openShare(r) {
  $('#share-form').hidden = false;
  $('#share-result').hidden = true;
  $('#share-choices').replaceChildren(...items.filter((x) => x.status === 'committed').map((x) =>
    el('label', { class: 'inline' }, el('input', { type: 'checkbox', value: x.id, checked: x.id === r.id }), el('bdi', {}, x.title))));
  for (const sel of ['#share-name', '#share-views', '#share-passphrase']) $input(sel).value = '';
  $input('#share-download').checked = false;
  const most = state.family?.sharing.max_link_days ?? 30;
  const days = /** @type {HTMLSelectElement} */ ($('#share-days'));
  days.replaceChildren(...[1, 7, 30].filter((d) => d <= most).concat(most > 1 && most !== 7 && most !== 30 ? [most] : [])
    .sort((a, b) => a - b).map((d) => el('option', { value: d }, d === 1 ? '1 day' : `${d} days`)));
  days.value = String(Math.min(7, most));
  /** @type {HTMLDialogElement} */ ($('#share-dialog')).showModal();
  $input('#share-name').focus();
}

/**
 * A recording's poster, decrypted with the family's library key (the link carries it
 * sealed under its own key instead).
 * @param {string} id
 */
async function posterBase64(id) {
  if (!library) return undefined;
  const sealed = new Uint8Array(await (await api.request('GET', `/v1/recordings/${id}/poster`)).arrayBuffer());
  return base64(new Uint8Array(await (await library.openPoster(sealed)).arrayBuffer()));
}

/**
 * Makes the link: each chosen recording's data key, title, date and poster sealed here
 * under a key derived from a secret that only the link holds (links.js).
 * @param {Event} e
 */
async function makeShareLink(e) {
  e.preventDefault();
  const family = state.family?.id;
  const ids = Array.from(document.querySelectorAll('#share-choices input:checked'), (i) => /** @type {HTMLInputElement} */ (i).value);
  const chosen = items.filter((x) => ids.includes(x.id));
  if (!family || chosen.length === 0) return showAlert('Choose at least one recording to share.');
  const name = $input('#share-name').value.trim();
  const passphrase = $input('#share-passphrase').value;
  const views = $input('#share-views').value;
  const days = Number(/** @type {HTMLSelectElement} */ ($('#share-days')).value);
  const button = /** @type {HTMLButtonElement} */ ($('#share-make'));
  button.disabled = true;
  announce('Making the link…');
  const { id, secret, kdf } = newLink();
  const key = await wrappingKey(id, secret, passphrase ? { passphrase, kdf } : null);
  try {
    const recordings = [];
    for (const r of chosen) {
      /** @type {{ data_key: string }} */
      const release = await api.json('POST', `/v1/recordings/${r.id}/key`, {});
      const full = r.has_poster ? await posterBase64(r.id) : undefined;
      // A link item holds at most ~96 KiB: a poster larger than 64 KiB stays out.
      const poster = full && full.length <= 88_000 ? full : undefined;
      const item = { recording: r.id, data_key: release.data_key, title: r.title, recorded_on: recordedOn(r), kind: kindLabel(r),
        name: fileName(r), duration: r.duration, poster };
      recordings.push({ recording_id: r.id, sealed: await sealItem(key, id, family, item) });
      item.data_key = release.data_key = '';
    }
    /** @type {ShareLinkView} */
    const made = await api.json('POST', '/v1/family/links', { id, name, expires_in_days: days, max_views: views ? Number(views) : undefined,
      allow_download: $input('#share-download').checked, passphrase: passphrase ? kdf : undefined, recordings });
    $input('#share-link').value = `${location.origin}/share.html#${id}.${base64url(secret)}`;
    $('#share-for').textContent = name;
    const limit = made.max_views ? `, for ${made.max_views} opening${made.max_views === 1 ? '' : 's'}` : '';
    $('#share-until').textContent = `Works until ${fmtLongDay(made.expires_at)}${limit}.`
      + (passphrase ? ' It also needs the passphrase: tell it to them another way than the link.' : '');
    $('#share-form').hidden = true;
    $('#share-result').hidden = false;
    $input('#share-link').focus();
    $input('#share-link').select();
    announce('The link is ready.');
    loadLinks().catch(fail);
  } finally {
    key.fill(0);
    secret.fill(0);
    button.disabled = false;
  }
}

/** What a link's state says to its family. @param {ShareLinkView} l */
const linkState = (l) => l.state === 'active' ? `works until ${fmtLongDay(l.expires_at)}`
  : l.state === 'revoked' ? 'withdrawn' : l.state === 'expired' ? `expired on ${fmtLongDay(l.expires_at)}`
  : l.state === 'used-up' ? 'opened as often as it allows' : 'what it showed was erased';

/** "Who opened it": a link's openings from the audit log, read when asked for. @param {ShareLinkView} l */
function openingsOf(l) {
  const list = el('ul', { class: 'openings' });
  const details = /** @type {HTMLDetailsElement} */ (el('details', {}, el('summary', {}, 'Who opened it'), list));
  details.addEventListener('toggle', () => {
    if (!details.open) return;
    api.get(`/v1/family/links/${l.id}/openings`).then((/** @type {ShareLinkOpening[]} */ rows) => {
      list.replaceChildren(...(rows.length ? rows.map((o) => el('li', {},
        `${fmtDate(o.at)} · ${o.ip} · ${o.user_agent || 'unknown browser'}${o.outcome === 'success' ? '' : ' · refused'}`))
        : [el('li', {}, 'Nobody yet.')]));
    }, fail);
  });
  return details;
}

async function loadLinks() {
  /** @type {ShareLinkView[]} */
  const list = await api.get('/v1/family/links');
  const mine = (/** @type {ShareLinkView} */ l) => l.created_by === state.user || state.role === 'owner' || state.role === 'admin';
  $('#links').replaceChildren(...list.map((l) => {
    const opened = l.views === 0 ? 'not opened yet' : `opened ${l.views === 1 ? 'once' : `${l.views} times`}`;
    const meta = `${l.recordings} recording${l.recordings === 1 ? '' : 's'} · ${linkState(l)} · ${opened}`
      + `${l.max_views ? ` of ${l.max_views}` : ''}${l.passphrase ? ' · passphrase' : ''}${l.allow_download ? ' · may save copies' : ''}`;
    const withdraw = () => api.request('DELETE', `/v1/family/links/${l.id}`).then(loadLinks)
      .then(() => announce(`The link for ${l.name} no longer works.`)).catch(fail);
    return el('li', { 'data-id': l.id, 'data-state': l.state },
      el('div', {}, el('bdi', { class: 'title' }, l.name), el('span', { class: 'meta' }, meta), openingsOf(l)),
      l.state === 'active' && mine(l)
        ? el('button', { type: 'button', class: 'secondary', 'aria-label': `Withdraw the link for ${l.name}`, onclick: withdraw }, 'Withdraw')
        : null);
  }));
  $('#links-wrap').hidden = list.length === 0;
}

/** When a recording was made: its "recorded on" day. @param {LibraryItem} r */
const fmtRecorded = (r) => {
  const [y, m, d] = recordedOn(r).split('-').map(Number);
  return new Date(y, m - 1, d).toLocaleDateString(undefined, { dateStyle: 'medium' });
};

/** A long date without the time: when the trash erases a recording. @param {number} ms */
const fmtLongDay = (ms) => new Date(ms).toLocaleDateString(undefined, { dateStyle: 'long' });

/**
 * Deleting moves a recording to the trash (restorable until its end date): no
 * confirmation to click through, an Undo instead.
 * @param {RecordingView} r
 */
async function remove(r) {
  try {
    /** @type {RecordingView} */
    const trashed = await api.json('POST', `/v1/recordings/${r.id}/trash`, {});
    items = items.filter((i) => i.id !== r.id);
    renderLibrary();
    const until = trashed.trash ? fmtLongDay(trashed.trash.erase_after) : '';
    const undo = el('button', { type: 'button', class: 'secondary', id: 'undo-trash' }, 'Undo');
    undo.addEventListener('click', () => restore(r).catch(fail));
    $('#notice').replaceChildren(`“${r.title}” is in the trash until ${until}. `, undo);
    $('#notice').hidden = false;
    undo.focus();
    announce(`${r.title} moved to the trash`);
  } catch (e) {
    fail(e);
  }
}

/** Brings a recording back from the trash. @param {RecordingView} r */
async function restore(r) {
  await api.json('POST', `/v1/recordings/${r.id}/restore`, {});
  $('#notice').replaceChildren(`“${r.title}” is back in your recordings.`);
  $('#notice').hidden = false;
  announce(`${r.title} restored`);
  if (!$('#view-trash').hidden) await loadTrash();
  await loadRecordings(true);
}

/** Erases a recording in the trash now, and hands over the signed receipt. @param {RecordingView} r */
async function eraseNow(r) {
  if (!confirm(`Delete “${r.title}” forever? Its key is destroyed now: nobody, Vault included, can ever open it again.`)) return;
  // The answer is the service's signed receipt of the erasure: the family keeps it.
  const receipt = await (await api.request('DELETE', `/v1/recordings/${r.id}`)).json();
  document.querySelector(`#trash-list li[data-id="${CSS.escape(r.id)}"]`)?.remove();
  const href = URL.createObjectURL(new Blob([JSON.stringify(receipt, null, 2)], { type: 'application/json' }));
  const name = `deletion-receipt-${r.title.replace(/[^\w. -]/g, '_')}.json`;
  $('#notice').replaceChildren(`“${r.title}” was deleted forever; its keys are destroyed. `,
    el('a', { href, download: name, id: 'receipt-link' }, 'Download the signed receipt'),
    ' (proof of the deletion, checked with vault verify-receipt).');
  $('#notice').hidden = false;
  announce(`${r.title} deleted forever`);
  await loadTrash();
}

/** The trash: what is there, who put it there, and when it will be erased. */
async function loadTrash() {
  /** @type {RecordingView[]} */
  const trashed = await Promise.all((/** @type {RecordingView[]} */ (await api.get('/v1/trash'))).map(withDetails));
  const manager = state.role === 'owner' || state.role === 'admin';
  $('#trash-list').replaceChildren(...trashed.map((r) => {
    const t = /** @type {import('./api.js').TrashView} */ (r.trash);
    const mine = manager || r.created_by === state.user;
    return el('li', { 'data-id': r.id },
      el('div', {}, el('span', { class: 'title' }, r.title),
        el('span', { class: 'meta' }, 'Deleted by ', el('bdi', {}, t.trashed_by), ` on ${fmtLongDay(t.trashed_at)} · `,
          el('strong', { class: 'erase-after' }, `erased on ${fmtLongDay(t.erase_after)}`))),
      mine ? el('div', { class: 'actions' },
        el('button', { type: 'button', onclick: () => restore(r).catch(fail), 'aria-label': `Restore ${r.title}` }, 'Restore'),
        el('button', { type: 'button', class: 'danger', onclick: () => eraseNow(r).catch(fail), 'aria-label': `Delete forever: ${r.title}` }, 'Delete forever'))
        : null);
  }));
  $('#trash-empty').hidden = trashed.length > 0;
}

// ---------- playback ----------
/** @param {string} message */
function playerError(message) {
  const p = $('#player-error');
  p.textContent = message;
  p.hidden = false;
  $('#player-body').replaceChildren();
}

/** The control that opened the player: focus goes back there when it closes. */
/** @type {HTMLElement | null} */
let playerOpener = null;

/** Stops and hides the player (its media element is removed, so nothing plays on).
 * @param {{ restoreFocus?: boolean }} [options] */
function closePlayer({ restoreFocus = true } = {}) {
  if ($('#player').hidden) return;
  $('#player-body').replaceChildren();
  $('#player').hidden = true;
  $('#details-form').hidden = true;
  editing = null;
  if (restoreFocus && playerOpener?.isConnected) playerOpener.focus();
  playerOpener = null;
}

/** @param {LibraryItem} r */
async function play(r) {
  showDetailsForm(r);
  playerOpener = document.activeElement instanceof HTMLElement && document.activeElement !== document.body ? document.activeElement : null;
  $('#player').hidden = false;
  $('#player-error').hidden = true;
  $('#player-title').textContent = r.title;
  const body = $('#player-body');
  body.replaceChildren();
  await tellServiceWorker();
  const src = `/media/${r.id}`;
  if (isPhoto(r)) {
    const img = el('img', { src, id: 'photo', alt: r.title });
    img.addEventListener('error', () => playerError('This photo cannot be shown in this browser (or could not be decrypted); Download saves it.'));
    body.append(img);
  } else if (r.kind === 'letter') {
    const res = await fetch(src);
    if (!res.ok) {
      if (res.headers.get(PLAYBACK_ERROR_HEADER) === 'unauthenticated') return signOut('Your session has expired. Please sign in again.');
      return playerError(await res.text());
    }
    if (r.content_type === 'application/pdf') {
      body.append(el('p', {}, 'This letter is a PDF: ', el('a', { href: `${src}?download&name=${encodeURIComponent(`${r.title}.pdf`)}`, onclick: followMediaLink }, 'download it decrypted'), ' to read it.'));
    } else {
      body.append(el('pre', { id: 'letter', tabindex: '0' }, await res.text()));
    }
  } else {
    const media = el(r.kind === 'video' ? 'video' : 'audio', { controls: true, preload: 'metadata', src, id: 'media', 'aria-label': r.title });
    media.addEventListener('error', () => {
      if ($('#player-error').hidden) playerError('This recording cannot be played in this browser (or could not be decrypted).');
    });
    media.addEventListener('loadedmetadata', () => {
      // Sound but no picture: a video format this browser cannot draw (an iPhone's HEVC, usually).
      if (media instanceof HTMLVideoElement && media.videoWidth === 0) {
        playerError('This video plays without its picture in this browser: it is probably in HEVC, the format iPhones record in. '
          + 'Download saves it, to watch on the phone or computer it came from.');
      }
    });
    body.append(media);
  }
  $('#player').scrollIntoView();
  $('#player-title').focus();
}

/** The recording whose details the form edits. @type {LibraryItem | null} */
let editing = null;

/** Title, "recorded on" and note, editable by the recording's creator, owners and admins.
 * @param {LibraryItem} r */
function showDetailsForm(r) {
  const mayEdit = !!library && (state.role === 'owner' || state.role === 'admin' || r.created_by === state.user);
  editing = mayEdit ? r : null;
  $('#details-form').hidden = !mayEdit;
  if (!mayEdit) return;
  $input('#details-title').value = r.title;
  $input('#details-date').value = recordedOn(r);
  /** @type {HTMLTextAreaElement} */ ($('#details-note')).value = r.note ?? '';
}

async function saveDetailsForm() {
  const r = editing;
  if (!r || !library) return;
  const title = $input('#details-title').value.trim();
  const recorded_on = $input('#details-date').value;
  const note = /** @type {HTMLTextAreaElement} */ ($('#details-note')).value.trim();
  if (!title || !/^\d{4}-\d{2}-\d{2}$/.test(recorded_on)) return showAlert('A title and a date, please.');
  const details = { recording: r.id, title, recorded_on, note,
    ...(r.fingerprint ? { fingerprint: r.fingerprint } : {}), ...(r.name ? { name: r.name } : {}),
    ...(r.duration !== undefined ? { duration: r.duration } : {}) };
  await putSealed(r.id, 'details', await library.sealDetails(details));
  Object.assign(r, { title, recorded_on, note });
  titles.set(r.id, title);
  $('#player-title').textContent = title;
  renderLibrary();
  announce(`Saved: ${title}`);
}

// ---------- uploads ----------
/**
 * One file on its way: queued, running, paused or finished.
 * @typedef {object} UploadJob
 * @property {HTMLLIElement} li its line in the list of uploads
 * @property {File} file
 * @property {string} title
 * @property {RecordingKind} kind
 * @property {string} [id] the recording, once created (or the interrupted one to resume)
 * @property {boolean} [paused]
 * @property {boolean} [cancelled] Cancel was chosen: discarded once the worker stops
 * @property {Promise<void>} [sealed] its details and poster on their way to the server
 * @property {boolean} [resumeAfterPause] its person signed in again before the pause took effect
 * @property {string} [supersedes] an interrupted upload no file can resume (see `because`),
 *   discarded once this one is stored
 */

/** @type {Worker | null} */
let worker = null;
/** @type {UploadJob[]} */
const queue = [];
/** @type {UploadJob | null} */
let running = null;


/**
 * @param {File} file
 * @param {string} title
 */
function uploadItem(file, title) {
  const li = el('li', { 'data-name': file.name },
    el('strong', {}, title), ' ', el('span', { class: 'note' }, fmtSize(file.size)),
    // One bar: what is stored safely (each part is encrypted just before it is sent).
    el('label', {}, el('span', { class: 'visually-hidden' }, `Upload of ${title}`),
      el('progress', { class: 'up', max: file.size || 1, value: 0 })),
    el('span', { class: 'state' }, 'Waiting…'), ' ',
    el('button', { type: 'button', class: 'secondary pause', 'aria-label': `Pause ${title}` }, 'Pause'),
    el('button', { type: 'button', class: 'danger cancel', 'aria-label': `Cancel ${title}` }, 'Cancel'));
  $('#uploads').append(li);
  return li;
}

/**
 * @param {HTMLElement} li
 * @param {string} text
 * @param {string} [cls]
 */
function setState(li, text, cls) {
  const s = /** @type {HTMLElement} */ (li.querySelector('.state'));
  s.textContent = text;
  s.className = `state ${cls ?? ''}`;
}

/** @param {ToUploaderMessage} message */
function toUploader(message) {
  worker?.postMessage(message);
}

/** @param {UploadJob} job */
function enqueue(job) {
  if (job.id) job.li.dataset.id = job.id;
  const button = /** @type {HTMLButtonElement} */ (job.li.querySelector('.pause'));
  button.onclick = () => {
    if (running === job) {
      toUploader({ type: ToUploader.pause });
    } else if (job.paused) {
      job.paused = false;
      button.textContent = 'Pause';
      button.setAttribute('aria-label', `Pause ${job.title}`);
      setState(job.li, 'Waiting…');
      queue.push(job);
      pump();
    } else {
      const i = queue.indexOf(job);
      if (i >= 0) queue.splice(i, 1);
      job.paused = true;
      button.textContent = 'Resume';
      button.setAttribute('aria-label', `Resume ${job.title}`);
      setState(job.li, 'Paused');
    }
  };
  const cancel = /** @type {HTMLButtonElement} */ (job.li.querySelector('.cancel'));
  cancel.onclick = () => {
    if (!confirm(`Cancel the upload of "${job.title}"? What is uploaded so far is deleted.`)) return;
    job.cancelled = true;
    if (running === job) return toUploader({ type: ToUploader.pause }); // discarded once it stops
    const i = queue.indexOf(job);
    if (i >= 0) queue.splice(i, 1);
    discard(job).catch(fail);
  };
  queue.push(job);
  pump();
}

/**
 * Deletes what the server holds of an unfinished upload and this device's record of
 * it, and its line if it has one on the page.
 * @param {{ id?: string, title: string, li?: HTMLElement }} job
 * @param {string} [said] what screen readers are told, if not that it was cancelled
 */
async function discard(job, said = `The upload of ${job.title} was cancelled and deleted.`) {
  if (job.id) {
    try {
      await api.request('DELETE', `/v1/recordings/${job.id}`);
    } catch (e) {
      // Already gone (expired, or deleted elsewhere): nothing left to delete there.
      if (!(e instanceof ApiError && e.code === 'not-found')) throw e;
    }
    await pending.remove(job.id);
  }
  job.li?.remove();
  announce(said);
}

/**
 * Deletes an interrupted upload no file can resume (`UploadJob.supersedes`), if it is
 * still one: a tab of an older page may have committed it meanwhile.
 * @param {string} id
 * @param {string} title
 */
async function discardSuperseded(id, title) {
  try {
    await api.get(`/v1/recordings/${id}/upload`);
  } catch (e) {
    // Gone already (404), or complete (409): nothing to discard.
    if (e instanceof ApiError && (e.status === 404 || e.status === 409)) return;
    throw e;
  }
  await discard({ id, title }, `The interrupted upload of ${title} was discarded.`);
}

function pump() {
  const job = running ? undefined : queue.shift();
  if (!job) return;
  running = job;
  worker ??= new Worker('/upload-worker.js', { type: 'module' });
  worker.onmessage = (/** @type {MessageEvent<FromUploaderMessage>} */ e) => onWorker(job, e.data);
  worker.onerror = (e) => onWorker(job, { type: FromUploader.error, id: job.id, message: e.message || 'The upload worker failed.', code: 'failed' });
  setState(job.li, 'Encrypting…');
  const base = { token: state.token ?? '', file: job.file, mode: cryptoModeParam, owner: identityKey() };
  toUploader(job.id ? { ...base, type: ToUploader.resume, id: job.id } : { ...base, type: ToUploader.start, title: job.title, kind: job.kind });
}

/**
 * @param {UploadJob} job
 * @param {FromUploaderMessage} m
 */
function onWorker(job, m) {
  if (m.type === FromUploader.needToken) {
    renewToken().then((ok) => toUploader({ type: ToUploader.token, token: ok ? state.token : null }));
    return;
  }
  const { li } = job;
  const up = /** @type {HTMLProgressElement} */ (li.querySelector('.up'));
  if (m.type === FromUploader.created) {
    job.id = m.id;
    li.dataset.id = m.id;
    job.sealed = saveDetails(job, m.id);
    if (m.replaces) {
      // The file chosen to resume an upload was not that upload's file, or this
      // device's record of the upload could not tell.
      li.dataset.replaces = m.replaces;
      // A record that cannot tell would refuse every file: that upload can never go on,
      // so it is discarded once this one is stored.
      if (m.because === 'unverifiable') job.supersedes = m.replaces;
      const note = m.because === 'unverifiable'
        ? 'This device cannot check that this is the file the interrupted upload started with (its record of that upload '
          + 'is from an older version of Vault): it is uploaded as a new recording, and the interrupted one is discarded once this one is stored.'
        : 'This is not the file the interrupted upload started with: it is uploaded as a new recording '
          + '(the interrupted one stays listed, for its own file).';
      li.append(el('p', { class: 'note' }, note));
      announce(`${job.title}: ${note}`);
    }
  } else if (m.type === FromUploader.progress) {
    up.value = m.uploaded;
    setState(li, `${fmtSize(m.uploaded)} of ${fmtSize(m.total)} stored, encrypted`);
    li.dataset.uploaded = String(m.uploaded);
    // Which engine sealed the frames, and how many each (tests check the fallback).
    li.dataset.engine = m.engine;
    li.dataset.webcryptoFrames = String(m.frames.webcrypto);
    li.dataset.wasmFrames = String(m.frames.wasm);
    return;
  } else if (m.type === FromUploader.retrying) {
    setState(li, m.message, 'error');
    return;
  }
  if (m.type === FromUploader.done || m.type === FromUploader.error || m.type === FromUploader.paused) {
    running = null;
    const button = /** @type {HTMLButtonElement} */ (li.querySelector('.pause'));
    if (job.cancelled) {
      // However the worker stopped (paused as asked, finished before the cancel reached
      // it, or failed on the way), a cancelled upload is deleted.
      discard(job).catch(fail);
    } else if (m.type === FromUploader.done) {
      up.value = job.file.size || 1;
      setState(li, 'Stored, encrypted.', 'done');
      li.dataset.done = 'true';
      button.remove();
      li.querySelector('.cancel')?.remove();
      // Folded to one line: the recording is in the library now.
      li.querySelectorAll('label').forEach((l) => l.remove());
      li.querySelector('.state')?.before(' · ');
      li.classList.add('folded');
      $('#uploads-clear').hidden = false;
      announce(`${job.title} uploaded`);
      // A resumed upload (no `created` in this page) gets its details now.
      (job.sealed ?? saveDetails(job, job.id ?? '')).then(() => loadRecordings(true)).catch(fail);
      const superseded = job.supersedes;
      (superseded ? discardSuperseded(superseded, job.title) : Promise.resolve()).then(() => loadInterrupted()).catch(fail);
    } else if (m.type === FromUploader.paused && job.resumeAfterPause) {
      job.resumeAfterPause = false;
      queue.unshift(job);
    } else if (m.type === FromUploader.paused) {
      job.paused = true;
      button.textContent = 'Resume';
      button.setAttribute('aria-label', `Resume ${job.title}`);
      setState(li, 'Paused');
    } else {
      if (m.code === 'unauthenticated') fail(new ApiError(401, m.message, m.code));
      setState(li, m.message, 'error');
      li.dataset.error = m.message;
      li.dataset.errorCode = m.code;
      button.remove();
    }
    pump();
  }
}

/**
 * Stores a recording's sealed details or poster.
 * @param {string} id
 * @param {'details' | 'poster'} piece
 * @param {Uint8Array<ArrayBuffer>} body
 */
function putSealed(id, piece, body) {
  return api.request('PUT', `/v1/recordings/${id}/${piece}`, { body, headers: { 'content-type': 'application/octet-stream' } });
}

/**
 * Seals a new recording's details (title, "recorded on" from the file's date, its
 * fingerprint) and its poster, and stores both. A poster that cannot be made is left
 * out; the upload never waits on these.
 * @param {UploadJob} job
 * @param {string} id
 */
async function saveDetails(job, id) {
  if (!library || !id) return;
  const lib = library;
  const duration = await mediaDuration(job.file);
  const details = { recording: id, title: job.title, recorded_on: isoDay(job.file.lastModified || Date.now()), note: '',
    name: job.file.name, fingerprint: await fingerprint(job.file), ...(duration !== undefined ? { duration } : {}) };
  try {
    await putSealed(id, 'details', await lib.sealDetails(details));
    const started = performance.now();
    const poster = await makePoster(job.file);
    job.li.dataset.posterMs = String(Math.round(performance.now() - started));
    if (poster) {
      await putSealed(id, 'poster', await lib.sealPoster(poster));
      job.li.dataset.poster = 'true';
    }
  } catch (e) {
    // The recording is safe without them; say so once, quietly.
    if (e instanceof ApiError && e.code === 'unauthenticated') throw e;
    job.li.dataset.detailsError = e instanceof Error ? e.message : String(e);
  } finally {
    job.li.dataset.sealed = 'true';
  }
}

/**
 * Files that look like ones already in the library (same size, same first and last
 * MiB, compared in this browser only), with the recording each matches.
 * @param {File[]} files
 */
async function duplicates(files) {
  const known = new Map(items.filter((r) => r.fingerprint).map((r) => [r.fingerprint, r]));
  if (known.size === 0) return [];
  const found = [];
  for (const file of files) {
    const match = known.get(await fingerprint(file));
    if (match) found.push({ file, match });
  }
  return found;
}

/** @param {Iterable<File>} files */
async function addFiles(files) {
  const chosen = [...files];
  const twice = await duplicates(chosen).catch(() => []);
  for (const { file, match } of twice) {
    const again = confirm(`“${file.name}” looks like “${match.title}”, already in the library (${fmtRecorded(match)}). Upload it again?`);
    if (!again) chosen.splice(chosen.indexOf(file), 1);
  }
  addChosen(chosen);
}

/** @param {Iterable<File>} files */
function addChosen(files) {
  for (const file of files) {
    const title = file.name.replace(/\.[^.]+$/, '') || file.name;
    enqueue({ li: uploadItem(file, title), file, title, kind: kindOf(file) });
  }
}

async function loadInterrupted() {
  // Only this identity's records: another person's on a shared device are not shown, nor touched.
  const mine = (await pending.all()).filter((p) => p.owner === identityKey());
  // Uploads this tab holds (queued, running or paused) have their own card and controls.
  const held = (/** @type {string} */ id) => document.querySelector(`#uploads li[data-id="${CSS.escape(id)}"]:not([data-done]):not([data-error])`);
  const entries = mine.filter((p) => !queue.some((j) => j.id === p.id) && running?.id !== p.id && !held(p.id));
  const list = $('#interrupted-list');
  list.replaceChildren();
  for (const p of entries) {
    /** @type {UploadStatus} */
    let status;
    try {
      status = await api.get(`/v1/recordings/${p.id}/upload`);
    } catch (e) {
      // Gone, completed, or expired: nothing left to resume.
      if (e instanceof ApiError && (e.code === 'not-found' || e.code === 'conflict' || e.code === 'expired')) {
        await pending.remove(p.id);
        continue;
      }
      throw e;
    }
    const input = el('input', { type: 'file', id: `resume-${p.id}`, class: 'visually-hidden' });
    input.addEventListener('change', () => {
      const file = input.files?.[0];
      if (!file) return;
      li.remove();
      enqueue({ li: uploadItem(file, p.title), file, title: p.title, kind: p.kind, id: p.id });
    });
    const li = el('li', { 'data-id': p.id },
      el('strong', {}, p.title), ` — ${status.parts.length} of ${p.parts} parts stored. `,
      el('label', { class: 'button', for: `resume-${p.id}` }, `Choose "${p.name}" again to resume`), input, ' ',
      el('button', { type: 'button', class: 'danger discard', 'aria-label': `Discard ${p.title}`, onclick: () => {
        if (!confirm(`Discard the interrupted upload of "${p.title}"? What is uploaded so far is deleted.`)) return;
        discard({ id: p.id, title: p.title, li }).then(() => { $('#interrupted').hidden = $('#interrupted-list').children.length === 0; }, fail);
      } }, 'Discard'));
    list.append(li);
  }
  $('#interrupted').hidden = list.children.length === 0;
}

// ---------- members and audit ----------
/** Names the family gave its members (from their invitations), by user id. @type {Map<string, string>} */
const names = new Map();

/** A person as the page shows them: their name and, quieter, their user id.
 * @param {string} userId */
function person(userId) {
  const name = names.get(userId);
  if (!name) return el('bdi', {}, userId);
  return el('span', { class: 'person' }, el('bdi', {}, name), ' ', el('bdi', { class: 'note' }, `(${userId})`));
}

/** A folded form to name a member as the family calls them. @param {MemberView} m */
function renameForm(m) {
  const input = el('input', { maxlength: 100, value: m.display_name ?? '', 'aria-label': `Name for ${m.user_id}`, autocomplete: 'off' });
  const form = el('form', { class: 'rename' }, input, el('button', { type: 'submit', class: 'secondary' }, 'Save'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = /** @type {HTMLInputElement} */ (input).value.trim();
    api.json('PUT', `/v1/family/members/${encodeURIComponent(m.user_id)}/name`, { name })
      .then(() => { if (name) names.set(m.user_id, name); else names.delete(m.user_id); announce(`Saved the name of ${m.user_id}`); return loadMembers(); })
      .catch(fail);
  });
  return el('details', { class: 'rename' }, el('summary', {}, m.display_name ? 'Rename' : 'Add a name'), form);
}

async function loadMembers() {
  /** @type {MemberView[]} */
  const members = await api.get('/v1/family/members');
  for (const m of members) if (m.display_name) names.set(m.user_id, m.display_name);
  loadInvitations().catch(fail);
  loadFamilyStudios().catch(fail);
  const body = $('#members tbody');
  body.replaceChildren();
  for (const m of members) {
    const select = el('select', { 'aria-label': `Role of ${m.user_id}` }, ...['member', 'admin', 'owner'].map((r) => el('option', { selected: r === m.role }, r)));
    select.addEventListener('change', () => api.json('PATCH', `/v1/family/members/${encodeURIComponent(m.user_id)}`, { role: select.value })
      .then(() => announce(`${m.user_id} is now ${select.value}`), (e) => { select.value = m.role; fail(e); }));
    body.append(el('tr', { 'data-user': m.user_id },
      el('td', {}, person(m.user_id), renameForm(m)), el('td', {}, select), el('td', {}, fmtDate(m.added_at)),
      el('td', {}, el('button', { type: 'button', class: 'danger', 'aria-label': `Remove ${m.user_id}`, onclick: async () => {
        if (!confirm(`Remove ${m.user_id} from the family?`)) return;
        try { await api.request('DELETE', `/v1/family/members/${encodeURIComponent(m.user_id)}`); await loadMembers(); } catch (e) { fail(e); }
      } }, 'Remove'))));
  }
}

/** The actor of what the service's own jobs did (the trash, the purge). */
const SYSTEM_ACTOR = 'system';

/** Entries that accompany others (a key release comes with every play) or record
 * machinery: shown only when asked for. */
const TECHNICAL = new Set(['key.released', 'upload.status_read', 'upload.part_stored', 'audit.read', 'recording.replicated', 'recording.read',
  'library.key_released', 'recording.details_set', 'recording.poster_set']);

/** Which filter of "What" an action belongs to. @type {Record<string, string>} */
const KIND_OF_ACTION = {
  'recording.downloaded': 'watch', 'family.exported': 'watch', 'family.export_started': 'watch',
  'recording.created': 'upload', 'recording.committed': 'upload', 'upload.plaintext_sent': 'upload', 'upload.expired': 'upload',
  'recording.deleted': 'delete', 'recording.purged': 'delete', 'family.erased': 'delete',
  'recording.trashed': 'delete', 'recording.restored': 'delete',
  'member.invited': 'members', 'member.role_changed': 'members', 'member.removed': 'members', 'family.created': 'members',
  'member.joined': 'members', 'invitation.created': 'members', 'invitation.revoked': 'members', 'member.renamed': 'members',
  'delivery.created': 'members', 'delivery.invited': 'members', 'studio.invited': 'members', 'studio.invitation_revoked': 'members', 'delivery.accepted': 'members', 'delivery.handed_off': 'members',
  'auth.failed': 'security', 'authz.denied': 'security',
  'link.created': 'sharing', 'link.revoked': 'sharing', 'link.opened': 'sharing', 'link.played': 'sharing',
};

/** Titles of recordings by id, as far as this page has loaded them. @type {Map<string, string>} */
const titles = new Map();

/**
 * What an audit entry says, in a sentence a parent reads (the actor is shown beside it).
 * @param {import('./api.js').AuditEntry} a
 * @returns {(string | Node)[]}
 */
function auditSentence(a) {
  /** @type {Record<string, unknown>} */
  let m = {};
  try { m = JSON.parse(a.metadata || '{}') ?? {}; } catch { /* shown without details */ }
  const title = titles.get(a.target);
  const rec = () => title ? ['“', el('bdi', {}, title), '”'] : ['a recording ', el('bdi', { class: 'note' }, a.target.slice(0, 8))];
  const who = () => person(a.target);
  if (a.outcome !== 'success' && a.action !== 'auth.failed') {
    return ['was refused: ', a.action.replace(/[._]/g, ' '), a.target ? ' (' : '', a.target ? el('bdi', {}, a.target) : '', a.target ? ')' : ''];
  }
  switch (a.action) {
    case 'recording.downloaded':
      return m.purpose === 'play' ? ['played ', ...rec()] : m.purpose === 'download' ? ['saved a decrypted copy of ', ...rec()] : ['read ', ...rec()];
    case 'recording.created': return ['started uploading ', ...rec()];
    case 'recording.committed': return ['uploaded ', ...rec()];
    case 'upload.plaintext_sent': return ['sent ', ...rec(), ' to be encrypted by the server'];
    case 'upload.expired': return ['an unfinished upload expired: ', ...rec()];
    case 'recording.trashed': return ['moved ', ...rec(), ' to the trash'];
    case 'recording.restored': return ['restored ', ...rec(), ' from the trash'];
    case 'recording.deleted': return m.from_trash && a.actor === SYSTEM_ACTOR ? ['erased ', ...rec(), ' when its time in the trash ended']
      : m.from_trash ? ['deleted ', ...rec(), ' forever, from the trash'] : ['deleted ', ...rec()];
    case 'recording.purged': return ['the stored copies of ', ...rec(), ' were removed'];
    case 'member.invited': return ['added ', who(), ` as ${String(m.role ?? 'member')}`];
    case 'member.joined': return [`joined as ${String(m.role ?? 'member')} with an invitation`,
      ...(typeof m.invited_by === 'string' ? [' from ', person(m.invited_by)] : [])];
    case 'invitation.created': return ['invited ', el('bdi', {}, String(m.name ?? 'someone')), ` as ${String(m.role ?? 'member')} (a link)`];
    case 'invitation.revoked': return ['withdrew an invitation link'];
    case 'link.created': {
      const n = Array.isArray(m.recordings) ? m.recordings.length : 0;
      return [`shared ${n === 1 ? 'a recording' : `${n} recordings`} with a link for `, el('bdi', {}, String(m.name ?? 'someone'))];
    }
    case 'link.revoked': return ['withdrew a share link'];
    case 'link.opened': return ['opened the link for ', el('bdi', {}, String(m.name ?? 'someone'))];
    case 'link.played': return ['played ', ...rec(), ' through the link for ', el('bdi', {}, String(m.name ?? 'someone'))];
    case 'member.renamed': return typeof m.name === 'string' ? ['named ', el('bdi', {}, a.target), ' “', el('bdi', {}, m.name), '”'] : ['cleared the name of ', el('bdi', {}, a.target)];
    case 'member.role_changed': return ['made ', who(), ` ${String(m.to ?? '')}`.trimEnd() + (m.from ? ` (was ${String(m.from)})` : '')];
    case 'member.removed': return a.target === a.actor ? ['left the family'] : ['removed ', who(), ' from the family'];
    case 'family.created': return ['created the family vault'];
    case 'delivery.created': return m.invitation
      ? ['(the studio ', el('bdi', {}, String(m.studio_name ?? m.studio ?? '')), ') started delivering into this vault, on the family’s invitation']
      : ['(the studio ', el('bdi', {}, String(m.studio_name ?? m.studio ?? '')), ') made this family vault for its customer'];
    case 'studio.invited': return ['invited the studio ', el('bdi', {}, String(m.name ?? '')), ' to deliver into this vault'];
    case 'studio.invitation_revoked': return ['withdrew an invitation to a studio'];
    case 'delivery.invited': return [m.again ? '(a studio) sent a new invitation to the parents' : '(a studio) invited the parents'];
    case 'delivery.accepted': return ['accepted the studio’s delivery and became an owner'];
    case 'delivery.handed_off': return [m.why === 'the family ended it' ? 'ended the studio’s access: the family owns its recordings'
      : 'the studio’s access ended: the family owns its recordings'];
    case 'delivery.erased': return ['the studio’s delivery was erased'];
    case 'family.export_started': return ['started an export of every recording'];
    case 'family.exported': return ['downloaded the export'];
    case 'family.erased': return ['erased the family'];
    case 'key.released': return ['unlocked ', ...rec(), ' to play or save it'];
    case 'auth.failed': return ['a sign-in failed'];
    default: return [a.action.replace(/[._]/g, ' '), a.target ? ' ' : '', a.target ? el('bdi', {}, a.target) : ''];
  }
}

/** @type {import('./api.js').AuditEntry[]} */
let auditEntries = [];

/** Shows the loaded entries that pass the filters. */
/** Who an audit entry's actor is, as the family knows them: Vault itself, someone
 * with a link, a member, or the staff of the studio that delivered (its rows say so).
 * @param {import('./api.js').AuditEntry} a @returns {(string | Node)[]} */
function actorOf(a) {
  if (!a.actor || a.actor === SYSTEM_ACTOR) return ['Vault'];
  if (a.actor.startsWith('link:')) return ['Someone with a link'];
  /** @type {unknown} */
  let studio;
  try { studio = JSON.parse(a.metadata || '{}')?.studio; } catch { /* a member */ }
  if (typeof studio !== 'string' || names.has(a.actor)) return [person(a.actor)];
  return [person(a.actor), ' ', el('span', { class: 'note' }, '(studio ', el('bdi', {}, studio), ')')];
}

function renderAudit() {
  const who = /** @type {HTMLSelectElement} */ ($('#audit-who')).value;
  const kind = /** @type {HTMLSelectElement} */ ($('#audit-kind')).value;
  const technical = $input('#audit-technical').checked;
  const shown = auditEntries.filter((a) => (technical || !TECHNICAL.has(a.action))
    && (!who || a.actor === who) && (!kind || KIND_OF_ACTION[a.action] === kind || (kind === 'security' && a.outcome !== 'success')));
  $('#audit tbody').replaceChildren(...shown.map((a) => el('tr', { 'data-action': a.action },
    el('td', {}, fmtDate(a.at)), el('td', {}, ...actorOf(a)), el('td', {}, ...auditSentence(a)),
    el('td', { class: a.outcome === 'success' ? '' : 'denied' }, a.outcome === 'success' ? 'done' : a.outcome),
    el('td', {}, a.ip), el('td', { class: 'note' }, a.action))));
  $('#audit-empty').hidden = shown.length > 0;
}

/** @param {boolean} reset */
async function loadAudit(reset) {
  if (reset) state.auditBefore = null;
  const q = state.auditBefore ? `?before=${state.auditBefore}` : '';
  // Titles for the sentences (recordings of this family the page can list).
  if (reset) {
    /** @type {import('./api.js').RecordingPage<RecordingView>} */
    const recs = await api.get('/v1/recordings?limit=200');
    /** @type {RecordingView[]} */
    const trashed = await api.get('/v1/trash');
    await Promise.all([...recs.items, ...trashed].map(withDetails));
    /** @type {MemberView[]} */
    const members = await api.get('/v1/family/members');
    for (const m of members) if (m.display_name) names.set(m.user_id, m.display_name);
  }
  /** @type {AuditPage} */
  const page = await api.get(`/v1/family/audit${q}`);
  auditEntries = reset ? page.items : auditEntries.concat(page.items);
  const people = [...new Set(auditEntries.map((a) => a.actor).filter(Boolean))].sort();
  const select = /** @type {HTMLSelectElement} */ ($('#audit-who'));
  const chosen = select.value;
  select.replaceChildren(el('option', { value: '' }, 'Everyone'), ...people.map((p) => el('option', { value: p, selected: p === chosen }, names.has(p) ? `${names.get(p)} (${p})` : p)));
  renderAudit();
  state.auditBefore = page.next_before;
  $('#audit-more').hidden = !page.next_before;
}

// ---------- export and erasure (owners) ----------
async function startExport() {
  /** @type {ExportStarted} */
  const started = await api.json('POST', '/v1/family/export', {});
  $('#export-key').textContent = started.recovery_key;
  $('#sheet-family').textContent = state.family?.name ?? '';
  $('#sheet-date').textContent = fmtDay(Date.now());
  /** @type {HTMLAnchorElement} */ ($('#export-link')).href = started.download;
  $('#export-download').hidden = false;
  $('#export-used').hidden = true;
  $('#export-result').hidden = false;
  announce('Export ready: keep the recovery key, then download the archive.');
}

/** Opens the erase dialog: it names the family, offers the export first, and asks for
 * the family id typed out; the signed receipt is offered after the erasure. */
function eraseFamily() {
  const family = state.family;
  if (!family) return;
  const dialog = /** @type {HTMLDialogElement} */ ($('#erase-dialog'));
  $('#erase-family-name').textContent = family.name;
  $('#erase-family-id').textContent = family.id;
  $input('#erase-confirm').value = '';
  /** @type {HTMLButtonElement} */ ($('#erase-ok')).disabled = true;
  dialog.returnValue = '';
  dialog.showModal();
  $('#erase-confirm').focus();
}

async function eraseConfirmed() {
  const family = state.family;
  if (!family || $input('#erase-confirm').value.trim() !== family.id) return;
  const receipt = await (await api.request('DELETE', '/v1/family', { json: { confirm: family.id } })).json();
  signOut('The family was erased. Its recordings can no longer be decrypted.');
  const href = URL.createObjectURL(new Blob([JSON.stringify(receipt, null, 2)], { type: 'application/json' }));
  $('#notice').replaceChildren('Keep the proof of the erasure: ',
    el('a', { href, download: `erasure-receipt-${family.id}.json`, id: 'receipt-link' }, 'download the signed receipt'), '.');
  $('#notice').hidden = false;
}

// ---------- wiring ----------
async function init() {
  const config = await fetch('/web-config.json').then((r) => r.json(), () => ({}));
  webConfig = config;
  $('#dev-form').hidden = !config.dev_sign_in;
  const signInUrl = config.sign_in_url;
  if (typeof signInUrl === 'string') {
    const link = /** @type {HTMLAnchorElement} */ ($('#idp-link'));
    $('#idp-sign-in').hidden = false;
    link.href = signInUrl;
    // The provider sends the browser back with the token and this state in the
    // fragment: a token arriving with it is one this tab asked for.
    link.addEventListener('click', () => {
      const url = new URL(signInUrl);
      const nonce = randomHex();
      sessionStorage.setItem(SIGN_IN_STATE, nonce);
      url.searchParams.set('state', nonce);
      url.searchParams.set('redirect_url', `${location.origin}/`);
      link.href = url.toString();
    });
  }
  // An identity provider front end hands the token back in the URL fragment.
  const fragment = new URLSearchParams(location.hash.slice(1));
  // An invitation link: kept for this tab until it is accepted or declined.
  const invite = fragment.get('invite');
  if (invite) {
    history.replaceState(null, '', location.pathname + location.search);
    sessionStorage.setItem(INVITE, JSON.stringify({ secret: invite, family: fragment.get('family') ?? '', name: fragment.get('name') ?? '' }));
  }
  const invited = pendingInvite();
  if (invited && !state.token) {
    $input('#dev-family').value = invited.family;
    $('#notice').replaceChildren('You are invited to the family vault ', el('strong', {}, el('bdi', {}, invited.name || invited.family)),
      '. Sign in to accept.');
    $('#notice').hidden = false;
  }
  const token = fragment.get('token');
  if (token) {
    history.replaceState(null, '', location.pathname + location.search);
    const expected = sessionStorage.getItem(SIGN_IN_STATE);
    sessionStorage.removeItem(SIGN_IN_STATE);
    if ((expected && fragment.get('state') === expected) || await confirmLinkSignIn(token)) return signIn(token);
    // Declined: nothing changes (an existing session stays as it was).
  }
  if (state.token) {
    const c = claims(state.token);
    if (c?.exp && c.exp * 1000 > Date.now()) { state.user = c.sub ?? null; return start(); }
    return signOut('Your session has expired. Please sign in again.');
  }
  signOut();
}

$('#dev-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const res = await fetch('/dev/token', { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: $input('#dev-user').value, family_id: $input('#dev-family').value, code: $input('#dev-code').value }) });
    $input('#dev-code').value = ''; // one use: the next sign-in needs the next code
    if (!res.ok) throw new Error((await res.json().catch(() => ({}))).detail ?? 'Sign-in failed.');
    await signIn((await res.json()).token);
  } catch (err) { fail(err); }
});
$('#token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  signIn(/** @type {HTMLTextAreaElement} */ ($('#token-input')).value.trim()).catch(fail);
});
$('#family-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    await api.json('POST', '/v1/families', { name: $input('#family-name').value });
    await start();
  } catch (err) {
    // The family exists and this person is not in it: only an owner can let them in.
    if (err instanceof ApiError && err.code === 'conflict') {
      const family = claims(state.token ?? '')?.org_id;
      return showAlert(`The family${family ? ` “${family}”` : ''} already exists. Ask one of its owners to invite you `
        + `with your user id: ${state.user ?? '?'}.`);
    }
    fail(err);
  }
});
$('#studio-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    await api.json('POST', '/v1/studios', { name: $input('#studio-name').value });
    location.assign('/studio.html');
  } catch (err) { fail(err); }
});
$('#sign-out').addEventListener('click', () => signOut());
$('#join-ok').addEventListener('click', () => acceptInvitation().catch(fail));
$('#join-no').addEventListener('click', () => {
  sessionStorage.removeItem(INVITE);
  $('#join-family').hidden = true;
  $('#create-family').hidden = false;
});
$('#invite-link-form').addEventListener('submit', (e) => makeInvitation(e).catch(fail));
$('#studio-invite-form').addEventListener('submit', (e) => inviteStudio(e).catch(fail));
$('#studio-invite-copy').addEventListener('click', () => {
  navigator.clipboard?.writeText($input('#studio-invite-link').value)
    .then(() => announce('The studio’s link is copied.'), () => $input('#studio-invite-link').select());
});
$('#share-form').addEventListener('submit', (e) => makeShareLink(e).catch((err) => {
  /** @type {HTMLDialogElement} */ ($('#share-dialog')).close();
  fail(err);
}));
$('#sharing-form').addEventListener('submit', (e) => saveSharing(e).catch(fail));
$('#share-cancel').addEventListener('click', () => /** @type {HTMLDialogElement} */ ($('#share-dialog')).close());
$('#share-done').addEventListener('click', () => /** @type {HTMLDialogElement} */ ($('#share-dialog')).close());
$('#share-copy').addEventListener('click', () => {
  navigator.clipboard?.writeText($input('#share-link').value).then(() => announce('Link copied.'), () => $input('#share-link').select());
});
$('#invite-copy').addEventListener('click', () => {
  navigator.clipboard.writeText($input('#invite-link').value)
    .then(() => announce('The invitation link is copied.'), () => showAlert('This browser did not let the page copy; select the link and copy it.'));
});
$('#export-start').addEventListener('click', () => startExport().catch(fail));
$('#erase-family').addEventListener('click', eraseFamily);
$('#erase-confirm').addEventListener('input', () => {
  /** @type {HTMLButtonElement} */ ($('#erase-ok')).disabled = $input('#erase-confirm').value.trim() !== state.family?.id;
});
$('#erase-dialog').addEventListener('close', () => {
  if (/** @type {HTMLDialogElement} */ ($('#erase-dialog')).returnValue === 'erase') eraseConfirmed().catch(fail);
});
$('#erase-export').addEventListener('click', () => {
  /** @type {HTMLDialogElement} */ ($('#erase-dialog')).close('cancel');
  startExport().then(() => $('#export-key').scrollIntoView(), fail);
});
$('#export-copy').addEventListener('click', () => {
  navigator.clipboard.writeText($('#export-key').textContent ?? '')
    .then(() => announce('The recovery key is copied.'), () => showAlert('This browser did not let the page copy; select the key and copy it.'));
});
$('#export-print').addEventListener('click', () => window.print());
$('#export-link').addEventListener('click', () => {
  // The link works once: after this click it would only answer "not found".
  setTimeout(() => { $('#export-download').hidden = true; $('#export-used').hidden = false; }, 0);
});
document.querySelectorAll('.tab').forEach((t) => t.addEventListener('click', () => show(/** @type {HTMLElement} */ (t).dataset.view ?? '')));
$('#files').addEventListener('change', () => {
  const input = $input('#files');
  addFiles(input.files ?? []).catch(fail);
  input.value = '';
});
const drop = $('#drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); addFiles(e.dataTransfer?.files ?? []).catch(fail); });
$('#more').addEventListener('click', () => loadRecordings(false).catch(fail));
$('#download-all').addEventListener('click', () => downloadEverything().catch(fail));
$('#audit-more').addEventListener('click', () => loadAudit(false).catch(fail));
for (const id of ['#audit-who', '#audit-kind', '#audit-technical']) $(id).addEventListener('change', renderAudit);
$('#player-close').addEventListener('click', () => closePlayer());
$('#details-form').addEventListener('submit', (e) => { e.preventDefault(); saveDetailsForm().catch(fail); });
$('#uploads-clear').addEventListener('click', () => {
  document.querySelectorAll('#uploads li[data-done]').forEach((li) => li.remove());
  $('#uploads-clear').hidden = true;
});
$('#invite-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const role = /** @type {HTMLSelectElement} */ ($('#invite-role')).value;
    await api.json('POST', '/v1/family/members', { user_id: $input('#invite-user').value, role });
    $input('#invite-user').value = '';
    await loadMembers();
  } catch (err) { fail(err); }
});
window.addEventListener('unhandledrejection', (e) => fail(e.reason));
init().catch(fail);
