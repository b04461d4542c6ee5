// @ts-check
// The studio's page: its deliveries (each a family vault made for one customer), the
// uploads into them, the parents' invitations, the staff and the studio's audit log.
// Uploads run in the family page's upload worker, which encrypts each recording here
// before it leaves (the `x-vault-delivery` header makes the studio its contributor);
// titles and posters are sealed under the delivery family's library key, as the family
// page seals its own. The studio never plays a recording: the server lets it list what
// it uploaded, nothing more, and nothing at all after the hand-off.
import { client, ApiError } from './api.js';
import { ToUploader, FromUploader } from './messages.js';
import { partsReady } from './worker-channel.js';
import { Library, makePoster, mediaDuration, fingerprint, isoDay, kindOf } from './library.js';
import { claims, renewalDelay, renewed } from './session.js';
import { $, el, fmtSize, fmtDay } from './dom.js';

/**
 * @typedef {import('./api.js').RecordingView} RecordingView
 * @typedef {import('./api.js').AuditPage} AuditPage
 * @typedef {import('./messages.js').FromUploaderMessage} FromUploaderMessage
 * @typedef {import('./session.js').WebConfig} WebConfig
 *
 * @typedef {object} StudioView
 * @property {string} id
 * @property {string} name
 * @property {'admin' | 'staff'} role
 * @property {number} unclaimed_days
 *
 * @typedef {'uploading' | 'invited' | 'accepted' | 'handed-off' | 'expired' | 'erased'} DeliveryState
 * @typedef {object} DeliveryView
 * @property {string} id
 * @property {string} customer
 * @property {string} family_id
 * @property {DeliveryState} state
 * @property {number} recordings
 * @property {string} created_by
 * @property {number} created_at
 * @property {number} [invited_until]
 * @property {number} [contribute_until]
 * @property {number} [accepted_at]
 * @property {number} [handed_off_at]
 * @property {number} [expired_at]
 * @property {number} [erased_at]
 * @property {number} [erase_after]
 * @property {boolean} into_family_vault the family invited the studio into its own vault
 *
 * @typedef {{ issuer: string, user_id: string, role: 'admin' | 'staff', added_at: number, added_by: string }} StaffView
 *
 * @typedef {object} Upload
 * @property {File} file
 * @property {string} title
 * @property {string} recordedOn YYYY-MM-DD
 * @property {DeliveryView} delivery
 * @property {HTMLLIElement} li
 */

let token = sessionStorage.getItem('vault.token');
/** Where a family's link for the studio waits while its staff member signs in. */
const FAMILY_INVITE = 'vault.family-invite';
const api = client(() => token);
/** @type {WebConfig} */
let config = {};
/** @type {StudioView | null} */
let studio = null;
/** @type {DeliveryView[]} */
let deliveries = [];
/** The delivery whose recordings are shown. @type {DeliveryView | null} */
let open = null;
/** Each delivery family's library key, once released. @type {Map<string, Library>} */
const libraries = new Map();

/** @param {string} id */
const inDelivery = (id) => ({ 'x-vault-delivery': id });
/** @param {string} sel */
const $input = (sel) => /** @type {HTMLInputElement} */ ($(sel));
/** @param {string} text */
function showAlert(text) {
  $('#alert').textContent = text;
  $('#alert').hidden = !text;
}
/** @param {string} text */
const announce = (text) => { $('#status').textContent = text; };
/** @param {unknown} e */
function fail(e) {
  if (e instanceof ApiError && e.code === 'unauthenticated') return signOut();
  showAlert(e instanceof Error ? e.message : String(e));
}
/** @param {number} ms */
const fmtLongDay = (ms) => new Date(ms).toLocaleDateString(undefined, { dateStyle: 'long' });

function signOut() {
  sessionStorage.removeItem('vault.token');
  sessionStorage.removeItem(FAMILY_INVITE);
  for (const lib of libraries.values()) lib.forget();
  location.assign('/');
}

// ---------- the token ----------
/** @type {ReturnType<typeof setTimeout> | undefined} */
let renewTimer;
function scheduleRenewal() {
  clearTimeout(renewTimer);
  const delay = renewalDelay(token ?? '', config);
  if (delay !== null) renewTimer = setTimeout(() => { renew().catch(() => {}); }, delay);
}
/** A fresh token for the same person and studio; resolves whether there is one. */
async function renew() {
  const fresh = token ? await renewed(token, config) : null;
  if (!fresh) return false;
  token = fresh;
  sessionStorage.setItem('vault.token', fresh);
  worker?.postMessage({ type: ToUploader.token, token: fresh });
  scheduleRenewal();
  return true;
}

// ---------- deliveries ----------
/** What a delivery's state means to the studio. @type {Record<DeliveryState, string>} */
const STATE_TEXT = {
  uploading: 'Uploading: the parents are not invited yet',
  invited: 'Invited',
  accepted: 'Accepted',
  'handed-off': 'Handed off',
  expired: 'Invitation expired',
  erased: 'Erased',
};

/** The line under a delivery that says where it stands. @param {DeliveryView} d */
function stateLine(d) {
  switch (d.state) {
    case 'uploading': return 'Upload the recordings, then invite the parents.';
    case 'invited': return `The invitation works until ${fmtLongDay(d.invited_until ?? 0)}.`;
    case 'accepted': return `${d.into_family_vault ? 'Into the family’s own vault, on their invitation'
      : `A parent accepted on ${fmtLongDay(d.accepted_at ?? 0)}`}; you can add recordings until `
      + `${fmtLongDay(d.contribute_until ?? 0)}.`;
    case 'handed-off': return `Handed off on ${fmtLongDay(d.handed_off_at ?? 0)}: the family owns the recordings, `
      + 'and the studio no longer reaches them.';
    case 'expired': return `The invitation expired unaccepted. Send a new one${d.erase_after
      ? `, or the delivery is erased on ${fmtLongDay(d.erase_after)}` : ''}.`;
    case 'erased': return `Erased on ${fmtLongDay(d.erased_at ?? 0)}; its key is destroyed.`;
  }
}

/** The invitation button's words (its accessible name starts with them). @param {DeliveryView} d */
const inviteText = (d) => (d.state === 'uploading' ? 'Invite the parents' : 'Send a new invitation');

/** Whether the studio may still add to `d`. @param {DeliveryView} d */
const isOpen = (d) => d.state !== 'handed-off' && d.state !== 'erased';

async function loadDeliveries() {
  deliveries = await api.get('/v1/studio/deliveries');
  $('#deliveries').replaceChildren(...deliveries.map((d) => el('li', { 'data-id': d.id, 'data-state': d.state },
    el('div', { class: 'what' },
      el('strong', { class: 'title' }, el('bdi', {}, d.customer)),
      el('span', { class: `badge ${d.state}` }, d.into_family_vault && d.state === 'accepted' ? 'In the family’s vault' : STATE_TEXT[d.state]),
      el('span', { class: 'meta' }, `${d.recordings === 1 ? '1 recording' : `${d.recordings} recordings`} · started `
        + `${fmtDay(d.created_at)} by `, el('bdi', {}, d.created_by)),
      el('span', { class: 'meta' }, stateLine(d))),
    el('div', { class: 'actions' },
      isOpen(d) ? el('button', { type: 'button', class: 'secondary', 'aria-label': `Open the delivery for ${d.customer}`,
        onclick: () => openDelivery(d).catch(fail) }, 'Open') : null,
      isOpen(d) && d.state !== 'accepted' ? el('button', { type: 'button', 'aria-label': `${inviteText(d)}: ${d.customer}`,
        onclick: () => invite(d).catch(fail) }, inviteText(d)) : null,
      isOpen(d) && d.state !== 'accepted' && studio?.role === 'admin' ? el('button', { type: 'button', class: 'danger', 'aria-label': `Erase the delivery for ${d.customer}`,
        onclick: () => erase(d).catch(fail) }, 'Erase') : null))));
  $('#no-deliveries').hidden = deliveries.length > 0;
  if (open) {
    const now = deliveries.find((d) => d.id === open?.id);
    if (now) showDeliveryState(now);
  }
}

/** @param {SubmitEvent} e */
async function startDelivery(e) {
  e.preventDefault();
  const day = $input('#delivery-until').value;
  // The end of the chosen day, here.
  const until = day ? new Date(`${day}T23:59:59`).getTime() : undefined;
  const family = $input('#delivery-family').value.trim();
  // The family's link, or only its secret, pasted.
  const pasted = $input('#delivery-family-invite').value.trim();
  const invitation = pasted.split('family-invite=').pop() ?? '';
  const customer = $input('#delivery-customer').value.trim();
  // What goes into a family's own vault stays the family's: make sure it is theirs.
  if (invitation && !confirm(`Deliver ${customer}’s recordings into the vault of the family that sent this link? `
    + 'Once there they are the family’s: the studio can discard its own uploads only until its access ends.')) return;
  /** @type {DeliveryView} */
  let d;
  try {
    d = await api.json('POST', '/v1/studio/deliveries', { customer,
      ...(invitation ? { family_invitation: invitation } : family ? { family_name: family } : {}),
      ...(until ? { contribute_until: until } : {}) });
  } catch (e) {
    // A link that cannot be used is not offered again.
    if (invitation && e instanceof ApiError && ['expired', 'not-found', 'bad-request'].includes(e.code)) forgetFamilyInvite();
    throw e;
  }
  forgetFamilyInvite();
  /** @type {HTMLFormElement} */ ($('#delivery-form')).reset();
  /** @type {HTMLDetailsElement} */ ($('#new-delivery')).open = false;
  await loadDeliveries();
  announce(`Delivery started for ${d.customer}.`);
  await openDelivery(d);
}

/** Shows the delivery's recordings and its upload form. @param {DeliveryView} d */
async function openDelivery(d) {
  open = d;
  $('#delivery-customer-name').textContent = d.customer;
  $input('#upload-date').value ||= isoDay(Date.now());
  $('#invitation').hidden = true;
  showDeliveryState(d);
  $('#deliveries-view').hidden = true;
  $('#delivery').hidden = false;
  $('#delivery-title').focus();
  await loadDelivered(d);
}

/** @param {DeliveryView} d */
function showDeliveryState(d) {
  open = d;
  $('#delivery-state').textContent = `${STATE_TEXT[d.state]}. ${stateLine(d)}`;
  $('#upload-form').hidden = !isOpen(d);
}

function closeDelivery() {
  open = null;
  $('#delivery').hidden = true;
  $('#deliveries-view').hidden = false;
}

/** The delivery family's library key (released once per page). @param {DeliveryView} d */
async function libraryOf(d) {
  let lib = libraries.get(d.id);
  if (!lib) {
    const grant = await (await api.request('POST', '/v1/family/library-key', { json: {}, headers: inDelivery(d.id) })).json();
    lib = new Library(d.family_id, grant);
    libraries.set(d.id, lib);
  }
  return lib;
}

/** What the studio delivered so far, with the titles it sealed. @param {DeliveryView} d */
async function loadDelivered(d) {
  if (!isOpen(d)) {
    $('#delivered').replaceChildren();
    $('#nothing-delivered').hidden = false;
    return;
  }
  /** @type {{ items: RecordingView[] }} */
  const page = await (await api.request('GET', '/v1/recordings?limit=200', { headers: inDelivery(d.id) })).json();
  const lib = await libraryOf(d);
  const rows = await Promise.all(page.items.map(async (r) => {
    const details = r.details ? await lib.openDetails(r.details, r.id) : null;
    return el('li', { 'data-id': r.id },
      el('strong', {}, el('bdi', {}, details?.title ?? 'Untitled')),
      el('span', { class: 'meta' }, ` · ${r.kind} · ${fmtSize(r.plaintext_size)}${details ? ` · recorded on ${details.recorded_on}` : ''}`));
  }));
  $('#delivered').replaceChildren(...rows);
  $('#nothing-delivered').hidden = rows.length > 0;
}

/** Sends (or sends again) the parents' invitation, and shows its link. @param {DeliveryView} d */
async function invite(d) {
  /** @type {{ delivery: DeliveryView, secret: string }} */
  const made = await api.json('POST', `/v1/studio/deliveries/${d.id}/invitation`, {});
  const link = `${location.origin}/#invite=${made.secret}&family=${encodeURIComponent(d.family_id)}`
    + `&name=${encodeURIComponent(d.customer)}`;
  await loadDeliveries();
  if (open?.id !== d.id) await openDelivery(made.delivery);
  $('#invitation-for').textContent = d.customer;
  $input('#invitation-link').value = link;
  $('#invitation-until').textContent = `Works once, until ${fmtLongDay(made.delivery.invited_until ?? 0)}. `
    + 'Send it to the parents yourself (email or message): whoever opens it and signs in owns the family vault.';
  $('#invitation').hidden = false;
  $input('#invitation-link').focus();
  $input('#invitation-link').select();
}

/** @param {DeliveryView} d */
async function erase(d) {
  if (!confirm(`Erase the delivery for ${d.customer}? Its recordings can never be decrypted again.`)) return;
  await api.request('DELETE', `/v1/studio/deliveries/${d.id}`);
  if (open?.id === d.id) closeDelivery();
  await loadDeliveries();
  announce(`The delivery for ${d.customer} is erased.`);
}

// ---------- uploads ----------
/** @type {Worker | null} */
let worker = null;
/** @type {Upload[]} */
const queue = [];
/** @type {Upload | null} */
let running = null;

/** @param {SubmitEvent} e */
function addUploads(e) {
  e.preventDefault();
  const d = open;
  const files = $input('#upload-files').files;
  if (!d || !files) return;
  const title = $input('#upload-title').value.trim();
  const recordedOn = $input('#upload-date').value;
  for (const file of files) {
    const name = title && files.length > 1 ? `${title} (${file.name})` : title || file.name.replace(/\.[^.]+$/, '');
    const li = el('li', { 'data-name': file.name },
      el('strong', {}, el('bdi', {}, name)), ' ', el('span', { class: 'state' }, 'Waiting…'),
      el('progress', { max: file.size, value: 0, 'aria-label': `Uploading ${name}` }));
    $('#studio-uploads').append(li);
    queue.push({ file, title: name, recordedOn, delivery: d, li });
  }
  /** @type {HTMLFormElement} */ ($('#upload-form')).reset();
  $input('#upload-date').value = recordedOn;
  pump();
}

/** @param {Upload} job @param {string} text @param {string} [cls] */
function setState(job, text, cls = '') {
  const s = /** @type {HTMLElement} */ (job.li.querySelector('.state'));
  s.textContent = text;
  s.className = `state ${cls}`;
}

function pump() {
  if (running || queue.length === 0) return;
  const job = running = /** @type {Upload} */ (queue.shift());
  worker ??= new Worker('/upload-worker.js', { type: 'module' });
  worker.onmessage = (/** @type {MessageEvent<FromUploaderMessage>} */ e) => onWorker(job, e.data);
  worker.onerror = (e) => onWorker(job, { type: FromUploader.error, id: undefined, message: e.message || 'The upload worker failed.', code: 'failed' });
  setState(job, 'Encrypting…');
  const c = claims(token ?? '');
  worker.postMessage({ type: ToUploader.start, token: token ?? '', file: job.file, title: job.title, kind: kindOf(job.file),
    mode: null, owner: `${c?.iss}|${c?.sub}|studio:${studio?.id}`, delivery: job.delivery.id });
}

/** @param {Upload} job @param {FromUploaderMessage} m */
function onWorker(job, m) {
  if (m.type === FromUploader.needToken) {
    renew().then((ok) => worker?.postMessage({ type: ToUploader.token, token: ok ? token : null }), () => {});
    return;
  }
  if (m.type === FromUploader.created) {
    job.li.dataset.id = m.id;
    seal(job, m.id).catch(() => setState(job, 'Uploading; its title could not be saved.', 'error'));
  } else if (m.type === FromUploader.progress) {
    /** @type {HTMLProgressElement} */ (job.li.querySelector('progress')).value = m.uploaded;
    setState(job, `${fmtSize(m.uploaded)} of ${fmtSize(m.total)} stored, encrypted`);
  } else if (m.type === FromUploader.retrying) {
    setState(job, m.message, 'error');
  } else if (m.type === FromUploader.done || m.type === FromUploader.error || m.type === FromUploader.paused) {
    running = null;
    if (m.type === FromUploader.done) {
      job.li.dataset.done = 'true';
      setState(job, 'Uploaded, encrypted', 'done');
      announce(`${job.title} is uploaded.`);
      loadDeliveries().then(() => (open?.id === job.delivery.id ? loadDelivered(open) : undefined)).catch(fail);
    } else {
      setState(job, m.type === FromUploader.error ? m.message : 'Paused', 'error');
    }
    pump();
  }
}

/** Seals the new recording's title, date and poster under the family's library key.
 * @param {Upload} job @param {string} id */
async function seal(job, id) {
  const lib = await libraryOf(job.delivery);
  const duration = await mediaDuration(job.file);
  const details = { recording: id, title: job.title, recorded_on: job.recordedOn, note: '', name: job.file.name,
    fingerprint: await fingerprint(job.file), ...(duration !== undefined ? { duration } : {}) };
  const put = async (/** @type {string} */ piece, /** @type {Uint8Array} */ body) => api.request('PUT', `/v1/recordings/${id}/${piece}`,
    { body: /** @type {Uint8Array<ArrayBuffer>} */ (body), headers: { 'content-type': 'application/octet-stream', ...inDelivery(job.delivery.id) } });
  await put('details', await lib.sealDetails(details));
  const poster = await makePoster(job.file);
  if (poster) await put('poster', await lib.sealPoster(poster));
}

// ---------- staff, policy, audit ----------
async function loadStaff() {
  /** @type {StaffView[]} */
  const staff = await api.get('/v1/studio/staff');
  const me = claims(token ?? '')?.sub;
  const admin = studio?.role === 'admin';
  $('#staff').replaceChildren(...staff.map((s) => el('li', { 'data-user': s.user_id },
    el('strong', {}, el('bdi', {}, s.user_id)), ` · ${s.role}`,
    el('span', { class: 'meta' }, `added ${fmtDay(s.added_at)} by `, el('bdi', {}, s.added_by)),
    admin && s.user_id !== me ? el('button', { type: 'button', class: 'secondary', 'aria-label': `Remove ${s.user_id} from the staff`,
      onclick: () => api.request('DELETE', `/v1/studio/staff/${encodeURIComponent(s.user_id)}`).then(loadStaff).catch(fail) }, 'Remove') : null)));
}

/** @param {SubmitEvent} e */
async function addStaff(e) {
  e.preventDefault();
  await api.request('POST', '/v1/studio/staff', { json: { user_id: $input('#staff-user').value.trim(),
    role: /** @type {HTMLSelectElement} */ ($('#staff-role')).value } });
  $input('#staff-user').value = '';
  await loadStaff();
}

/** @param {SubmitEvent} e */
async function savePolicy(e) {
  e.preventDefault();
  studio = await api.json('PUT', '/v1/studio/policy', { unclaimed_days: Number($input('#policy-days').value) });
  announce('Saved.');
  await loadDeliveries();
}

/** What a row of the studio's log says. @param {import('./api.js').AuditEntry} a @returns {(string | Node)[]} */
function auditSentence(a) {
  /** @type {Record<string, unknown>} */
  let m = {};
  try { m = JSON.parse(a.metadata || '{}') ?? {}; } catch { /* shown without details */ }
  const customer = deliveries.find((d) => d.id === a.target)?.customer ?? (typeof m.customer === 'string' ? m.customer : null);
  const whose = customer ? ['the delivery for ', el('bdi', {}, customer)] : ['a delivery'];
  if (a.outcome !== 'success') return ['was refused: ', a.action.replace(/[._]/g, ' '), a.target ? ` (${a.target})` : ''];
  switch (a.action) {
    case 'studio.created': return ['created the studio'];
    case 'studio.policy_changed': return [`set unclaimed deliveries to be kept ${String(m.unclaimed_days)} days`];
    case 'staff.added': return ['added ', el('bdi', {}, a.target), ` to the staff as ${String(m.role ?? 'staff')}`];
    case 'staff.removed': return ['removed ', el('bdi', {}, a.target), ' from the staff'];
    case 'delivery.created': return ['started ', ...whose];
    case 'delivery.invited': return [m.again ? 'sent a new invitation for ' : 'invited the parents: ', ...whose];
    case 'delivery.accepted': return ['(a parent) accepted ', ...whose];
    case 'delivery.handed_off': return ['hand-off of ', ...whose, ': the family owns it, the studio’s access ended'];
    case 'delivery.invitation_expired': return ['the invitation for ', ...(customer ? [el('bdi', {}, customer)] : ['a delivery']), ' expired unaccepted'];
    case 'delivery.erased': return ['erased ', ...whose, m.why ? ` (${String(m.why)})` : ''];
    default: return [a.action];
  }
}

async function loadAudit() {
  /** @type {AuditPage} */
  const page = await api.get('/v1/studio/audit?limit=200');
  $('#studio-audit').replaceChildren(...page.items.map((a) => el('tr', { 'data-action': a.action, class: a.outcome === 'success' ? '' : 'denied' },
    el('td', { class: 'num' }, fmtDay(a.at)), el('td', {}, el('bdi', {}, a.actor || '—')), el('td', {}, ...auditSentence(a)),
    el('td', {}, el('bdi', {}, a.ip)))));
}

/** @param {string} view */
function show(view) {
  for (const t of document.querySelectorAll('.tab')) {
    const tab = /** @type {HTMLElement} */ (t);
    if (tab.dataset.view === view) tab.setAttribute('aria-current', 'page'); else tab.removeAttribute('aria-current');
  }
  $('#deliveries-view').hidden = view !== 'deliveries' || open !== null;
  $('#delivery').hidden = view !== 'deliveries' || open === null;
  $('#staff-view').hidden = view !== 'staff';
  $('#studio-audit-view').hidden = view !== 'studio-audit';
  if (view === 'staff') loadStaff().catch(fail);
  if (view === 'studio-audit') loadAudit().catch(fail);
}

/** Saves the studio's records (one JSON file) through the browser's downloads. */
async function exportRecords() {
  const res = await api.request('GET', '/v1/studio/export');
  const url = URL.createObjectURL(await res.blob());
  const a = el('a', { href: url, download: `studio-${studio?.id ?? 'records'}.json` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  announce('The studio’s records are downloaded.');
}

async function eraseRecords() {
  const id = studio?.id ?? '';
  const typed = prompt(`Delete the studio’s records for good? Type the studio’s id (${id}) to confirm.`);
  if (typed === null) return;
  await api.request('DELETE', '/v1/studio', { json: { confirm: typed.trim() } });
  signOut();
}

// ---------- wiring ----------
/** Drops a family's link from this tab and from the form. */
function forgetFamilyInvite() {
  sessionStorage.removeItem(FAMILY_INVITE);
  $input('#delivery-family-invite').value = '';
}

/** Keeps a family's link for the studio from the address (out of the address bar and
 * its history) until the delivery starts; offers it once signed in. */
function takeFamilyInvite() {
  const invited = new URLSearchParams(location.hash.slice(1)).get('family-invite');
  if (invited) {
    sessionStorage.setItem(FAMILY_INVITE, invited);
    history.replaceState(null, '', location.pathname);
  }
  const waiting = sessionStorage.getItem(FAMILY_INVITE);
  if (!waiting || !studio) return;
  $input('#delivery-family-invite').value = waiting;
  /** @type {HTMLDetailsElement} */ ($('#new-delivery')).open = true;
  announce('A family invited the studio into its vault: name the customer and start the delivery.');
}

async function init() {
  partsReady();
  takeFamilyInvite();
  if (!token) return location.assign('/');
  config = await fetch('/web-config.json').then((r) => r.json(), () => ({}));
  try {
    studio = await api.get('/v1/studio');
  } catch (e) {
    // Not a studio's staff (a family's member, or signed out): the family page decides.
    if (e instanceof ApiError && (e.code === 'forbidden' || e.code === 'unauthenticated')) return location.assign('/');
    throw e;
  }
  const s = /** @type {StudioView} */ (studio);
  $('#who').replaceChildren(el('bdi', {}, claims(token)?.sub ?? ''), ' · ', el('bdi', {}, s.name), ` (${s.role})`);
  $('#who').hidden = false;
  const admin = s.role === 'admin';
  /** @type {HTMLElement} */ ($('.tab[data-view="studio-audit"]')).hidden = !admin;
  $('#staff-form').hidden = !admin;
  $('#policy-form').hidden = !admin;
  $('#records').hidden = !admin;
  $input('#policy-days').value = String(s.unclaimed_days);
  scheduleRenewal();
  takeFamilyInvite();
  await loadDeliveries();
  document.body.dataset.ready = 'true';
}

$('#sign-out').addEventListener('click', signOut);
window.addEventListener('hashchange', () => { show('deliveries'); takeFamilyInvite(); });
$('#records-export').addEventListener('click', () => exportRecords().catch(fail));
$('#records-erase').addEventListener('click', () => eraseRecords().catch(fail));
$('#delivery-form').addEventListener('submit', (e) => startDelivery(/** @type {SubmitEvent} */ (e)).catch(fail));
$('#upload-form').addEventListener('submit', (e) => addUploads(/** @type {SubmitEvent} */ (e)));
$('#staff-form').addEventListener('submit', (e) => addStaff(/** @type {SubmitEvent} */ (e)).catch(fail));
$('#policy-form').addEventListener('submit', (e) => savePolicy(/** @type {SubmitEvent} */ (e)).catch(fail));
$('#delivery-close').addEventListener('click', () => { closeDelivery(); loadDeliveries().catch(fail); });
$('#invitation-copy').addEventListener('click', () => {
  navigator.clipboard?.writeText($input('#invitation-link').value)
    .then(() => announce('The invitation link is copied.'), () => $input('#invitation-link').select());
});
document.querySelectorAll('.tab').forEach((t) => t.addEventListener('click', () => show(/** @type {HTMLElement} */ (t).dataset.view ?? '')));
window.addEventListener('unhandledrejection', (e) => fail(e.reason));
init().catch(fail);
