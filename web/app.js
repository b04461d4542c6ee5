// The family page: sign-in, recordings (upload, play, download, delete), members, audit.
// Cryptography happens in workers (upload-worker.js, sw.js); this file only drives the UI.
import { client, ApiError } from './api.js';
import { pending } from './pending.js';

const $ = (sel) => document.querySelector(sel);
const params = new URLSearchParams(location.search);
const cryptoModeParam = params.get('crypto'); // "wasm" forces the pure-WASM fallback (tests, benchmarks)
const state = { token: sessionStorage.getItem('vault.token'), family: null, role: null, user: null, cursor: null, auditBefore: null };
const api = client(() => state.token);

// ---------- messages ----------
function showAlert(text) {
  const el = $('#alert');
  el.textContent = text;
  el.hidden = !text;
}
function announce(text) { $('#status').textContent = text; }
function fail(e) {
  if (e instanceof ApiError && e.status === 401) return signOut('Your session has expired. Please sign in again.');
  showAlert(e.message ?? String(e));
}
const fmtSize = (n) => n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : n < 1 << 30 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 2 ** 30).toFixed(2)} GiB`;
const fmtDate = (ms) => new Date(ms).toLocaleString();
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  e.append(...children.filter((c) => c !== null && c !== undefined));
  return e;
}

// ---------- session ----------
function claims(token) {
  try {
    return JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    return null;
  }
}

const SIGN_IN_STATE = 'vault.sign-in-state';

function randomHex(bytes = 16) {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Who is signed in, for this device's records of interrupted uploads. */
function identityKey() {
  return `${claims(state.token)?.iss}|${state.user}|${state.family?.id}`;
}

/** Asks the user before a link signs them in: a token in a link they did not ask for
 * could be someone else's, and what they then upload would go to that person's family. */
function confirmLinkSignIn(token) {
  const c = claims(token) ?? {};
  $('#confirm-sign-in-user').textContent = c.sub ?? '?';
  $('#confirm-sign-in-family').textContent = c.org_id ?? '?';
  const dialog = $('#confirm-sign-in');
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'sign-in'), { once: true }));
}

/** A link to a decrypted recording that the service worker will answer: it refuses
 * navigations to /media/ that this page did not start (another site could otherwise
 * make the browser release a key and save a file). */
async function mediaNavigation(path) {
  const nonce = randomHex();
  await postToServiceWorker({ type: 'allow-navigation', nonce });
  return `${path}${path.includes('?') ? '&' : '?'}nonce=${nonce}`;
}

function followMediaLink(e) {
  e.preventDefault();
  const href = e.currentTarget.getAttribute('href');
  mediaNavigation(href).then((url) => location.assign(url), fail);
}

function postToServiceWorker(message) {
  const sw = navigator.serviceWorker?.controller;
  if (!sw) return Promise.resolve();
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => resolve();
    sw.postMessage(message, [ch.port2]);
  });
}

async function swReady() {
  if (!('serviceWorker' in navigator)) throw new Error('This browser cannot play encrypted recordings (no service workers).');
  await navigator.serviceWorker.register('/sw.js', { type: 'module', scope: '/' });
  await navigator.serviceWorker.ready;
  if (!navigator.serviceWorker.controller) {
    await new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
  }
}
function tellServiceWorker() {
  return postToServiceWorker({ type: 'session', token: state.token, family: state.family?.id, mode: cryptoModeParam });
}
navigator.serviceWorker?.addEventListener('message', (e) => {
  if (e.data?.type === 'need-session' && state.token && state.family) {
    e.ports[0]?.postMessage({ token: state.token, family: state.family.id, mode: cryptoModeParam });
  } else if (e.data?.type === 'media-error') {
    playerError(e.data.message);
  }
});

async function signIn(token) {
  const c = claims(token);
  if (!c) throw new Error('That is not a valid token.');
  if (c.exp && c.exp * 1000 < Date.now()) throw new Error('That token has expired. Please sign in again.');
  state.token = token;
  state.user = c.sub;
  sessionStorage.setItem('vault.token', token);
  await start();
}

function signOut(message) {
  state.token = null;
  state.family = null;
  sessionStorage.removeItem('vault.token');
  navigator.serviceWorker?.controller?.postMessage({ type: 'sign-out' });
  for (const id of ['#app', '#create-family', '#who', '#sign-out']) $(id).hidden = true;
  $('#sign-in').hidden = false;
  showAlert(message ?? '');
  $('#main').focus();
}

async function start() {
  showAlert('');
  $('#sign-in').hidden = true;
  try {
    state.family = await api.get('/v1/family');
  } catch (e) {
    // 403: not a member. Either the family does not exist yet (create it) or an
    // owner has to invite this user; the server does not say which, on purpose.
    if (e instanceof ApiError && (e.status === 403 || e.status === 404)) {
      $('#create-family').hidden = false;
      $('#family-name').focus();
      return;
    }
    if (e instanceof ApiError && e.status === 401) return signOut('Your session has expired or is not valid. Please sign in again.');
    if (e instanceof ApiError && e.status === 410) return signOut(e.message);
    throw e;
  }
  state.role = state.family.role;
  await swReady();
  await tellServiceWorker();
  $('#create-family').hidden = true;
  // Ids and names are isolated from the text around them (no bidirectional spill).
  $('#who').replaceChildren(el('bdi', {}, state.user), ' · ', el('bdi', {}, state.family.name), ` (${state.role})`);
  $('#who').hidden = false;
  $('#sign-out').hidden = false;
  $('#app').hidden = false;
  const manager = state.role === 'owner' || state.role === 'admin';
  document.querySelectorAll('.tab[data-view="members"], .tab[data-view="audit"]').forEach((t) => { t.hidden = !manager; });
  $('#family-data').hidden = state.role !== 'owner';
  show('recordings');
  await Promise.all([loadRecordings(true), loadInterrupted()]);
  document.body.dataset.ready = 'true';
}

// ---------- views ----------
function show(view) {
  for (const v of ['recordings', 'members', 'audit']) $(`#view-${v}`).hidden = v !== view;
  document.querySelectorAll('.tab').forEach((t) => {
    if (t.dataset.view === view) t.setAttribute('aria-current', 'page'); else t.removeAttribute('aria-current');
  });
  if (view === 'members') loadMembers().catch(fail);
  if (view === 'audit') loadAudit(true).catch(fail);
}

async function loadRecordings(reset) {
  if (reset) state.cursor = null;
  const q = state.cursor ? `?cursor=${encodeURIComponent(state.cursor)}` : '';
  const page = await api.get(`/v1/recordings${q}`);
  const body = $('#recordings tbody');
  if (reset) body.replaceChildren();
  for (const r of page.items) body.append(recordingRow(r));
  state.cursor = page.next_cursor;
  $('#more').hidden = !page.next_cursor;
  $('#empty').hidden = body.children.length > 0;
}

const EXTENSIONS = { 'audio/wav': '.wav', 'audio/x-wav': '.wav', 'audio/mpeg': '.mp3', 'audio/ogg': '.ogg', 'audio/mp4': '.m4a',
  'video/webm': '.webm', 'video/mp4': '.mp4', 'video/quicktime': '.mov', 'text/plain': '.txt', 'application/pdf': '.pdf' };

function recordingRow(r) {
  const manager = state.role === 'owner' || state.role === 'admin';
  const name = r.title.replace(/[^\w. -]/g, '_') + (EXTENSIONS[r.content_type] ?? '');
  return el('tr', { 'data-id': r.id },
    el('td', {}, r.title),
    el('td', {}, r.kind),
    el('td', { class: 'num' }, fmtSize(r.plaintext_size)),
    el('td', {}, fmtDate(r.created_at)),
    el('td', {},
      el('button', { type: 'button', onclick: () => play(r), 'aria-label': `${r.kind === 'letter' ? 'Read' : 'Play'} ${r.title}` }, r.kind === 'letter' ? 'Read' : 'Play'),
      // A navigation (not <a download>, which Chromium does not route through the
      // service worker) answered with Content-Disposition: attachment: the browser
      // streams the decrypted bytes to disk as the worker produces them.
      el('a', { class: 'button secondary', href: `/media/${r.id}?download&name=${encodeURIComponent(name)}`, onclick: followMediaLink, 'aria-label': `Download ${r.title} decrypted` }, 'Download'),
      manager || r.created_by === state.user
        ? el('button', { type: 'button', class: 'danger', onclick: () => remove(r), 'aria-label': `Delete ${r.title}` }, 'Delete') : null));
}

async function remove(r) {
  if (!confirm(`Delete "${r.title}"? Nobody will be able to play it any more.`)) return;
  try {
    await api.request('DELETE', `/v1/recordings/${r.id}`);
    document.querySelector(`#recordings tr[data-id="${r.id}"]`)?.remove();
    announce(`${r.title} deleted`);
  } catch (e) {
    fail(e);
  }
}

// ---------- playback ----------
function playerError(message) {
  const p = $('#player-error');
  p.textContent = message;
  p.hidden = false;
  $('#player-body').replaceChildren();
}

async function play(r) {
  $('#player').hidden = false;
  $('#player-error').hidden = true;
  $('#player-title').textContent = r.title;
  const body = $('#player-body');
  body.replaceChildren();
  await tellServiceWorker();
  const src = `/media/${r.id}`;
  if (r.kind === 'letter') {
    const res = await fetch(src);
    if (!res.ok) return playerError(await res.text());
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
    body.append(media);
  }
  $('#player').scrollIntoView();
  $('#player-title').focus?.();
}

// ---------- uploads ----------
let worker = null;
const queue = []; // { li, file, title, kind, resumeId }
let running = null;

function kindOf(file) {
  if (file.type.startsWith('video/')) return 'video';
  if (file.type.startsWith('audio/')) return 'audio';
  return 'letter';
}

function uploadItem(file, title) {
  const li = el('li', { 'data-name': file.name },
    el('strong', {}, title), ' ', el('span', { class: 'note' }, fmtSize(file.size)),
    el('label', {}, 'Encrypted', el('progress', { class: 'enc', max: file.size || 1, value: 0 })),
    el('label', {}, 'Uploaded', el('progress', { class: 'up', max: file.size || 1, value: 0 })),
    el('span', { class: 'state' }, 'Waiting…'), ' ',
    el('button', { type: 'button', class: 'secondary pause' }, 'Pause'));
  $('#uploads').append(li);
  return li;
}

function setState(li, text, cls) {
  const s = li.querySelector('.state');
  s.textContent = text;
  s.className = `state ${cls ?? ''}`;
}

function enqueue(job) {
  if (job.id) job.li.dataset.id = job.id;
  const button = job.li.querySelector('.pause');
  button.onclick = () => {
    if (running === job) {
      worker.postMessage({ type: 'pause' });
    } else if (job.paused) {
      job.paused = false;
      button.textContent = 'Pause';
      setState(job.li, 'Waiting…');
      queue.push(job);
      pump();
    } else {
      const i = queue.indexOf(job);
      if (i >= 0) queue.splice(i, 1);
      job.paused = true;
      button.textContent = 'Resume';
      setState(job.li, 'Paused');
    }
  };
  queue.push(job);
  pump();
}

function pump() {
  if (running || !queue.length) return;
  running = queue.shift();
  const job = running;
  worker ??= new Worker('/upload-worker.js', { type: 'module' });
  worker.onmessage = (e) => onWorker(job, e.data);
  worker.onerror = (e) => onWorker(job, { type: 'error', message: e.message || 'The upload worker failed.' });
  setState(job.li, 'Encrypting…');
  const base = { token: state.token, file: job.file, mode: cryptoModeParam, owner: identityKey() };
  worker.postMessage(job.id ? { ...base, type: 'resume', id: job.id } : { ...base, type: 'start', title: job.title, kind: job.kind });
}

function onWorker(job, m) {
  const { li } = job;
  if (m.type === 'created') {
    job.id = m.id;
    li.dataset.id = m.id;
  } else if (m.type === 'progress') {
    li.querySelector('.enc').value = m.encrypted;
    li.querySelector('.up').value = m.uploaded;
    setState(li, `Encrypted ${fmtSize(m.encrypted)}, uploaded ${fmtSize(m.uploaded)} of ${fmtSize(m.total)}`);
    li.dataset.uploaded = m.uploaded;
    return;
  } else if (m.type === 'retrying') {
    setState(li, m.message, 'error');
    return;
  }
  if (m.type === 'done' || m.type === 'error' || m.type === 'paused') {
    running = null;
    const button = li.querySelector('.pause');
    if (m.type === 'done') {
      li.querySelector('.enc').value = li.querySelector('.up').value = job.file.size || 1;
      setState(li, 'Stored, encrypted.', 'done');
      li.dataset.done = 'true';
      button.remove();
      announce(`${job.title} uploaded`);
      loadRecordings(true).catch(fail);
      loadInterrupted().catch(fail);
    } else if (m.type === 'paused') {
      job.paused = true;
      button.textContent = 'Resume';
      setState(li, 'Paused');
    } else {
      if (/session/.test(m.message)) fail(new ApiError(401, m.message));
      setState(li, m.message, 'error');
      li.dataset.error = m.message;
      button.remove();
    }
    pump();
  }
}

function addFiles(files) {
  for (const file of files) {
    const title = file.name.replace(/\.[^.]+$/, '') || file.name;
    enqueue({ li: uploadItem(file, title), file, title, kind: kindOf(file) });
  }
}

async function loadInterrupted() {
  // Only this identity's records: another person's on a shared device are not shown, nor touched.
  const mine = (await pending.all()).filter((p) => p.owner === identityKey());
  const entries = mine.filter((p) => !queue.some((j) => j.id === p.id) && running?.id !== p.id);
  const list = $('#interrupted-list');
  list.replaceChildren();
  for (const p of entries) {
    let status;
    try {
      status = await api.get(`/v1/recordings/${p.id}/upload`);
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 409)) { await pending.remove(p.id); continue; }
      throw e;
    }
    const parts = Math.floor(p.size / (p.part_frames * p.frame_length)) + 1;
    const input = el('input', { type: 'file', id: `resume-${p.id}`, class: 'visually-hidden' });
    input.addEventListener('change', () => {
      const file = input.files[0];
      if (!file) return;
      li.remove();
      enqueue({ li: uploadItem(file, p.title), file, title: p.title, kind: p.kind, id: p.id });
    });
    const li = el('li', { 'data-id': p.id },
      el('strong', {}, p.title), ` — ${status.next_part - 1} of ${parts} parts stored. `,
      el('label', { class: 'button', for: `resume-${p.id}` }, `Choose "${p.name}" again to resume`), input);
    list.append(li);
  }
  $('#interrupted').hidden = list.children.length === 0;
}

// ---------- members and audit ----------
async function loadMembers() {
  const members = await api.get('/v1/family/members');
  const body = $('#members tbody');
  body.replaceChildren();
  for (const m of members) {
    const select = el('select', { 'aria-label': `Role of ${m.user_id}` }, ...['member', 'admin', 'owner'].map((r) => el('option', { selected: r === m.role }, r)));
    select.addEventListener('change', () => api.json('PATCH', `/v1/family/members/${encodeURIComponent(m.user_id)}`, { role: select.value })
      .then(() => announce(`${m.user_id} is now ${select.value}`), (e) => { select.value = m.role; fail(e); }));
    body.append(el('tr', {},
      el('td', {}, el('bdi', {}, m.user_id)), el('td', {}, select), el('td', {}, fmtDate(m.added_at)),
      el('td', {}, el('button', { type: 'button', class: 'danger', 'aria-label': `Remove ${m.user_id}`, onclick: async () => {
        if (!confirm(`Remove ${m.user_id} from the family?`)) return;
        try { await api.request('DELETE', `/v1/family/members/${encodeURIComponent(m.user_id)}`); await loadMembers(); } catch (e) { fail(e); }
      } }, 'Remove'))));
  }
}

async function loadAudit(reset) {
  if (reset) state.auditBefore = null;
  const q = state.auditBefore ? `?before=${state.auditBefore}` : '';
  const page = await api.get(`/v1/family/audit${q}`);
  const body = $('#audit tbody');
  if (reset) body.replaceChildren();
  for (const a of page.items) {
    body.append(el('tr', {}, el('td', {}, fmtDate(a.at)), el('td', {}, el('bdi', {}, a.actor)), el('td', {}, a.action),
      el('td', {}, el('bdi', {}, a.target)), el('td', {}, a.outcome), el('td', {}, a.ip)));
  }
  state.auditBefore = page.next_before;
  $('#audit-more').hidden = !page.next_before;
}

// ---------- export and erasure (owners) ----------
async function startExport() {
  const started = await api.json('POST', '/v1/family/export', {});
  $('#export-key').textContent = started.recovery_key;
  $('#export-link').href = started.download;
  $('#export-result').hidden = false;
  announce('Export ready: write down the recovery key, then download the archive.');
}

async function eraseFamily() {
  const typed = prompt(`Erasing cannot be undone. Type the family id (${state.family.id}) to erase it:`);
  if (typed === null) return;
  if (typed.trim() !== state.family.id) return showAlert('The family id did not match; nothing was erased.');
  await api.json('DELETE', '/v1/family', { confirm: state.family.id });
  signOut('The family was erased. Its recordings can no longer be decrypted.');
}

// ---------- wiring ----------
async function init() {
  const config = await fetch('/web-config.json').then((r) => r.json(), () => ({}));
  $('#dev-form').hidden = !config.dev_sign_in;
  if (config.sign_in_url) {
    $('#idp-sign-in').hidden = false;
    $('#idp-link').href = config.sign_in_url;
    // The provider sends the browser back with the token and this state in the
    // fragment: a token arriving with it is one this tab asked for.
    $('#idp-link').addEventListener('click', () => {
      const url = new URL(config.sign_in_url);
      const nonce = randomHex();
      sessionStorage.setItem(SIGN_IN_STATE, nonce);
      url.searchParams.set('state', nonce);
      url.searchParams.set('redirect_url', `${location.origin}/`);
      $('#idp-link').href = url.toString();
    });
  }
  // An identity provider front end hands the token back in the URL fragment.
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get('token')) {
    const token = fragment.get('token');
    history.replaceState(null, '', location.pathname + location.search);
    const expected = sessionStorage.getItem(SIGN_IN_STATE);
    sessionStorage.removeItem(SIGN_IN_STATE);
    if ((expected && fragment.get('state') === expected) || await confirmLinkSignIn(token)) return signIn(token);
    // Declined: nothing changes (an existing session stays as it was).
  }
  if (state.token) {
    const c = claims(state.token);
    if (c?.exp && c.exp * 1000 > Date.now()) { state.user = c.sub; return start(); }
    return signOut('Your session has expired. Please sign in again.');
  }
  signOut();
}

$('#dev-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const res = await fetch('/dev/token', { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: $('#dev-user').value, family_id: $('#dev-family').value, code: $('#dev-code').value }) });
    $('#dev-code').value = ''; // one use: the next sign-in needs the next code
    if (!res.ok) throw new Error((await res.json().catch(() => ({}))).detail ?? 'Sign-in failed.');
    await signIn((await res.json()).token);
  } catch (err) { fail(err); }
});
$('#token-form').addEventListener('submit', (e) => { e.preventDefault(); signIn($('#token-input').value.trim()).catch(fail); });
$('#family-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try { await api.json('POST', '/v1/families', { name: $('#family-name').value }); await start(); } catch (err) { fail(err); }
});
$('#sign-out').addEventListener('click', () => signOut());
$('#export-start').addEventListener('click', () => startExport().catch(fail));
$('#erase-family').addEventListener('click', () => eraseFamily().catch(fail));
document.querySelectorAll('.tab').forEach((t) => t.addEventListener('click', () => show(t.dataset.view)));
$('#files').addEventListener('change', (e) => { addFiles(e.target.files); e.target.value = ''; });
const drop = $('#drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); addFiles(e.dataTransfer.files); });
$('#more').addEventListener('click', () => loadRecordings(false).catch(fail));
$('#audit-more').addEventListener('click', () => loadAudit(false).catch(fail));
$('#player-close').addEventListener('click', () => { $('#player-body').replaceChildren(); $('#player').hidden = true; });
$('#invite-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    await api.json('POST', '/v1/family/members', { user_id: $('#invite-user').value, role: $('#invite-role').value });
    $('#invite-user').value = '';
    await loadMembers();
  } catch (err) { fail(err); }
});
window.addEventListener('unhandledrejection', (e) => fail(e.reason));
init().catch(fail);
