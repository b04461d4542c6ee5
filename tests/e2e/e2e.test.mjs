// End-to-end: the family page in headless Chromium against the real `vault serve` on
// embedded defaults. Every request the browser sends passes a proxy that scans it for
// a marker planted in the plaintext. Screenshots go to <target>/e2e-screenshots.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { startServer, startProxy, launchBrowser, signIn, devCode, makeFile, wavHeader, sha256File, readRange, screenshotDir, accessibilityProblems,
  shot, newPage, upload, mediaRange, linkRange, createStudio, startDelivery, deliverFile } from './harness.mjs';

const MARKER = `PLAINTEXT-MARKER-${crypto.randomBytes(12).toString('hex')}`;
const MiB = 1 << 20;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-e2e-files-'));
let server, proxy, browser, owner, ownerContext;
const ids = {};

/** Chooses `file` in the page's file input and waits for its upload card (the page
 * first compares it with the library, in the browser, for the duplicate warning). */
async function chooseFile(page, file) {
  const before = await page.locator('#uploads li').count();
  await page.setInputFiles('#files', file);
  await page.locator('#uploads li').nth(before).waitFor({ state: 'attached' });
}

/** The page's decrypted bytes of plaintext range [start, end) of a recording. */
async function pageRange(page, id, start, end) {
  return (await mediaRange(page, id, start, end)).bytes;
}

/** The status and error code of the service worker's answer for a range it cannot serve. */
function refusedRange(page, id, start, end) {
  return page.evaluate(async ([id, start, end]) => {
    const r = await fetch(`/media/${id}`, { headers: { range: `bytes=${start}-${end - 1}` } });
    return { status: r.status, code: r.headers.get('x-vault-error'), text: await r.text() };
  }, [id, start, end]);
}

/** A POST of the page's own, with its token. */
function pagePost(page, path) {
  return page.evaluate((path) => fetch(path, { method: 'POST', headers: { authorization: `Bearer ${sessionStorage.getItem('vault.token')}` } })
    .then((r) => r.json()), path);
}

/**
 * Asserts that the proxy scanned the bodies of the parts uploaded for recording `id`
 * (the requests logged since `from`, an index of `proxy.stats.bodies`): at least
 * `atLeast` bytes, none holding the marker, and no request of the page's at all held it.
 */
function assertScanned(from, id, atLeast) {
  const parts = proxy.stats.bodies.slice(from).filter((b) => b.method === 'PUT' && b.url.startsWith(`/v1/recordings/${id}/parts/`));
  const bytes = parts.reduce((n, b) => n + b.bytes, 0);
  assert.ok(parts.length > 0 && bytes > 0 && bytes >= atLeast,
    `the proxy scanned the upload's bodies: ${parts.length} parts, ${bytes} bytes (at least ${atLeast})`);
  assert.deepEqual(parts.filter((b) => b.marker), [], 'no uploaded part held the plaintext marker');
  assert.deepEqual(proxy.stats.markerHits, [], 'no request the page sent held the plaintext marker');
}

/** The line of an upload in the page's list, and which engine sealed how many frames. */
async function uploadEngine(page, id) {
  const item = page.locator(`#uploads li[data-id="${id}"]`);
  return {
    engine: await item.getAttribute('data-engine'),
    webcrypto: Number(await item.getAttribute('data-webcrypto-frames')),
    wasm: Number(await item.getAttribute('data-wasm-frames')),
  };
}

/** Frames of a message of `size` plaintext bytes in frames of `frameLength`: the full
 * ones and the final one (empty when the size is a multiple). */
const frameCount = (size, frameLength) => Math.floor(size / frameLength) + 1;

/** The server's upload status of a recording, asked with the page's own token. */
function uploadStatus(page, id) {
  return page.evaluate((id) => fetch(`/v1/recordings/${id}/upload`, { headers: { authorization: `Bearer ${sessionStorage.getItem('vault.token')}` } })
    .then((r) => r.json()), id);
}

/** Rewrites this device's record of upload `id` as a Vault before sealed parts' digests wrote it. */
function makeRecordOlder(page, id) {
  return page.evaluate(async (id) => {
    const { pending } = await import('/pending.js');
    const record = await pending.get(id);
    const older = { ...record, sent: record.sealed.length };
    delete older.sealed;
    await pending.put(older);
  }, id);
}

/** After a reload: waits until upload `id` is offered to resume and no request body is
 * on its way; answers where the proxy's list of bodies stands. */
async function backToInterrupted(page, id) {
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  await page.locator(`#interrupted-list li[data-id="${id}"]`).waitFor();
  await proxy.settled();
  return proxy.stats.bodies.length;
}

before(async () => {
  server = await startServer();
  proxy = await startProxy(server.url, MARKER);
  // The scan must see a marker when there is one, also split across two writes of a
  // body: otherwise its "no hits" below would prove nothing.
  await new Promise((resolve, reject) => {
    const req = http.request(`${proxy.url}/scanner-self-test`, { method: 'POST' }, (res) => res.resume());
    req.on('error', reject);
    req.write(MARKER.slice(0, 9));
    setTimeout(() => req.end(MARKER.slice(9)), 100);
    const logged = setInterval(() => {
      if (proxy.stats.bodies.length) { clearInterval(logged); resolve(); }
    }, 20);
  });
  assert.deepEqual(proxy.stats.markerHits, ['POST /scanner-self-test'], 'the proxy finds a marker split across writes');
  assert.deepEqual(proxy.stats.bodies.map((b) => [b.url, b.bytes, b.marker]), [['/scanner-self-test', MARKER.length, true]]);
  proxy.stats.markerHits.length = 0;
  browser = await launchBrowser();
  ownerContext = await browser.newContext({ acceptDownloads: true });
  owner = await newPage(ownerContext);
  await owner.goto(proxy.url);
  await owner.waitForSelector('#dev-form:not([hidden])');
  await shot(owner, '01-sign-in');
  await signIn(owner, proxy.url, 'alice', 'smith');
  await shot(owner, '02-empty-family');
});

after(async () => {
  await browser?.close();
  await proxy?.stop();
  await server?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

test('a 200 MiB recording: encrypted upload, listed, played and seeked near the end with the right bytes', async () => {
  const file = path.join(work, 'ultrasound-story.wav');
  const size = 200 * MiB;
  const offsets = [5 * MiB + 3, 100 * MiB, 199 * MiB + 17];
  makeFile(file, size, 'wav', { marker: MARKER, offsets, header: wavHeader(size - 44) });
  const bodyBefore = proxy.stats.bodyBytes, scanFrom = proxy.stats.bodies.length;
  // The upload worker's part senders (web/part-senders.js): each is ended after its parts.
  const senders = [];
  const onWorker = (w) => {
    if (new URL(w.url()).pathname !== '/parts/sender.js') return;
    const sender = { ended: false };
    w.on('close', () => { sender.ended = true; });
    senders.push(sender);
  };
  owner.on('worker', onWorker);
  ids.wav = await upload(owner, file);
  owner.off('worker', onWorker);
  // 25 parts, 16 per sender: part 1 to 16 through one, 17 to 25 through the next.
  assert.equal(senders.length, 2, 'two part senders');
  for (let i = 0; i < 100 && !senders.every((x) => x.ended); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(senders.every((x) => x.ended), 'every part sender is ended once the upload is done');
  // They run under parts/sw.js, which has no fetch handler: sw.js never sees a part.
  assert.deepEqual(await owner.evaluate(async () => {
    const r = await navigator.serviceWorker.getRegistration('/parts/sender.js');
    return [new URL(r?.scope ?? '/').pathname, new URL(r?.active?.scriptURL ?? '/').pathname];
  }), ['/parts/', '/parts/sw.js']);
  assert.ok(ids.wav, 'the upload names its recording');
  assert.ok(proxy.stats.bodyBytes - bodyBefore >= size, 'the whole upload passed the proxy and was scanned');
  assertScanned(scanFrom, ids.wav, size);
  assert.deepEqual(await uploadEngine(owner, ids.wav), { engine: 'webcrypto', webcrypto: frameCount(size, 65536), wasm: 0 },
    'WebCrypto sealed every frame');
  const row = owner.locator(`#recordings tr[data-id="${ids.wav}"]`);
  assert.equal(await row.locator('td .title').textContent(), 'ultrasound-story');
  // Its length, read by the browser from the WAV header: (200 MiB − 44) / 192,000 bytes a second.
  assert.equal(await row.locator('td').nth(1).textContent(), 'audio · 18:12');
  assert.equal(await row.locator('td').nth(2).textContent(), '200.0 MiB');
  await shot(owner, '03-recordings');

  // Play, then seek near the end: the element asks the service worker for ranges.
  proxy.stats.contentRanges.length = 0;
  await row.getByRole('button', { name: /^Play/ }).click();
  const media = owner.locator('#media');
  await owner.waitForFunction(() => document.querySelector('#media')?.readyState >= 1, null, { timeout: 30_000 });
  const duration = await media.evaluate((m) => m.duration);
  assert.ok(Math.abs(duration - (size - 44) / 192000) < 1, `duration ${duration}`);
  const seekTo = duration - 4;
  await media.evaluate((m, t) => new Promise((resolve, reject) => {
    m.addEventListener('seeked', resolve, { once: true });
    m.addEventListener('error', () => reject(new Error('media error')), { once: true });
    m.currentTime = t;
  }), seekTo);
  await owner.waitForFunction(() => document.querySelector('#media').readyState >= 2, null, { timeout: 30_000 });
  await shot(owner, '04-player');
  const starts = proxy.stats.contentRanges.map((r) => Number(/bytes=(\d+)-/.exec(r)[1]));
  assert.ok(starts.some((s) => s > 190 * MiB), `a ciphertext range near the end was fetched: ${starts}`);
  const fetched = proxy.stats.contentRanges.reduce((n, r) => { const [, a, b] = /bytes=(\d+)-(\d+)/.exec(r); return n + (b - a + 1); }, 0);
  assert.ok(fetched < 40 * MiB, `playback fetched only ranges (${fetched} bytes), not the whole object`);

  // The decrypted bytes at the playback position and around the last marker match the original.
  const pos = 44 + Math.floor(seekTo * 192000);
  for (const [a, b] of [[pos, pos + 64 * 1024], [199 * MiB, 199 * MiB + 100], [size - 1000, size]]) {
    assert.deepEqual(await pageRange(owner, ids.wav, a, b), readRange(file, a, b), `bytes ${a}..${b}`);
  }
  assert.deepEqual(proxy.stats.markerHits, [], 'no request the page sent contained the plaintext marker');
});

test('a reload mid-upload, and lost connections, resume from the last stored part', async () => {
  const file = path.join(work, 'first-steps.webm');
  const size = 72 * MiB + 12345;
  makeFile(file, size, 'webm', { marker: MARKER, offsets: [MiB, 40 * MiB] });
  await chooseFile(owner, file);
  const item = owner.locator('#uploads li').last();
  // Wait until at least two parts are stored, then reload the page mid-upload.
  await owner.waitForFunction(() => Number(document.querySelector('#uploads li:last-child')?.dataset.uploaded ?? 0) >= 16 * 1024 * 1024, null, { timeout: 120_000 });
  const id = await item.getAttribute('data-id');
  await owner.reload();
  await owner.waitForFunction(() => document.body.dataset.ready === 'true');
  const interrupted = owner.locator(`#interrupted-list li[data-id="${id}"]`);
  await interrupted.waitFor();
  assert.match(await interrupted.textContent(), /parts stored/);
  await shot(owner, '05-interrupted-upload');
  const stored = await uploadStatus(owner, id);
  assert.ok(stored.next_part >= 2, `parts were stored before the reload (next part ${stored.next_part})`);

  // Resume, with the network failing twice in the middle of part uploads.
  proxy.cutNext(/^PUT .*\/parts\//, 2);
  const partsBefore = proxy.stats.requests;
  await owner.setInputFiles(`#resume-${id}`, file);
  const resumed = owner.locator(`#uploads li[data-id="${id}"]`);
  await resumed.locator('xpath=self::*[@data-done or @data-error]').waitFor({ timeout: 300_000 });
  assert.equal(await resumed.getAttribute('data-error'), null);
  assert.equal(proxy.stats.cuts.length, 2, 'two part uploads were cut mid-body');
  assert.ok(proxy.stats.requests > partsBefore);

  // Download decrypted (streamed by the service worker) and compare with the original.
  const [download] = await Promise.all([
    owner.waitForEvent('download'),
    owner.locator(`#recordings tr[data-id="${id}"] a`).click(),
  ]);
  const saved = path.join(work, 'downloaded.webm');
  assert.equal(download.suggestedFilename(), 'first-steps.webm');
  await download.saveAs(saved);
  assert.equal(await sha256File(saved), await sha256File(file), 'the resumed upload decrypts to the original');
  assert.deepEqual(await owner.evaluate(async () => {
    const { pending } = await import('/pending.js');
    return pending.all();
  }), [], 'nothing is left pending on the device');
  assert.deepEqual(proxy.stats.markerHits, []);
  ids.webm = id;
});

test('pause stops an upload between bytes on the wire; resume finishes it', async () => {
  const file = path.join(work, 'lullaby.ogg');
  const size = 120 * MiB + 99;
  makeFile(file, size, 'pause', { marker: MARKER, offsets: [30 * MiB] });
  await chooseFile(owner, file);
  const item = owner.locator('#uploads li').last();
  await owner.waitForFunction(() => Number(document.querySelector('#uploads li:last-child')?.dataset.uploaded ?? 0) >= 8 * 1024 * 1024, null, { timeout: 120_000 });
  // Clicked from inside the page, at once: on loopback the rest would upload in seconds.
  await owner.evaluate(() => document.querySelector('#uploads li:last-child .pause').click());
  await item.getByRole('button', { name: 'Resume' }).waitFor();
  assert.equal(await item.locator('.state').textContent(), 'Paused');
  const id = await item.getAttribute('data-id');
  const paused = (await uploadStatus(owner, id)).next_part;
  await owner.waitForTimeout(1500);
  assert.equal((await uploadStatus(owner, id)).next_part, paused, 'nothing is uploaded while paused');
  assert.ok(paused < 16, `paused before the end (next part ${paused} of 16)`);
  await item.getByRole('button', { name: 'Resume' }).click();
  await item.locator('xpath=self::*[@data-done or @data-error]').waitFor({ timeout: 120_000 });
  assert.equal(await item.getAttribute('data-error'), null);
  for (const [a, b] of [[0, 5000], [30 * MiB - 10, 30 * MiB + 100], [size - 99, size]]) {
    assert.deepEqual(await pageRange(owner, id, a, b), readRange(file, a, b), `bytes ${a}..${b}`);
  }
  assert.deepEqual(proxy.stats.markerHits, []);
});

test('resuming with a changed file of the same name, size and date never reuses the old key: a new recording', async () => {
  // The file an upload started with; paused after a part or more is stored.
  const original = path.join(work, 'birthday.webm');
  const size = 80 * MiB + 4321;
  makeFile(original, size, 'birthday', { marker: MARKER, offsets: [MiB, 70 * MiB] });
  const when = new Date('2024-05-01T12:00:00.250Z');
  fs.utimesSync(original, when, when);
  await chooseFile(owner, original);
  const item = owner.locator('#uploads li').last();
  await owner.waitForFunction(() => Number(document.querySelector('#uploads li:last-child')?.dataset.uploaded ?? 0) >= 8 * 1024 * 1024, null, { timeout: 120_000 });
  await owner.evaluate(() => document.querySelector('#uploads li:last-child .pause').click());
  await item.getByRole('button', { name: 'Resume' }).waitFor();
  const oldId = await item.getAttribute('data-id');
  const status = await uploadStatus(owner, oldId);
  const stored = status.next_part;
  const record = await owner.evaluate(async (id) => (await import('/pending.js')).pending.get(id), oldId);
  // The device's record holds each sent part's digest as sealed: the one the server checked.
  for (const part of status.parts) assert.equal(record.sealed[part.part_number - 1], part.sha256, `part ${part.part_number}`);
  // Parts whose bytes may have left the device (recorded before each was sent): at
  // least the stored ones, perhaps one more that was on the wire at the pause.
  const sent = record.sealed.length;
  const partPlain = record.part_frames * record.frame_length;
  assert.ok(sent >= stored - 1 && sent >= 1 && sent < record.parts, `${sent} parts sent, ${stored - 1} stored, of ${record.parts}`);

  // The same name, size and date, one byte different in the last part that may have
  // been sent: resuming would encrypt it again under the IVs its first bytes used.
  const changed = path.join(work, 'changed', 'birthday.webm');
  fs.mkdirSync(path.dirname(changed));
  fs.copyFileSync(original, changed);
  const changedAt = (sent - 1) * partPlain + 12_345;
  const fd = fs.openSync(changed, 'r+');
  fs.writeSync(fd, Buffer.from([readRange(original, changedAt, changedAt + 1)[0] ^ 0xff]), 0, 1, changedAt);
  fs.closeSync(fd);
  fs.utimesSync(changed, when, when);

  await owner.reload();
  // (The part the pause stopped is listed before, not after, the mark.)
  const scanFrom = await backToInterrupted(owner, oldId);
  await owner.setInputFiles(`#resume-${oldId}`, changed);
  const fresh = owner.locator(`#uploads li[data-replaces="${oldId}"]`);
  await fresh.locator('xpath=self::*[@data-done or @data-error]').waitFor({ timeout: 300_000 });
  assert.equal(await fresh.getAttribute('data-error'), null);
  assert.match(await fresh.textContent(), /not the file the interrupted upload started with/);
  await owner.locator(`#interrupted-list li[data-id="${oldId}"]`).waitFor();
  await shot(owner, '05b-changed-file-new-recording');
  const newId = await fresh.getAttribute('data-id');
  assert.ok(newId && newId !== oldId, 'a new recording, with its own data key and message id');
  const since = proxy.stats.bodies.slice(scanFrom).map((b) => `${b.method} ${b.url}`);
  // Its key was asked for, to seal the parts again and compare; nothing was sent.
  assert.deepEqual(since.filter((r) => r.includes(`/v1/recordings/${oldId}/`) && !r.endsWith('/upload')),
    [`POST /v1/recordings/${oldId}/key`], 'nothing was sent for the interrupted upload');
  assert.equal((await uploadStatus(owner, oldId)).next_part, stored, 'the interrupted upload is as it was');
  const oldHeader = Buffer.from(record.header, 'hex');
  assert.notDeepEqual(readRange(server.objectPath(newId), 0, oldHeader.length), oldHeader, 'another message header');
  const [download] = await Promise.all([owner.waitForEvent('download'), owner.locator(`#recordings tr[data-id="${newId}"] a`).click()]);
  const saved = path.join(work, 'changed-downloaded.webm');
  await download.saveAs(saved);
  assert.equal(await sha256File(saved), await sha256File(changed), 'the new recording decrypts to the changed file');
  assertScanned(scanFrom, newId, size);

  // The interrupted upload is still offered, and its own file (here with a change in a
  // part never sent, which it may take) completes it under its own key.
  const later = path.join(work, 'later', 'birthday.webm');
  fs.mkdirSync(path.dirname(later));
  fs.copyFileSync(original, later);
  const laterAt = sent * partPlain + 999;
  const fd2 = fs.openSync(later, 'r+');
  fs.writeSync(fd2, Buffer.from('edited after the pause'), 0, 22, laterAt);
  fs.closeSync(fd2);
  fs.utimesSync(later, when, when);
  const resumeFrom = proxy.stats.bodies.length;
  await owner.setInputFiles(`#resume-${oldId}`, later);
  const resumed = owner.locator(`#uploads li[data-id="${oldId}"]`);
  await resumed.locator('xpath=self::*[@data-done or @data-error]').waitFor({ timeout: 300_000 });
  assert.equal(await resumed.getAttribute('data-error'), null);
  assert.equal(await resumed.getAttribute('data-replaces'), null, 'resumed, not replaced');
  const puts = proxy.stats.bodies.slice(resumeFrom).filter((b) => b.method === 'PUT' && b.url.startsWith(`/v1/recordings/${oldId}/parts/`));
  assert.ok(puts.every((b) => Number(b.url.split('/').pop()) >= stored), `only parts from ${stored} on were sent: ${puts.map((b) => b.url)}`);
  for (const [a, b] of [[0, 4096], [laterAt - 10, laterAt + 40], [size - 100, size]]) {
    assert.deepEqual(await pageRange(owner, oldId, a, b), readRange(later, a, b), `bytes ${a}..${b}`);
  }
  assert.deepEqual(await owner.evaluate(async () => (await import('/pending.js')).pending.all()), [], 'nothing is left pending');
  assert.deepEqual(proxy.stats.markerHits, []);
});

test('resuming from a record an older Vault wrote (no sealed digests) says it cannot check the file, starts a new recording and discards the old', async () => {
  const context = await browser.newContext();
  const page = await newPage(context);
  await signIn(page, proxy.url, 'lena', 'older-records');
  const file = path.join(work, 'older-record.webm');
  makeFile(file, 40 * MiB + 17, 'older', { marker: MARKER, offsets: [MiB] });
  await chooseFile(page, file);
  const item = page.locator('#uploads li').last();
  await page.waitForFunction(() => Number(document.querySelector('#uploads li:last-child')?.dataset.uploaded ?? 0) >= 8 * 1024 * 1024, null, { timeout: 120_000 });
  await page.evaluate(() => document.querySelector('#uploads li:last-child .pause').click());
  await item.getByRole('button', { name: 'Resume' }).waitFor();
  const oldId = await item.getAttribute('data-id');
  const stored = (await uploadStatus(page, oldId)).next_part;
  await makeRecordOlder(page, oldId);
  await page.reload();
  const scanFrom = await backToInterrupted(page, oldId);
  await page.setInputFiles(`#resume-${oldId}`, file);
  const fresh = page.locator(`#uploads li[data-replaces="${oldId}"]`);
  await fresh.locator('xpath=self::*[@data-done or @data-error]').waitFor({ timeout: 120_000 });
  assert.equal(await fresh.getAttribute('data-error'), null);
  const text = await fresh.textContent();
  assert.match(text, /cannot check that this is the file the interrupted upload started with/);
  assert.doesNotMatch(text, /This is not the file/, 'it does not say the file changed: it cannot know');
  // No file could resume it from that record: it is discarded, on the server and here.
  await page.locator(`#interrupted-list li[data-id="${oldId}"]`).waitFor({ state: 'detached' });
  await page.waitForFunction(() => !document.querySelector('#interrupted-list li'));
  await shot(page, '05c-older-record-new-recording');
  assert.equal(await page.evaluate(async (id) => (await (await import('/pending.js')).pending.get(id)) ?? null, oldId), null);
  assert.equal((await uploadStatus(page, oldId)).status, 404, 'the server holds nothing of it');
  // Nothing was asked or sent for it, not even its key: only its deletion.
  await proxy.settled();
  const since = proxy.stats.bodies.slice(scanFrom).map((b) => `${b.method} ${b.url}`);
  assert.deepEqual(since.filter((r) => r.includes(`/v1/recordings/${oldId}`) && !r.endsWith('/upload')), [`DELETE /v1/recordings/${oldId}`]);
  assert.ok(stored >= 2, 'it had stored parts');
  assert.deepEqual(proxy.stats.markerHits, []);
  await context.close();
});

test('an upload whose parts are all stored commits from a record an older Vault wrote, with no new recording', async () => {
  const context = await browser.newContext();
  const page = await newPage(context);
  await signIn(page, proxy.url, 'lena', 'older-records');
  const file = path.join(work, 'older-ready.webm');
  makeFile(file, 3 * MiB + 5, 'ready', { marker: MARKER, offsets: [MiB] });
  proxy.refuse(/^POST \/v1\/recordings\/[^/]+\/complete$/);
  let id;
  try {
    await chooseFile(page, file);
    const item = page.locator('#uploads li').last();
    await page.waitForFunction(() => document.querySelector('#uploads li:last-child')?.dataset.id);
    id = await item.getAttribute('data-id');
    // Every part stored, the commit refused (retried meanwhile).
    for (let tries = 0; !(await uploadStatus(page, id)).ready; tries++) {
      assert.ok(tries < 200, 'the parts were stored');
      await page.waitForTimeout(100);
    }
    await makeRecordOlder(page, id);
    await page.reload(); // before the commit may pass
  } finally {
    proxy.refuse(null);
  }
  const scanFrom = await backToInterrupted(page, id);
  await page.setInputFiles(`#resume-${id}`, file);
  const resumed = page.locator(`#uploads li[data-id="${id}"]`);
  await resumed.locator('xpath=self::*[@data-done or @data-error]').waitFor({ timeout: 60_000 });
  assert.equal(await resumed.getAttribute('data-error'), null);
  assert.equal(await resumed.getAttribute('data-replaces'), null, 'committed, not replaced');
  await proxy.settled();
  const since = proxy.stats.bodies.slice(scanFrom).map((b) => `${b.method} ${b.url}`);
  // The commit (and, sometime after, the sealed details a resumed upload saves).
  assert.deepEqual(since.filter((r) => r.includes('/v1/recordings') && !r.startsWith('GET') && !r.endsWith('/details')),
    [`POST /v1/recordings/${id}/complete`], 'no part sent again, no key, no new recording, no deletion');
  assert.deepEqual(await pageRange(page, id, 0, 4096), readRange(file, 0, 4096));
  assert.deepEqual(proxy.stats.markerHits, []);
  await context.close();
});

test('the pure-WASM fallback encrypts and decrypts the same format as WebCrypto', async () => {
  const context = await browser.newContext();
  const page = await newPage(context);
  await signIn(page, proxy.url, 'alice', 'smith', { query: '?crypto=wasm' });
  const file = path.join(work, 'voice-note.ogg');
  const size = 9 * MiB + 777;
  makeFile(file, size, 'ogg', { marker: MARKER, offsets: [123, 9 * MiB] });
  const scanFrom = proxy.stats.bodies.length;
  const id = await upload(page, file);
  assertScanned(scanFrom, id, size);
  // WASM sealed every frame (and WebCrypto none), though this browser has WebCrypto.
  assert.deepEqual(await uploadEngine(page, id), { engine: 'wasm', webcrypto: 0, wasm: frameCount(size, 65536) });
  assert.equal(await page.evaluate(() => navigator.serviceWorker.controller !== null), true);
  // Written by WASM, read by WASM and by WebCrypto (the owner's page).
  for (const [a, b] of [[0, 1000], [8 * MiB - 5, 8 * MiB + 70_000], [size - 10, size]]) {
    const wasm = await mediaRange(page, id, a, b);
    assert.deepEqual(wasm.bytes, readRange(file, a, b), `wasm read ${a}..${b}`);
    assert.equal(wasm.engine, 'wasm', 'the fallback page decrypts in WASM');
    const webcrypto = await mediaRange(owner, id, a, b);
    assert.deepEqual(webcrypto.bytes, readRange(file, a, b), `webcrypto read ${a}..${b}`);
    assert.equal(webcrypto.engine, 'webcrypto');
  }
  // Written by WebCrypto (the 200 MiB recording), read by WASM.
  const read = await mediaRange(page, ids.wav, 150 * MiB, 150 * MiB + 4096);
  assert.deepEqual(read.bytes, readRange(path.join(work, 'ultrasound-story.wav'), 150 * MiB, 150 * MiB + 4096));
  assert.equal(read.engine, 'wasm');
  assert.deepEqual(proxy.stats.markerHits, []);
  await context.close();
});

test("vault-wasm's errors reach the page as Errors with a code; the page reads the code, not the text", async () => {
  const seen = await owner.evaluate(async () => {
    const m = await import('/crypto.js');
    await m.loadWasm();
    const thrown = (f) => {
      try { f(); return null; } catch (e) {
        return { error: e instanceof Error, name: e.name, code: e.code, message: e.message, format: m.isFormatError(e),
          tampered: m.asTampered(e) instanceof m.TamperedError };
      }
    };
    const key = crypto.getRandomValues(new Uint8Array(32));
    const plan = new m.PartPlan(4096, 2);
    const edks = JSON.stringify([{ provider_id: 'p', provider_info: btoa('i'), ciphertext: btoa('c') }]);
    const sealer = m.Sealer.create(key, JSON.stringify({ 'vault:tenant': 'smith', 'vault:object': 'r1' }), edks, plan, crypto.getRandomValues(new Uint8Array(32)));
    const header = sealer.header, length = header.length + 40;
    sealer.free();
    return {
      plan: thrown(() => new m.PartPlan(0, 1)),
      wrongKey: thrown(() => m.Opener.open(header, crypto.getRandomValues(new Uint8Array(32)), length, 'smith', 'r1')),
      otherRecording: thrown(() => m.Opener.open(header, key, length, 'smith', 'r2')),
      cut: thrown(() => m.Opener.open(header.subarray(0, 20), key, length, 'smith', 'r1')),
    };
  });
  const format = { error: true, name: 'VaultError', format: true };
  assert.deepEqual({ ...seen.plan, message: undefined }, { ...format, code: 'misuse', message: undefined, tampered: false }, JSON.stringify(seen.plan));
  assert.match(seen.plan.message, /part plan/);
  assert.deepEqual({ ...seen.wrongKey, message: undefined }, { ...format, code: 'commitment-mismatch', message: undefined, tampered: true });
  assert.deepEqual({ ...seen.otherRecording, message: undefined }, { ...format, code: 'context-mismatch', message: undefined, tampered: true });
  assert.match(seen.otherRecording.message, /vault:object/);
  assert.deepEqual({ ...seen.cut, message: undefined }, { ...format, code: 'truncated', message: undefined, tampered: true });
});

test('part senders answer as fetch would, give every body back, end the senders they replace, and say when a part is lost', async () => {
  const out = await owner.evaluate(async () => {
    const { PartSenders, SenderLost } = await import('/part-senders.js');
    const senders = new PartSenders(2);
    const MiB = 1 << 20;
    // Five PUTs where the server takes none: each answered with its problem document
    // (405), each body given back whole, through three senders.
    const answers = await Promise.all([1, 2, 3, 4, 5].map(async (i) => {
      // Small enough to be sent whole before the refusal (the server does not read it).
      const body = new Uint8Array(1024).fill(i);
      let back = null;
      const res = await senders.put('/v1/no-such-place', { method: 'PUT', body, headers: { 'x-test': `${i}` } }, (b) => { back = b; });
      return { status: res.status, type: res.headers.get('content-type'), lent: body.byteLength === 0,
        back: back?.length === 1024 && back.every((x) => x === i), problem: (await res.json()).type };
    }));
    const live = senders.live.size;
    // Aborted before it is sent, and while it is out: an AbortError, and the body back.
    const before = new AbortController();
    before.abort();
    const early = await senders.put('/v1/x', { method: 'PUT', body: new Uint8Array(4), signal: before.signal }, () => {}).catch((e) => e.name);
    const during = new AbortController();
    let abortedBack = null;
    const late = senders.put('/v1/x', { method: 'PUT', body: new Uint8Array(64 * MiB), signal: during.signal }, (b) => { abortedBack = b; }).catch((e) => e.name);
    during.abort();
    const lateName = await late;
    // A body already given away is refused at once, and nothing is left waiting for it.
    const gone = new Uint8Array(8);
    structuredClone(gone.buffer, { transfer: [gone.buffer] });
    const detached = await senders.put('/v1/x', { method: 'PUT', body: gone }, () => {}).catch((e) => e.name);
    const waiting = [...senders.live].reduce((n, s) => n + s.waiting.size, 0);
    // Ended with a part still out: that part is lost (not a network failure to retry).
    const out = senders.put('/v1/x', { method: 'PUT', body: new Uint8Array(64 * MiB) }, () => {}).catch((e) => e instanceof SenderLost && !(e instanceof TypeError));
    senders.close();
    return { answers, live, early, lateName, abortedBack: abortedBack?.length, detached, waiting, lost: await out, closed: senders.live.size };
  });
  assert.deepEqual(out.answers, [1, 2, 3, 4, 5].map(() => ({ status: 405, type: 'application/problem+json', lent: true, back: true, problem: 'urn:vault:method-not-allowed' })));
  assert.equal(out.live, 1, 'the two replaced senders were ended with their last answer');
  assert.equal(out.early, 'AbortError');
  assert.equal(out.lateName, 'AbortError');
  assert.equal(out.abortedBack, 64 << 20, 'an aborted part comes back');
  assert.equal(out.detached, 'DataCloneError');
  assert.equal(out.waiting, 0);
  assert.equal(out.lost, true, 'a part lost with its sender fails as such');
  assert.equal(out.closed, 0);
});

test('another family sees nothing of these recordings', async () => {
  const context = await browser.newContext();
  const page = await newPage(context);
  await signIn(page, proxy.url, 'mallory', 'jones');
  assert.equal(await page.locator('#recordings tbody tr').count(), 0);
  assert.equal(await page.isVisible('#empty'), true);
  assert.match(await page.textContent('#empty'), /Nothing here yet\.\s+Add your first recording above/);
  await shot(page, '06b-empty-library');
  const answers = await page.evaluate(async (id) => {
    const auth = { authorization: `Bearer ${sessionStorage.getItem('vault.token')}` };
    const meta = await fetch(`/v1/recordings/${id}`, { headers: auth });
    const content = await fetch(`/v1/recordings/${id}/content`, { headers: { ...auth, range: 'bytes=0-99' } });
    const key = await fetch(`/v1/recordings/${id}/key`, { method: 'POST', headers: auth });
    const media = await fetch(`/media/${id}`);
    return { meta: meta.status, content: content.status, key: key.status, media: media.status, mediaText: await media.text() };
  }, ids.wav);
  assert.deepEqual([answers.meta, answers.content, answers.key, answers.media], [404, 404, 404, 404], JSON.stringify(answers));
  assert.ok(!answers.mediaText.includes(MARKER));
  await shot(page, '06-other-family');
  await context.close();
});

test('a member cannot run script as the owner with an HTML "recording"', async () => {
  const victimContext = await browser.newContext({ acceptDownloads: true });
  const victim = await newPage(victimContext);
  await signIn(victim, proxy.url, 'olivia', 'hosts');
  const invited = await victim.evaluate(() => fetch('/v1/family/members', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${sessionStorage.getItem('vault.token')}` },
    body: JSON.stringify({ user_id: 'eve', role: 'member' }),
  }).then((r) => r.status));
  assert.equal(invited, 201);
  const memberContext = await browser.newContext();
  const eve = await newPage(memberContext);
  await signIn(eve, proxy.url, 'eve', 'hosts', { create: false });
  // A "recording" whose bytes are a page with script: it would make eve an owner.
  const file = path.join(work, 'our-scan.html');
  fs.writeFileSync(file, `<!doctype html><title>scan</title><script>localStorage.setItem('pwned', 'script');
document.title = 'ran';
fetch('/v1/family/members/eve', { method: 'PATCH', headers: { 'content-type': 'application/json',
  authorization: 'Bearer ' + sessionStorage.getItem('vault.token') }, body: JSON.stringify({ role: 'owner' }) });
</script><img src=x onerror="localStorage.setItem('pwned', 'img')">`);
  const id = await upload(eve, file);
  await memberContext.close();

  // The owner follows eve's link to the recording's media URL: the service worker
  // answers only navigations the page itself started (a one-time nonce), so the link
  // shows a refusal, not the "recording".
  await victim.goto(`${proxy.url}/media/${id}`);
  assert.match(await victim.textContent('body'), /Open your recordings from your Vault page/);
  // Even with the page's nonce, such a type is a sandboxed download, never a page.
  await victim.goto(proxy.url);
  await victim.waitForFunction(() => document.body.dataset.ready === 'true');
  const row = victim.locator(`#recordings tr[data-id="${id}"]`);
  const [download] = await Promise.all([victim.waitForEvent('download', { timeout: 30_000 }), row.getByRole('link', { name: /^Download/ }).click()]);
  assert.ok(download, 'the browser saves it instead of rendering it');
  // Nor does it run in a frame on the page.
  await victim.evaluate((id) => {
    const frame = document.createElement('iframe');
    frame.src = `/media/${id}`;
    document.body.append(frame);
  }, id);
  await victim.waitForTimeout(2000);
  assert.equal(await victim.evaluate(() => localStorage.getItem('pwned')), null, 'no script of the upload ran');
  assert.notEqual(await victim.title(), 'ran');
  const members = await victim.evaluate(() => fetch('/v1/family/members', {
    headers: { authorization: `Bearer ${sessionStorage.getItem('vault.token')}` } }).then((r) => r.json()));
  assert.equal(members.find((m) => m.user_id === 'eve').role, 'member');
  await victimContext.close();
});

test('a tampered letter shows a clear error and no plaintext', async () => {
  const file = path.join(work, 'letter-to-our-daughter.txt');
  // Three frames of the server's 64 KiB: the second one, tampered below, is a full frame.
  const text = `Dear Ada,\n${'We love you. '.repeat(12_000)}\n${MARKER}\n`;
  fs.writeFileSync(file, text);
  const scanFrom = proxy.stats.bodies.length;
  const id = await upload(owner, file);
  assertScanned(scanFrom, id, text.length);
  const row = owner.locator(`#recordings tr[data-id="${id}"]`);
  await row.getByRole('button', { name: /^Read/ }).click();
  await owner.locator('#letter').waitFor();
  assert.equal(await owner.locator('#letter').textContent(), text, 'the letter decrypts before tampering');
  await shot(owner, '07-letter');

  // Flip one ciphertext bit in the stored object, inside its second frame: after the
  // header and the first frame (sequence number, IV, ciphertext, tag), past the second's
  // sequence number and IV.
  const { header_len: headerLen, frame_length: frameLength, ciphertext_size: stored } = await pagePost(owner, `/v1/recordings/${id}/key`);
  const frameBytes = 4 + 12 + frameLength + 16;
  assert.ok(frameCount(Buffer.byteLength(text), frameLength) >= 3 && stored > headerLen + 2 * frameBytes,
    `the letter spans at least three frames (${stored} bytes stored, frames of ${frameLength})`);
  const object = server.objectPath(id);
  fs.chmodSync(object, 0o644);
  const bytes = fs.readFileSync(object);
  assert.equal(bytes.length, stored);
  bytes[headerLen + frameBytes + 16 + 100] ^= 0x01;
  fs.writeFileSync(object, bytes);
  await owner.reload();
  await owner.waitForFunction(() => document.body.dataset.ready === 'true');
  await owner.locator(`#recordings tr[data-id="${id}"]`).getByRole('button', { name: /^Read/ }).click();
  const error = owner.locator('#player-error');
  await error.waitFor();
  assert.match(await error.textContent(), /damaged or has been tampered with/);
  const shown = await owner.locator('#player').textContent();
  assert.ok(!shown.includes('Dear Ada') && !shown.includes('We love you') && !shown.includes(MARKER),
    'no plaintext is shown, not even the first frame\'s');
  await shot(owner, '08-tampered');
  // The first frame still verifies on its own; a range in the second does not.
  assert.equal((await pageRange(owner, id, 0, 9)).toString(), 'Dear Ada,');
  const refused = await refusedRange(owner, id, frameLength + 10, frameLength + 20);
  assert.deepEqual([refused.status, refused.code], [502, 'tampered'], JSON.stringify(refused));
  assert.ok(!refused.text.includes('We love you'));
});

test('the owner exports the family; the archive decrypts with the official Python SDK', async () => {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await newPage(context);
  await signIn(page, proxy.url, 'erin', 'exporters');
  const file = path.join(work, 'story.wav');
  makeFile(file, 3 * MiB + 123, 'story', { marker: MARKER, offsets: [5000], header: wavHeader(3 * MiB + 123 - 44) });
  const scanFrom = proxy.stats.bodies.length;
  const id = await upload(page, file);
  assertScanned(scanFrom, id, 3 * MiB + 123);
  await page.click('.tab[data-view="members"]');
  await page.click('#export-start');
  await page.locator('#export-result:not([hidden])').waitFor();
  const key = (await page.textContent('#export-key')).trim();
  assert.match(key, /^[0-9a-f]{64}$/);
  await shot(page, '08-export');
  assert.ok(await page.isVisible('#export-copy') && await page.isVisible('#export-print'), 'Copy and Print are offered');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-link')]);
  // The one-time link does not stay on screen to be clicked into a 404.
  await page.locator('#export-used:not([hidden])').waitFor();
  assert.equal(await page.isVisible('#export-link'), false);
  const archive = path.join(work, 'export.tar');
  await download.saveAs(archive);
  const unpacked = path.join(work, 'export');
  const plain = path.join(work, 'export-plain');
  const python = process.env.VAULT_PYTHON ?? 'python3';
  execFileSync(python, ['-c', 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter="data")', archive, unpacked]);
  execFileSync(python, [path.join(unpacked, 'recovery/decrypt.py'), '--key', key, '--out', plain, unpacked]);
  // Named by its title, with the extension of its type (not by id, not without one).
  assert.deepEqual(fs.readdirSync(plain), ['story.wav']);
  assert.equal(await sha256File(path.join(plain, 'story.wav')), await sha256File(file));
  await context.close();
});

test('the owner erases the family: signed out with a clear message, and the family stays gone', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, proxy.url, 'frank', 'erasers');
  await upload(page, (() => { const f = path.join(work, 'erase.wav'); makeFile(f, 200_000, 'erase', { header: wavHeader(200_000 - 44) }); return f; })());
  await page.click('.tab[data-view="members"]');
  await page.click('#erase-family');
  // A dialog, not a prompt: it names the family, offers the export first, and the
  // erase button waits for the family id typed out.
  await page.locator('#erase-dialog[open]').waitFor();
  assert.match(await page.textContent('#erase-dialog'), /The erasers family[\s\S]*Export first/);
  assert.equal(await page.isEnabled('#erase-ok'), false);
  await page.fill('#erase-confirm', 'erasers-typo');
  assert.equal(await page.isEnabled('#erase-ok'), false);
  await page.fill('#erase-confirm', 'erasers');
  await page.click('#erase-ok');
  await page.locator('#sign-in:not([hidden])').waitFor();
  assert.match(await page.textContent('#alert'), /erased/i);
  // The signed receipt of the erasure is handed over.
  const [saved] = await Promise.all([page.waitForEvent('download'), page.click('#notice #receipt-link')]);
  const receipt = JSON.parse(fs.readFileSync(await saved.path(), 'utf8'));
  assert.equal(receipt.kind, 'vault.erasure-receipt');
  assert.ok(receipt.payload.includes('erasers') && receipt.signature);
  assert.equal(await page.isVisible('#sign-out'), false, 'a signed-out page offers no sign-out');
  await shot(page, '12-erased');
  // Signing in again: the page says the family no longer exists; the API answers 410.
  await page.fill('#dev-user', 'frank');
  await page.fill('#dev-family', 'erasers');
  await page.fill('#dev-code', devCode());
  await page.click('#dev-form button[type=submit]');
  await page.waitForFunction(() => /no longer exists/i.test(document.querySelector('#alert')?.textContent ?? ''));
  await context.close();
});

test('members and the audit log, for the owner; an expired session asks to sign in again', async () => {
  await owner.click('.tab[data-view="members"]');
  await owner.click('#invite-by-id summary'); // adding by user id is the second way, folded
  await owner.fill('#invite-user', 'bob');
  await owner.selectOption('#invite-role', 'member');
  await owner.click('#invite-form button[type=submit]');
  const bobRow = owner.locator('#members tbody tr', { hasText: 'bob' });
  await bobRow.waitFor();
  await bobRow.locator('select').selectOption('admin');
  await owner.waitForFunction(() => /bob is now admin/.test(document.querySelector('#status').textContent));
  await shot(owner, '09-members');
  await owner.click('.tab[data-view="audit"]');
  await owner.locator('#audit tbody tr').first().waitFor();
  // In sentences: a play is a play (not a download), a role change names both roles,
  // and the key releases that come with every play are technical entries.
  const audit = await owner.locator('#audit tbody').textContent();
  assert.match(audit, /played “ultrasound-story”/);
  assert.match(audit, /saved a decrypted copy of “first-steps”/);
  assert.match(audit, /made bob admin \(was member\)/);
  assert.match(audit, /added bob as member/);
  assert.doesNotMatch(audit, /key\.released|unlocked/, 'key releases are technical entries');
  await owner.check('#audit-technical');
  assert.match(await owner.locator('#audit tbody').textContent(), /unlocked “ultrasound-story” to play or save it/);
  await owner.uncheck('#audit-technical');
  await owner.selectOption('#audit-kind', 'members');
  const members = await owner.locator('#audit tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.action));
  assert.ok(members.length >= 3 && members.every((a) => a.startsWith('member.') || a === 'family.created'), members.join());
  await owner.selectOption('#audit-kind', '');
  await shot(owner, '10-audit');

  // Bob, a member now an admin, signs in at phone width; his token then expires.
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const page = await newPage(context);
  await signIn(page, proxy.url, 'bob', 'smith', { create: false });
  assert.ok(await page.locator(`#recordings tr[data-id="${ids.wav}"]`).isVisible());
  await shot(page, '11-phone');
  const short = await page.evaluate((code) => fetch('/dev/token', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: 'bob', family_id: 'smith', code, ttl_secs: 1 }) }).then((r) => r.json()), devCode());
  await page.evaluate((t) => sessionStorage.setItem('vault.token', t), short.token);
  await page.waitForTimeout(2500);
  await page.reload();
  await page.locator('#sign-in').waitFor();
  assert.match(await page.locator('#alert').textContent(), /session has expired/);
  await context.close();

  // An identity provider front end hands the page its token in the URL fragment,
  // with the state the page sent it there with: accepted as is.
  const handoff = await browser.newContext();
  const landing = await newPage(handoff);
  const token = await landing.request.post(`${proxy.url}/dev/token`, { data: { user_id: 'bob', family_id: 'smith', code: devCode() } }).then((r) => r.json());
  await landing.goto(proxy.url);
  await landing.evaluate(() => sessionStorage.setItem('vault.sign-in-state', 'state-from-the-page'));
  await landing.goto('about:blank');
  await landing.goto(`${proxy.url}/#token=${token.token}&state=state-from-the-page`);
  await landing.waitForFunction(() => document.body.dataset.ready === 'true');
  assert.equal(new URL(landing.url()).hash, '', 'the token does not stay in the address bar');
  assert.match(await landing.locator('#who').textContent(), /bob · The smith family/);
  assert.equal(await landing.isVisible('#confirm-sign-in'), false);
  await handoff.close();

  // A token in a link the page did not ask for (someone else's, to capture uploads):
  // the page asks first, and Cancel leaves the tab as it was.
  const lured = await browser.newContext();
  const victim = await newPage(lured);
  const foreign = await victim.request.post(`${proxy.url}/dev/token`, { data: { user_id: 'mallory', family_id: 'lures', code: devCode() } }).then((r) => r.json());
  await victim.goto(`${proxy.url}/#token=${foreign.token}`);
  await victim.locator('#confirm-sign-in[open]').waitFor();
  assert.match(await victim.locator('#confirm-sign-in').textContent(), /mallory[\s\S]*lures/);
  await shot(victim, '13-link-sign-in');
  await victim.click('#confirm-sign-in button[value=cancel]');
  await victim.locator('#sign-in:not([hidden])').waitFor();
  assert.equal(await victim.evaluate(() => sessionStorage.getItem('vault.token')), null, 'not signed in');
  await lured.close();

  // Every form control has an accessible name.
  const unlabeled = await owner.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter((e) => !(e.labels?.length || e.getAttribute('aria-label') || e.textContent.trim())).map((e) => e.id || e.outerHTML.slice(0, 60)));
  assert.deepEqual(unlabeled, []);
});

test('on a phone an admin keeps roles, removal and who did what; the player stops when leaving; plain words for people', async () => {
  // Bob is an admin of the smith family (the test before). At 390×844, as on a phone.
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const page = await newPage(context);
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  await signIn(page, proxy.url, 'bob', 'smith', { create: false });

  // Recordings: title, then kind, size and date on one line under it; the actions in
  // one row, not a tower of buttons.
  const row = page.locator(`#recordings tr[data-id="${ids.wav}"]`);
  const meta = row.locator('.meta');
  assert.ok(await meta.isVisible(), 'kind, size and date are shown under the title');
  assert.match(await meta.textContent(), /^audio · 18:12 · 200\.0 MiB · \w{3} \d{1,2}, \d{4}/);
  await shot(page, '14-phone-recordings');
  const rowHeight = (await row.boundingBox()).height;
  assert.ok(rowHeight <= 110, `a recording's row is ${rowHeight}px high`);

  // The player takes focus, and stops when the admin goes to another view.
  const playButton = row.getByRole('button', { name: /^Play/ });
  await playButton.click();
  await page.locator('#player:not([hidden]) #media').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'player-title', 'Play moves focus to the player');
  await page.click('.tab[data-view="members"]');
  assert.equal(await page.isVisible('#player'), false, 'the player does not follow to Members');
  assert.equal(await page.locator('#media').count(), 0, 'nothing keeps playing');

  // Members: role and removal are there for every member on a phone.
  const members = page.locator('#members tbody tr');
  await members.first().waitFor();
  for (const r of await members.all()) {
    assert.ok(await r.locator('select').isVisible(), 'the role can be changed');
    assert.ok(await r.getByRole('button', { name: /^Remove/ }).isVisible(), 'the member can be removed');
  }
  await shot(page, '15-phone-members');
  // The invite field checks a user id in the browser (its pattern compiles) and says what it wants.
  await page.click('#invite-by-id summary');
  await page.fill('#invite-user', 'Grandpa Joe');
  assert.equal(await page.locator('#invite-user').evaluate((e) => e.validity.patternMismatch), true);
  await page.fill('#invite-user', '');

  // Audit: when, who and what on a phone.
  await page.click('.tab[data-view="audit"]');
  const first = page.locator('#audit tbody tr').first();
  await first.waitFor();
  for (const n of [0, 1, 2]) assert.ok(await first.locator('td').nth(n).isVisible(), `audit column ${n + 1} is shown`);
  await shot(page, '16-phone-audit');

  // Back to the library: Close gives focus back to the Play button that opened it.
  await page.click('.tab[data-view="recordings"]');
  await playButton.click();
  await page.locator('#player:not([hidden])').waitFor();
  await page.click('#player-close');
  assert.equal(await page.isVisible('#player'), false);
  assert.equal(await playButton.evaluate((b) => b === document.activeElement), true, 'focus returns to Play');

  // Focus rings stand out against the page (WCAG 1.4.11: 3:1 at least).
  const ring = await page.evaluate(() => [...document.styleSheets].flatMap((s) => [...s.cssRules])
    .find((rule) => rule instanceof CSSStyleRule && rule.selectorText.includes('button:focus-visible'))?.style.outlineColor ?? '');
  const [r, g, b] = ring.match(/\d+/g).map(Number);
  const lum = (c) => { const s = c / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; };
  const contrast = 1.05 / (0.2126 * lum(r) + 0.7152 * lum(g) + 0.0722 * lum(b) + 0.05);
  assert.ok(contrast >= 3, `focus ring ${ring} has contrast ${contrast.toFixed(1)}:1 on white`);
  assert.deepEqual(consoleErrors, [], 'no console errors (an invalid pattern would log one)');

  // Delete moves to the trash, with Undo and the date it would be erased (30 days on).
  const thirtyDays = new Date(Date.now() + 30 * 86_400_000).toLocaleDateString(undefined, { dateStyle: 'long' });
  await row.getByRole('button', { name: /^Delete/ }).click();
  await page.locator('#notice:not([hidden]) #undo-trash').waitFor();
  assert.equal(await row.count(), 0, 'the recording left the library');
  assert.ok((await page.textContent('#notice')).includes(`in the trash until ${thirtyDays}`), await page.textContent('#notice'));
  await page.click('#undo-trash');
  await row.waitFor();
  await row.getByRole('button', { name: /^Delete/ }).click();
  await page.locator('#notice:not([hidden]) #undo-trash').waitFor();
  // The trash shows who put it there and when it will be erased; nobody can play it.
  await page.click('.tab[data-view="trash"]');
  const binned = page.locator(`#trash-list li[data-id="${ids.wav}"]`);
  await binned.waitFor();
  assert.match(await binned.textContent(), new RegExp(`Deleted by bob on .* · erased on ${thirtyDays}`));
  assert.ok(await binned.locator('.erase-after').isVisible(), 'the end date is shown on a phone');
  assert.equal((await refusedRange(page, ids.wav, 0, 10)).status >= 400, true, 'no bytes from the trash');
  await shot(page, '17-phone-trash');
  // Delete forever keeps the signed receipt the service answers with.
  await binned.getByRole('button', { name: /^Delete forever/ }).click();
  await page.locator('#notice:not([hidden]) #receipt-link').waitFor();
  assert.equal(await binned.count(), 0, 'the recording left the trash');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#receipt-link')]);
  const receipt = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
  assert.equal(receipt.kind, 'vault.erasure-receipt');
  assert.ok(receipt.signature && receipt.public_key, 'signed');
  assert.ok(receipt.payload.includes(ids.wav), 'the receipt names the recording');
  // The audit log tells the story in words.
  await page.click('.tab[data-view="audit"]');
  await page.locator('#audit tbody tr[data-action="recording.deleted"]').first().waitFor();
  const story = await page.textContent('#audit tbody');
  for (const said of ['to the trash', 'from the trash', 'forever, from the trash']) assert.ok(story.includes(said), said);
  await context.close();

  // A relative who is not invited tries to create the existing family: told what to do.
  const carolContext = await browser.newContext();
  const carol = await newPage(carolContext);
  await carol.goto(proxy.url);
  await carol.fill('#dev-user', 'carol');
  await carol.fill('#dev-family', 'smith');
  await carol.fill('#dev-code', devCode());
  await carol.click('#dev-form button[type=submit]');
  await carol.locator('#create-family:not([hidden])').waitFor();
  await carol.fill('#family-name', 'The smith family');
  await carol.click('#family-form button[type=submit]');
  await carol.locator('#alert:not([hidden])').waitFor();
  const said = await carol.locator('#alert').textContent();
  assert.match(said, /already exists\. Ask one of its owners to invite you with your user id: carol\./);
  assert.doesNotMatch(said, /server answered|\b409\b/);
  await carolContext.close();
});

test('a short-lived sign-in renews itself: an upload outlives the token it started with', async () => {
  const context = await browser.newContext();
  const page = await newPage(context);
  await page.goto(proxy.url);
  // An 8-second token, as identity providers hand out short ones (Clerk's: a minute).
  const issued = await page.evaluate((code) => fetch('/dev/token', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: 'bob', family_id: 'smith', code, ttl_secs: 8 }) }).then((r) => r.json()), devCode());
  const first = issued.token;
  await page.evaluate((t) => sessionStorage.setItem('vault.token', t), first);
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  const expiresAt = JSON.parse(Buffer.from(first.split('.')[1], 'base64url').toString()).exp * 1000;

  const file = path.join(work, 'long-story.wav');
  const size = 48 * MiB + 7;
  makeFile(file, size, 'renewal', { marker: MARKER, offsets: [40 * MiB], header: wavHeader(size - 44) });
  await chooseFile(page, file);
  const item = page.locator('#uploads li').last();
  await page.waitForFunction(() => Number(document.querySelector('#uploads li:last-child')?.dataset.uploaded ?? 0) >= 8 * 1024 * 1024, null, { timeout: 120_000 });
  await page.evaluate(() => document.querySelector('#uploads li:last-child .pause').click());
  await item.getByRole('button', { name: 'Resume' }).waitFor();
  const id = await item.getAttribute('data-id');

  // Past the first token's expiry and the server's 30 s of clock leeway: it is refused now.
  await page.waitForTimeout(Math.max(0, expiresAt + 31_000 - Date.now()));
  const refused = await page.evaluate((t) => fetch('/v1/family', { headers: { authorization: `Bearer ${t}` } }).then((r) => r.status), first);
  assert.equal(refused, 401, 'the token the upload started with has expired');
  const current = await page.evaluate(() => sessionStorage.getItem('vault.token'));
  assert.notEqual(current, first, 'the page renewed its token');
  assert.equal(await page.isVisible('#sign-in'), false, 'still signed in');

  // The upload goes on, and finishes, with the renewed tokens.
  await item.getByRole('button', { name: 'Resume' }).click();
  await item.locator('xpath=self::*[@data-done or @data-error]').waitFor({ timeout: 120_000 });
  assert.equal(await item.getAttribute('data-error'), null);
  assert.deepEqual(await pageRange(page, id, size - 100, size), readRange(file, size - 100, size));
  assert.deepEqual(proxy.stats.markerHits, []);
  await context.close();
});

test('every view passes axe-core (WCAG 2.1 A and AA) with no serious or critical violation, on a phone and a desktop', async () => {
  // The check itself finds what it should (an image without a text alternative).
  const probe = await browser.newContext();
  const probePage = await probe.newPage();
  await probePage.setContent('<!doctype html><html lang="en"><title>probe</title><main><img src="data:,"></main></html>');
  assert.match((await accessibilityProblems(probePage)).join(), /image-alt/);
  await probe.close();

  const problems = [];
  const check = async (page, label) => {
    for (const p of await accessibilityProblems(page)) problems.push(`${label}: ${p}`);
  };
  await owner.reload(); // the library as it is now (Bob's uploads included)
  await owner.waitForFunction(() => document.body.dataset.ready === 'true');
  for (const [size, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]]) {
    const fresh = await browser.newContext({ viewport });
    const signInPage = await newPage(fresh);
    await signInPage.goto(proxy.url);
    await signInPage.locator('#dev-form:not([hidden])').waitFor();
    await check(signInPage, `${size} sign-in`);
    await fresh.close();

    await owner.setViewportSize(viewport);
    await owner.click('.tab[data-view="recordings"]');
    await check(owner, `${size} recordings`);
    // A WAV (the browser plays it; the test's other videos are random bytes).
    await owner.locator('#recordings tbody tr', { hasText: 'long-story' }).getByRole('button', { name: /^Play/ }).click();
    await owner.locator('#player:not([hidden])').waitFor();
    await owner.waitForFunction(() => document.querySelector('#media') || !document.querySelector('#player-error').hidden);
    assert.equal(await owner.isVisible('#player-error'), false, await owner.textContent('#player-error'));
    await check(owner, `${size} player`);
    await owner.click('#player-close');
    await owner.click('.tab[data-view="members"]');
    await owner.locator('#members tbody tr').first().waitFor();
    await check(owner, `${size} members`);
    await owner.click('#erase-family');
    await owner.locator('#erase-dialog[open]').waitFor();
    await check(owner, `${size} erase dialog`);
    await owner.click('#erase-dialog button[value=cancel]');
    await owner.click('.tab[data-view="audit"]');
    await owner.locator('#audit tbody tr').first().waitFor();
    await check(owner, `${size} audit`);
    // The trash, with something in it: its end date is on screen at this size.
    await owner.click('.tab[data-view="recordings"]');
    const doomed = owner.locator('#recordings tbody tr', { hasText: 'long-story' });
    await doomed.getByRole('button', { name: /^Delete/ }).click();
    await owner.locator('#notice:not([hidden]) #undo-trash').waitFor();
    await owner.click('.tab[data-view="trash"]');
    const item = owner.locator('#trash-list li', { hasText: 'long-story' });
    await item.waitFor();
    assert.ok(await item.locator('.erase-after').isVisible(), `${size}: the end date is shown`);
    assert.ok(await item.getByRole('button', { name: /^Restore/ }).isVisible(), `${size}: Restore is shown`);
    await shot(owner, `18-${size}-trash`);
    await check(owner, `${size} trash`);
    await item.getByRole('button', { name: /^Restore/ }).click();
    await owner.locator('#trash-empty:not([hidden])').waitFor();
  }
  await owner.setViewportSize({ width: 1280, height: 800 });
  assert.deepEqual(problems, []);
});

test('"How your recordings are protected" says plainly who can open what, at both sizes', async () => {
  for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
    const context = await browser.newContext({ viewport });
    const page = await newPage(context);
    await page.goto(proxy.url);
    await page.click('#protection-link');
    await page.locator('h2', { hasText: 'How your recordings are protected' }).waitFor();
    const text = await page.textContent('main');
    // The honest parts: the server is not blind, storage is; what cannot be protected.
    assert.match(text, /whoever controls Vault's servers and its key service\s+could read your recordings/);
    assert.match(text, /storage service alone cannot/);
    assert.match(text, /What Vault cannot protect/);
    assert.deepEqual(await accessibilityProblems(page), []);
    await shot(page, `17-protection-${viewport.width}`);
    await context.close();
  }
});

test('an upload can be cancelled, and an interrupted one discarded: nothing of either is left', async () => {
  await owner.click('.tab[data-view="recordings"]');
  const status = (id) => owner.evaluate((id) => fetch(`/v1/recordings/${id}/upload`,
    { headers: { authorization: `Bearer ${sessionStorage.getItem('vault.token')}` } }).then((r) => r.status), id);
  const recorded = (id) => owner.evaluate(async (id) => (await import('/pending.js')).pending.all().then((all) => all.some((p) => p.id === id)), id);

  // Cancel while it runs: one progress bar, then the card, the server's upload and this
  // device's record are gone.
  const file = path.join(work, 'cancel-me.webm');
  makeFile(file, 120 * MiB + 5, 'cancel', { marker: MARKER, offsets: [MiB] });
  await chooseFile(owner, file);
  const item = owner.locator('#uploads li').last();
  await owner.waitForFunction(() => Number(document.querySelector('#uploads li:last-child')?.dataset.uploaded ?? 0) >= 8 * 1024 * 1024, null, { timeout: 120_000 });
  assert.equal(await item.locator('progress').count(), 1, 'one progress bar per file');
  const id = await item.getAttribute('data-id');
  assert.equal(await status(id), 200);
  await owner.evaluate(() => document.querySelector('#uploads li:last-child .cancel').click());
  await owner.waitForFunction((id) => !document.querySelector(`#uploads li[data-id="${id}"]`), id);
  assert.equal(await status(id), 404, 'the server no longer has the upload');
  assert.equal(await recorded(id), false, 'this device forgot it');
  assert.equal(await owner.locator(`#recordings tr[data-id="${id}"]`).count(), 0);

  // Discard an interrupted one (left by a reload).
  await chooseFile(owner, file);
  await owner.waitForFunction(() => Number(document.querySelector('#uploads li:last-child')?.dataset.uploaded ?? 0) >= 8 * 1024 * 1024, null, { timeout: 120_000 });
  const left = await owner.locator('#uploads li').last().getAttribute('data-id');
  await owner.reload();
  await owner.waitForFunction(() => document.body.dataset.ready === 'true');
  const interrupted = owner.locator(`#interrupted-list li[data-id="${left}"]`);
  await interrupted.getByRole('button', { name: /^Discard/ }).click();
  await interrupted.waitFor({ state: 'detached' });
  assert.equal(await status(left), 404);
  assert.equal(await recorded(left), false);
  assert.deepEqual(proxy.stats.markerHits, []);
});

test('a photo is shown as a photo: View, decrypted in the page, saved with its extension', async () => {
  await owner.click('.tab[data-view="recordings"]');
  const file = path.join(work, 'ultrasound-print.png');
  // A real 1×1 PNG (an ultrasound print, as far as this test goes).
  fs.writeFileSync(file, Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64'));
  const id = await upload(owner, file);
  const row = owner.locator(`#recordings tr[data-id="${id}"]`);
  assert.equal(await row.locator('td').nth(1).textContent(), 'photo');
  const stored = await owner.evaluate((id) => fetch(`/v1/recordings/${id}`, { headers: { authorization: `Bearer ${sessionStorage.getItem('vault.token')}` } }).then((r) => r.json()), id);
  assert.equal(stored.kind, 'photo', 'the server keeps photos as a kind of their own');
  await row.getByRole('button', { name: /^View/ }).click();
  const img = owner.locator('#player:not([hidden]) #photo');
  await img.waitFor();
  await owner.waitForFunction(() => document.querySelector('#photo')?.complete && document.querySelector('#photo').naturalWidth > 0);
  assert.equal(await img.evaluate((i) => `${i.naturalWidth}×${i.naturalHeight}`), '1×1', 'decrypted and decoded as an image');
  assert.equal(await owner.locator('#letter').count(), 0, 'never shown as text');
  const [download] = await Promise.all([owner.waitForEvent('download'), row.getByRole('link', { name: /^Download/ }).click()]);
  assert.equal(download.suggestedFilename(), 'ultrasound-print.png');
  const saved = path.join(work, 'photo-back.png');
  await download.saveAs(saved);
  assert.equal(await sha256File(saved), await sha256File(file));
  await owner.click('#player-close');
});

test('an invitation link lets a grandparent join on a phone, once; the family sees their name', async () => {
  // The owner makes a link for Grandpa Joe on the Members page (desktop).
  await owner.setViewportSize({ width: 1280, height: 800 });
  await owner.click('.tab[data-view="members"]');
  await owner.fill('#invite-name', 'Grandpa Joe');
  await owner.selectOption('#invite-link-role', 'member');
  await owner.click('#invite-link-form button[type=submit]');
  await owner.locator('#invite-result:not([hidden])').waitFor();
  const link = await owner.inputValue('#invite-link');
  assert.match(link, /\/#invite=[A-Za-z0-9_-]{43}&family=smith$/);
  assert.match(await owner.textContent('#invite-until'), /^Works once, until /);
  const waiting = owner.locator('#invitations li[data-state="pending"]', { hasText: 'Grandpa Joe' });
  await waiting.waitFor();
  assert.match(await waiting.textContent(), /member · waiting, until/);
  const problems = (await accessibilityProblems(owner)).map((p) => `desktop members with a link: ${p}`);
  await shot(owner, '19-invitation-link');

  // Joe opens it on his phone, signs in, and joins.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const joe = await newPage(phone);
  await joe.goto(link.replace(/^https?:\/\/[^/]+/, proxy.url));
  await joe.locator('#notice:not([hidden])').waitFor();
  assert.match(await joe.textContent('#notice'), /invited to the family vault smith\. Sign in to accept/);
  assert.equal(await joe.inputValue('#dev-family'), 'smith', 'the family is filled in from the link');
  assert.equal(new URL(joe.url()).hash, '', 'the secret left the address bar');
  await joe.fill('#dev-user', 'joe');
  await joe.fill('#dev-code', devCode());
  await joe.click('#dev-form button[type=submit]');
  await joe.locator('#join-family:not([hidden])').waitFor();
  assert.equal(await joe.isVisible('#create-family'), false, 'not asked to create a family');
  for (const p of await accessibilityProblems(joe)) problems.push(`phone join: ${p}`);
  await shot(joe, '20-phone-join');
  await joe.click('#join-ok');
  await joe.waitForFunction(() => document.body.dataset.ready === 'true');
  assert.match(await joe.textContent('#notice'), /Welcome to The smith family: you joined as member\./);
  assert.equal(await joe.isVisible('.tab[data-view="members"]'), false, 'a member does not manage members');
  assert.ok(await joe.locator('#recordings tbody tr').count() > 0, 'the library is there');
  await phone.close();

  // The same link again, for someone else: refused in plain words, nobody joins.
  const other = await browser.newContext();
  const eve = await newPage(other);
  await eve.goto(link.replace(/^https?:\/\/[^/]+/, proxy.url));
  await eve.fill('#dev-user', 'eve');
  await eve.fill('#dev-code', devCode());
  await eve.click('#dev-form button[type=submit]');
  await eve.locator('#join-family:not([hidden])').waitFor();
  await eve.click('#join-ok');
  await eve.locator('#alert:not([hidden])').waitFor();
  assert.match(await eve.textContent('#alert'), /cannot be used any more/);
  assert.equal(await eve.isVisible('#app'), false);
  await other.close();

  // The family sees Grandpa Joe by name, in Members and in the audit log.
  await owner.click('.tab[data-view="recordings"]');
  await owner.click('.tab[data-view="members"]');
  const row = owner.locator('#members tbody tr[data-user="joe"]');
  await row.waitFor();
  assert.equal(await row.locator('.person').textContent(), 'Grandpa Joe (joe)');
  // Bob was added by his user id: the owner gives him the name the family uses.
  const bobRow = owner.locator('#members tbody tr[data-user="bob"]');
  await bobRow.locator('details.rename summary').click();
  await bobRow.locator('form.rename input').fill('Uncle Bob');
  await bobRow.locator('form.rename button').click();
  await owner.locator('#members tbody tr[data-user="bob"] .person', { hasText: 'Uncle Bob (bob)' }).waitFor();
  for (const p of await accessibilityProblems(owner)) problems.push(`desktop members, naming: ${p}`);
  await owner.locator('#invitations li[data-state="accepted"]', { hasText: 'Grandpa Joe' }).waitFor();
  await owner.click('.tab[data-view="audit"]');
  const joined = owner.locator('#audit tbody tr[data-action="member.joined"]', { hasText: 'with an invitation' });
  await joined.waitFor();
  assert.match(await joined.textContent(), /Grandpa Joe \(joe\)joined as member with an invitation from alice/);
  assert.ok(await owner.locator('#audit tbody tr[data-action="member.joined"]', { hasText: 'was refused' }).count() > 0, "eve's refusal");
  assert.ok(await owner.locator('#audit tbody tr[data-action="invitation.created"]', { hasText: 'invited Grandpa Joe as member' }).count() > 0);
  assert.deepEqual(problems, []);
});

test('the library: posters and titles made and sealed in the browser, grouped by month, a duplicate noticed', async () => {
  await owner.setViewportSize({ width: 1280, height: 800 });
  await owner.click('.tab[data-view="recordings"]');
  // A real photo and a real two-second video, made by the browser itself.
  const made = await owner.evaluate(async () => {
    const canvas = Object.assign(document.createElement('canvas'), { width: 640, height: 480 });
    const g = canvas.getContext('2d');
    const paint = (t) => {
      const grad = g.createLinearGradient(0, 0, 640, 480);
      grad.addColorStop(0, '#203060'); grad.addColorStop(1, `hsl(${t * 40}, 70%, 60%)`);
      g.fillStyle = grad; g.fillRect(0, 0, 640, 480);
      g.fillStyle = '#fff'; g.beginPath(); g.arc(320 + 100 * Math.sin(t), 240, 80, 0, 7); g.fill();
    };
    paint(0);
    const png = await new Promise((r) => canvas.toBlob(r, 'image/png'));
    const stream = canvas.captureStream(25);
    const recorder = new MediaRecorder(stream, { mimeType: 'video/webm' });
    const chunks = [];
    recorder.ondataavailable = (e) => chunks.push(e.data);
    const stopped = new Promise((r) => { recorder.onstop = r; });
    recorder.start(100);
    for (let i = 0; i < 50; i += 1) { paint(i / 10); await new Promise((r) => setTimeout(r, 40)); }
    recorder.stop();
    await stopped;
    const b64 = async (blob) => { const u = new Uint8Array(await blob.arrayBuffer()); let s = ''; for (const b of u) s += String.fromCharCode(b); return btoa(s); };
    return { png: await b64(png), webm: await b64(new Blob(chunks, { type: 'video/webm' })) };
  });
  const photo = path.join(work, 'scan-print.png');
  const video = path.join(work, 'kicking.webm');
  fs.writeFileSync(photo, Buffer.from(made.png, 'base64'));
  fs.writeFileSync(video, Buffer.from(made.webm, 'base64'));
  // A photo taken long ago: its "recorded on" is the file's date, in its own month.
  const old = new Date(2025, 2, 14, 12).getTime() / 1000;
  fs.utimesSync(photo, old, old);
  const photoId = await upload(owner, photo);
  const videoId = await upload(owner, video);
  for (const id of [photoId, videoId]) {
    const item = owner.locator(`#uploads li[data-id="${id}"]`);
    await owner.locator(`#uploads li[data-id="${id}"][data-sealed]`).waitFor({ state: 'attached' });
    assert.equal(await item.getAttribute('data-details-error'), null);
    assert.equal(await item.getAttribute('data-poster'), 'true', `a poster was made for ${id}`);
    console.log(`# poster of ${id}: ${await item.getAttribute('data-poster-ms')} ms`);
  }
  // Each row shows its poster, decrypted in the page, and its title.
  for (const [id, title] of [[photoId, 'scan-print'], [videoId, 'kicking']]) {
    const row = owner.locator(`#recordings tr[data-id="${id}"]`);
    assert.equal(await row.locator('img.poster[data-pending]').count() + await row.locator('img.poster[data-loaded]').count(), 1);
    await row.scrollIntoViewIfNeeded(); // posters are fetched and decrypted as rows come into view
    await row.locator('img.poster[data-loaded]').waitFor();
    assert.equal(await row.locator('.title').textContent(), title);
    // How long it plays, learned in the browser (a MediaRecorder WebM has no duration in its header).
    assert.equal(await row.locator('td').nth(1).textContent(), id === photoId ? 'photo' : 'video · 0:02');
    const size = await row.locator('img.poster').evaluate((i) => [i.naturalWidth, i.naturalHeight]);
    assert.ok(size[0] > 0 && size[0] <= 480 && size[1] <= 480, `a downscaled poster: ${size}`);
    // The server holds no title, only the sealed details.
    const view = await owner.evaluate((id) => fetch(`/v1/recordings/${id}`, { headers: { authorization: `Bearer ${sessionStorage.getItem('vault.token')}` } }).then((r) => r.text()), id);
    assert.ok(!view.includes(title), `the server's view of ${title} has no title: ${view.slice(0, 200)}`);
    assert.match(view, /"title":""/);
  }
  // Grouped by month, newest first: March 2025 comes after this month.
  const months = await owner.locator('#recordings tr.month').allTextContents();
  const march = months.indexOf('March 2025');
  assert.ok(march > 0, `months: ${months}`);
  assert.equal(await owner.locator('#recordings tr.month').nth(march).locator('xpath=following-sibling::tr[1]').getAttribute('data-id'), photoId);
  await shot(owner, '21-library');
  await owner.setViewportSize({ width: 390, height: 844 });
  await shot(owner, '22-phone-library');
  const problems = (await accessibilityProblems(owner)).map((p) => `phone library: ${p}`);
  await owner.setViewportSize({ width: 1280, height: 800 });
  // The same photo again: the page notices (in the browser), and nothing is uploaded if declined.
  const before = await owner.locator('#uploads li').count();
  owner.removeAllListeners('dialog');
  const asked = new Promise((resolve) => owner.once('dialog', (d) => { resolve(d.message()); d.dismiss(); }));
  await owner.setInputFiles('#files', photo);
  const message = await asked;
  owner.on('dialog', (d) => d.accept());
  assert.match(message, /“scan-print\.png” looks like “scan-print”, already in the library/);
  await owner.waitForTimeout(300);
  assert.equal(await owner.locator('#uploads li').count(), before, 'not uploaded again');

  // Title, date and note are edited in the player, sealed again, and kept.
  const kicking = owner.locator(`#recordings tr[data-id="${videoId}"]`);
  await kicking.getByRole('button', { name: /^Play/ }).click();
  await owner.locator('#details-form:not([hidden])').waitFor();
  assert.equal(await owner.inputValue('#details-title'), 'kicking');
  await owner.fill('#details-title', 'Baby kicking');
  await owner.fill('#details-date', '2026-11-02');
  await owner.fill('#details-note', 'Week 20, the first kicks we saw');
  await owner.click('#details-form button[type=submit]');
  await owner.waitForFunction(() => /Saved: Baby kicking/.test(document.querySelector('#status').textContent));
  for (const problem of await accessibilityProblems(owner)) problems.push(`desktop player with details: ${problem}`);
  await owner.click('#player-close');
  await owner.reload();
  await owner.waitForFunction(() => document.body.dataset.ready === 'true');
  const edited = owner.locator(`#recordings tr[data-id="${videoId}"]`);
  assert.equal(await edited.locator('.title').textContent(), 'Baby kicking');
  assert.equal(await edited.locator('.note-text').textContent(), 'Week 20, the first kicks we saw');
  assert.match(await edited.locator('.meta').textContent(), /Nov 2, 2026/);

  // Sound without a picture (as an iPhone's HEVC video plays here): said, not a black box.
  const soundOnly = await owner.evaluate(async () => {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    const out = ctx.createMediaStreamDestination();
    osc.connect(out);
    osc.start();
    const recorder = new MediaRecorder(out.stream, { mimeType: 'audio/webm' });
    const chunks = [];
    recorder.ondataavailable = (e) => chunks.push(e.data);
    const stopped = new Promise((r) => { recorder.onstop = r; });
    recorder.start(100);
    await new Promise((r) => setTimeout(r, 1200));
    recorder.stop();
    await stopped;
    osc.stop();
    const u = new Uint8Array(await new Blob(chunks).arrayBuffer());
    let b = '';
    for (const x of u) b += String.fromCharCode(x);
    return btoa(b);
  });
  const movie = path.join(work, 'iphone-clip.webm');
  fs.writeFileSync(movie, Buffer.from(soundOnly, 'base64'));
  const movieId = await upload(owner, movie);
  await owner.locator(`#recordings tr[data-id="${movieId}"]`).getByRole('button', { name: /^Play/ }).click();
  await owner.locator('#player-error:not([hidden])').waitFor();
  assert.match(await owner.textContent('#player-error'), /without its picture.*HEVC/);
  await owner.click('#player-close');
  assert.deepEqual(problems, []);
});

test('an upload interrupted by signing out goes on when the same person signs in again; nobody else sees it', async () => {
  const context = await browser.newContext();
  const page = await newPage(context);
  await signIn(page, proxy.url, 'alice', 'smith', { create: false });
  // Signing in again on the same tab (no reload: the chosen file lives in this tab).
  const signInHere = async (user) => {
    await page.locator('#sign-in:not([hidden])').waitFor();
    await page.fill('#dev-user', user);
    await page.fill('#dev-family', 'smith');
    await page.fill('#dev-code', devCode());
    await page.click('#dev-form button[type=submit]');
    await page.waitForFunction(() => document.body.dataset.ready === 'true' && !document.querySelector('#app').hidden);
  };
  const file = path.join(work, 'signed-out.webm');
  // Large enough that signing out lands mid-upload at the page's full speed (~110 MB/s
  // on loopback since the server writes parts in place; 96 MiB could finish first).
  makeFile(file, 320 * MiB + 7, 'signed-out');
  await chooseFile(page, file);
  const item = page.locator('#uploads li').last();
  await page.waitForFunction(() => Number(document.querySelector('#uploads li:last-child')?.dataset.uploaded ?? 0) >= 8 * 1024 * 1024, null, { timeout: 120_000 });
  const id = await item.getAttribute('data-id');
  await page.evaluate(() => { document.body.dataset.ready = 'false'; });
  await page.click('#sign-out');
  await page.locator(`#uploads li[data-id="${id}"] .pause`, { hasText: 'Resume' }).waitFor({ state: 'attached' });
  await signInHere('alice');
  // The same recording goes on from its stored parts; the file was not chosen again.
  await page.locator(`#uploads li[data-id="${id}"][data-done]`).waitFor({ timeout: 120_000 });
  assert.equal(await page.locator('#uploads li').count(), 1, 'one card, not a second upload');
  await page.locator(`#recordings tr[data-id="${id}"]`).waitFor();
  assert.equal(await page.locator('#interrupted-list li').count(), 0);

  // Another upload, then someone else signs in on this tab: no trace of it for them.
  await chooseFile(page, file);
  await page.waitForFunction(() => Number(document.querySelector('#uploads li:last-child')?.dataset.uploaded ?? 0) >= 8 * 1024 * 1024, null, { timeout: 120_000 });
  const second = await page.locator('#uploads li').last().getAttribute('data-id');
  await page.evaluate(() => { document.body.dataset.ready = 'false'; });
  await page.click('#sign-out');
  await signInHere('bob');
  assert.equal(await page.locator('#uploads li').count(), 0, "bob sees none of alice's uploads");
  assert.equal(await page.locator(`#interrupted-list li[data-id="${second}"]`).count(), 0);
  await context.close();
});

test('"Download everything" saves every recording, decrypted, into a chosen folder, named by its title', async () => {
  await owner.setViewportSize({ width: 1280, height: 800 });
  await owner.click('.tab[data-view="recordings"]');
  // The folder picker is the browser's own dialog, which a test cannot click; here it
  // answers with a folder of the origin's private file system: a real directory handle,
  // written through the same API.
  await owner.evaluate(async () => {
    const folder = await (await navigator.storage.getDirectory()).getDirectoryHandle('everything', { create: true });
    window.showDirectoryPicker = async () => folder;
  });
  await owner.click('#download-all');
  await owner.waitForFunction(() => /^Saved \d+ of \d+ recordings into “everything”\./.test(document.querySelector('#everything-status').textContent),
    null, { timeout: 300_000 });
  const count = await owner.locator('#recordings tr[data-id]').count();
  // The letter tampered with in an earlier test fails its authentication: reported by
  // name, and no file of it is left; every other recording is saved.
  assert.equal(await owner.textContent('#everything-status'),
    `Saved ${count - 1} of ${count} recordings into “everything”. Not saved: letter-to-our-daughter; try Download on those.`);
  const saved = await owner.evaluate(async () => {
    const folder = await (await navigator.storage.getDirectory()).getDirectoryHandle('everything');
    const out = {};
    for await (const [name, handle] of folder.entries()) {
      const file = await handle.getFile();
      const digest = file.size <= 4_000_000 ? new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer())) : null;
      out[name] = digest ? Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('') : `${file.size} bytes`;
    }
    return out;
  });
  assert.equal(Object.keys(saved).length, count - 1, Object.keys(saved).join(', '));
  assert.equal(saved['letter-to-our-daughter.txt'], undefined, 'nothing of a recording that did not verify');
  assert.equal(saved['scan-print.png'], await sha256File(path.join(work, 'scan-print.png')));
  assert.equal(saved['Baby kicking.webm'], await sha256File(path.join(work, 'kicking.webm')));
  assert.equal(saved['long-story.wav'], `${fs.statSync(path.join(work, 'long-story.wav')).size} bytes`);
  const birthdays = Object.keys(saved).filter((n) => n.startsWith('birthday')).sort();
  assert.deepEqual(birthdays, ['birthday (2).webm', 'birthday.webm'], `two recordings of one title get two names: ${Object.keys(saved).join(', ')}`);
});

test('"Download everything" on a phone (no folder picker) saves one streamed ZIP with every recording by its title', async () => {
  await owner.setViewportSize({ width: 390, height: 844 });
  await owner.click('.tab[data-view="recordings"]');
  // The phone's upload card and player, for the README: an upload paused half-way, then cancelled.
  const big = path.join(work, 'phone-upload.webm');
  makeFile(big, 64 * MiB + 3, 'phone-upload', { marker: MARKER, offsets: [MiB] });
  await chooseFile(owner, big);
  await owner.waitForFunction(() => Number(document.querySelector('#uploads li:last-child')?.dataset.uploaded ?? 0) >= 8 * 1024 * 1024, null, { timeout: 120_000 });
  await owner.evaluate(() => document.querySelector('#uploads li:last-child .pause').click());
  await owner.locator('#uploads li').last().getByRole('button', { name: 'Resume' }).waitFor();
  await owner.locator('#uploads').scrollIntoViewIfNeeded();
  await owner.screenshot({ path: path.join(screenshotDir, 'phone-upload.png') });
  const cancelled = await owner.locator('#uploads li').last().getAttribute('data-id');
  await owner.evaluate(() => document.querySelector('#uploads li:last-child .cancel').click());
  await owner.waitForFunction((id) => !document.querySelector(`#uploads li[data-id="${id}"]`), cancelled);
  const kicking = owner.locator('#recordings tr[data-id]', { hasText: 'Baby kicking' });
  await kicking.getByRole('button', { name: /^Play/ }).click();
  await owner.waitForFunction(() => document.querySelector('#player:not([hidden]) video')?.readyState >= 2, null, { timeout: 30_000 });
  await owner.screenshot({ path: path.join(screenshotDir, 'phone-player.png') });
  await owner.click('#player-close');

  // Chromium on Android, Safari and Firefox have no folder picker.
  await owner.evaluate(() => { window.showDirectoryPicker = undefined; });
  const [download] = await Promise.all([owner.waitForEvent('download', { timeout: 300_000 }), owner.click('#download-all')]);
  assert.equal(download.suggestedFilename(), 'Vault recordings.zip');
  const zip = path.join(work, 'everything.zip');
  await download.saveAs(zip); // waits for the last byte
  await owner.waitForFunction(() => /^Saved \d+ of \d+ recordings in “Vault recordings\.zip”/.test(document.querySelector('#everything-status').textContent),
    null, { timeout: 60_000 });
  const count = await owner.locator('#recordings tr[data-id]').count();
  assert.equal(await owner.textContent('#everything-status'), `Saved ${count - 1} of ${count} recordings in “Vault recordings.zip” among your downloads.`
    + ' Left out (they could not be decrypted): letter-to-our-daughter.txt.');
  await shot(owner, 'phone-download-everything');
  // Python's zipfile reads every entry and checks its CRC-32 (and the Zip64 records).
  const python = process.env.VAULT_PYTHON ?? 'python3';
  const listing = JSON.parse(execFileSync(python, ['-c', `
import hashlib, json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    assert z.testzip() is None, "an entry's CRC-32 does not match"
    print(json.dumps({i.filename: hashlib.sha256(z.read(i)).hexdigest() if i.file_size <= 4_000_000 else f"{i.file_size} bytes"
                      for i in z.infolist()}))`, zip], { maxBuffer: 1 << 20 }).toString());
  const names = Object.keys(listing);
  assert.equal(names.length, count, names.join(', ')); // every recording but one, and the list of what is not included
  assert.equal(listing['scan-print.png'], await sha256File(path.join(work, 'scan-print.png')));
  assert.equal(listing['Baby kicking.webm'], await sha256File(path.join(work, 'kicking.webm')));
  assert.equal(listing['long-story.wav'], `${fs.statSync(path.join(work, 'long-story.wav')).size} bytes`);
  assert.deepEqual(names.filter((n) => n.startsWith('birthday')).sort(), ['birthday (2).webm', 'birthday.webm']);
  assert.equal(listing['letter-to-our-daughter.txt'], undefined, 'nothing of a recording that did not verify');
  const note = execFileSync(python, ['-c', 'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read("Not included.txt").decode())', zip]).toString();
  assert.match(note, /could not be decrypted[^]*letter-to-our-daughter\.txt/);
  await owner.setViewportSize({ width: 1280, height: 800 });
});

/** Every file under `dir` (the server's data: database, WAL, objects) holding `needle`. */
function filesHolding(dir, needle) {
  const hits = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath ?? entry.path, entry.name);
    if (fs.readFileSync(file).includes(Buffer.from(needle))) hits.push(file);
  }
  return hits;
}

/** The viewer's decrypted bytes of [start, end) of a shared recording, or its refusal. */
test('a share link plays for someone without an account, on a phone; its secret and the titles never reach the server', async () => {
  await owner.setViewportSize({ width: 1280, height: 800 });
  await owner.click('.tab[data-view="recordings"]');
  const token = crypto.randomBytes(6).toString('hex');
  const file = path.join(work, `Lullaby for Grandpa ${token}.wav`);
  const size = 6 * MiB;
  makeFile(file, size, `share-${token}`, { header: wavHeader(size - 44), marker: MARKER, offsets: [3 * MiB] });
  const id = await upload(owner, file);
  const row = owner.locator(`#recordings tbody tr[data-id="${id}"]`);
  await row.waitFor();
  const title = (await row.locator('.title').first().textContent()).trim();
  assert.match(title, new RegExp(token), 'the title the page made from the file name');

  // The owner shares it: the link is made in the page; what is sent carries no secret.
  const sent = [];
  const listen = (r) => sent.push(`${r.method()} ${r.url()} ${r.postData() ?? ''}`);
  owner.on('request', listen);
  await row.locator('button', { hasText: 'Share' }).click();
  await owner.locator('#share-dialog[open]').waitFor();
  assert.equal(await owner.locator(`#share-choices input[value="${id}"]`).isChecked(), true, 'the recording it was opened for');
  await owner.fill('#share-name', 'Grandpa Joe');
  await owner.check('#share-download');
  const problems = (await accessibilityProblems(owner)).map((p) => `share dialog: ${p}`);
  await shot(owner, '26-share-dialog');
  await owner.click('#share-make');
  await owner.locator('#share-result:not([hidden])').waitFor();
  const link = await owner.inputValue('#share-link');
  const [, linkId, secret] = /\/share\.html#([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/.exec(link) ?? [];
  assert.ok(linkId && secret, link);
  assert.match(await owner.textContent('#share-until'), /^Works until /);
  await shot(owner, '27-share-link');
  await owner.click('#share-done');
  owner.off('request', listen);
  assert.ok(sent.some((s) => s.startsWith('POST') && s.includes('/v1/family/links')), 'the link was made on the server');
  assert.deepEqual(sent.filter((s) => s.includes(secret)), [], 'no request carried the link secret');
  assert.deepEqual(sent.filter((s) => s.includes(title)), [], 'nor the title in the clear');

  // Grandpa opens it on his phone: no account, no session.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, acceptDownloads: true });
  const joe = await newPage(phone);
  const seen = [];
  joe.on('request', (r) => seen.push(`${r.method()} ${r.url()} ${r.postData() ?? ''}`));
  const viewerPage = await joe.goto(link.replace(/^https?:\/\/[^/]+/, proxy.url));
  // The viewer's own policy: nothing but this origin, no forms.
  const policy = viewerPage.headers()['content-security-policy'];
  assert.match(policy, /^default-src 'none';/);
  assert.match(policy, /connect-src 'self';/);
  assert.match(policy, /form-action 'none'/);
  const item = joe.locator(`#shared-list li[data-id="${id}"]`);
  await item.waitFor();
  assert.equal((await item.locator('.title').textContent()).trim(), title);
  assert.match(await joe.textContent('#shared-status'), /One recording, shared with you until /);
  assert.equal(await item.locator('a', { hasText: 'Save' }).count(), 1, 'saving allowed by the sharer');
  await item.locator('button', { hasText: 'Play' }).click();
  const media = joe.locator('#media');
  await media.waitFor();
  await joe.waitForFunction(() => /** @type {HTMLMediaElement} */ (document.querySelector('#media')).readyState >= 1, null, { timeout: 30_000 });
  // Seek near the end and read the bytes there: exactly the file's.
  await joe.evaluate(() => new Promise((resolve, reject) => {
    const m = /** @type {HTMLMediaElement} */ (document.querySelector('#media'));
    m.addEventListener('seeked', resolve, { once: true });
    m.addEventListener('error', () => reject(new Error('media error')), { once: true });
    m.currentTime = Math.max(0, m.duration - 2);
  }));
  for (const [start, end] of [[0, 64 * 1024], [3 * MiB - 100, 3 * MiB + 4096], [size - 5000, size]]) {
    const got = await linkRange(joe, id, start, end);
    assert.equal(got.status, 206, got.text);
    assert.ok(Buffer.from(got.b64, 'base64').equals(readRange(file, start, end)), `bytes ${start}-${end}`);
  }
  // Browsers stop an idle service worker (a paused film): the page hands the keys back,
  // and playing on costs no new view (the family sees one opening below).
  const cdp = await phone.newCDPSession(joe);
  await cdp.send('ServiceWorker.enable');
  await cdp.send('ServiceWorker.stopAllWorkers');
  const resumed = await linkRange(joe, id, 1000, 2000);
  assert.equal(resumed.status, 206, resumed.text);
  assert.ok(Buffer.from(resumed.b64, 'base64').equals(readRange(file, 1000, 2000)));
  for (const p of await accessibilityProblems(joe)) problems.push(`phone viewer: ${p}`);
  await shot(joe, '28-share-viewer-phone');
  assert.deepEqual(seen.filter((s) => s.includes(secret)), [], "the viewer's requests never carry the secret");
  // The viewer reaches nothing of the family but what the link shows.
  const elsewhere = await joe.evaluate(async (id) => Promise.all([
    fetch('/v1/recordings').then((r) => r.status), fetch('/v1/family/links').then((r) => r.status),
    fetch(`/v1/recordings/${id}/content`).then((r) => r.status), fetch(`/media/${id}`).then((r) => r.status),
  ]), id);
  assert.deepEqual(elsewhere, [401, 401, 401, 401]);
  assert.deepEqual(proxy.stats.markerHits, [], 'no request held the plaintext marker');
  // What the server keeps holds neither the secret nor the title.
  assert.deepEqual(filesHolding(server.dataDir, secret), []);
  assert.deepEqual(filesHolding(server.dataDir, token), []);

  // The family sees the opening beside the library, and withdraws the link: the view
  // under way ends at its next read.
  await owner.click('.tab[data-view="members"]');
  await owner.click('.tab[data-view="recordings"]');
  const listed = owner.locator(`#links li[data-id="${linkId}"]`);
  // The list shown before the tab came back may still be there until it is read again.
  await owner.waitForFunction((id) => / opened once /.test(document.querySelector(`#links li[data-id="${id}"]`)?.textContent ?? ''), linkId, { timeout: 10_000 })
    .catch(() => {});
  assert.match(await listed.textContent(), /Grandpa Joe1 recording · works until .* · opened once · may save copies/);
  await listed.locator('summary', { hasText: 'Who opened it' }).click();
  await listed.locator('.openings li', { hasText: 'HeadlessChrome' }).waitFor();
  assert.match(await listed.locator('.openings li').first().textContent(), /127\.0\.0\.1 · Mozilla/);
  for (const p of await accessibilityProblems(owner)) problems.push(`members with links: ${p}`);
  await shot(owner, '29-share-links-list');
  await listed.locator('button', { hasText: 'Withdraw' }).click();
  await owner.locator(`#links li[data-id="${linkId}"][data-state="revoked"]`).waitFor();
  const after = await linkRange(joe, id, 0, 1000);
  assert.equal(after.status, 410);
  assert.match(after.text, /withdrawn/);
  await joe.reload();
  await joe.locator('#shared-error:not([hidden])').waitFor();
  assert.match(await joe.textContent('#shared-error'), /This link was withdrawn by the family who shared it/);
  await phone.close();

  // The owner keeps links short: a week at most; the dialog offers no longer.
  await owner.click('.tab[data-view="members"]');
  await owner.selectOption('#sharing-days', '7');
  await owner.click('#sharing-form button[type=submit]');
  await owner.waitForFunction(() => document.querySelector('#status')?.textContent?.includes('share links now'));
  await owner.click('.tab[data-view="recordings"]');
  // A link with a passphrase, opened once at most, on a desktop.
  await row.locator('button', { hasText: 'Share' }).click();
  assert.deepEqual(await owner.locator('#share-days option').evaluateAll((os) => os.map((o) => o.value)), ['1', '7']);
  await owner.fill('#share-name', 'Aunt May');
  await owner.fill('#share-passphrase', 'blue whale 42');
  await owner.fill('#share-views', '1');
  await owner.click('#share-make');
  await owner.locator('#share-result:not([hidden])').waitFor();
  const locked = await owner.inputValue('#share-link');
  assert.match(await owner.textContent('#share-until'), /for 1 opening\. It also needs the passphrase/);
  await owner.click('#share-done');
  const desk = await browser.newContext();
  const may = await newPage(desk);
  await may.goto(locked.replace(/^https?:\/\/[^/]+/, proxy.url));
  await may.locator('#passphrase-form:not([hidden])').waitFor();
  await may.fill('#passphrase', 'blue whale 41');
  await may.click('#passphrase-form button[type=submit]');
  await may.locator('#shared-error:not([hidden])').waitFor();
  assert.match(await may.textContent('#shared-error'), /That passphrase does not open this link/);
  await may.fill('#passphrase', 'blue whale 42');
  await may.click('#passphrase-form button[type=submit]');
  await may.locator(`#shared-list li[data-id="${id}"]`).waitFor();
  assert.equal(await may.locator(`#shared-list li[data-id="${id}"] a`, { hasText: 'Save' }).count(), 0, 'saving not allowed');
  assert.equal(await may.evaluate(async (id) => (await fetch(`/media/link/${id}?download`)).status, id), 403, 'nor by hand');
  for (const p of await accessibilityProblems(may)) problems.push(`desktop viewer: ${p}`);
  await shot(may, '30-share-viewer-desktop');
  await may.reload();
  await may.locator('#shared-error:not([hidden])').waitFor();
  assert.match(await may.textContent('#shared-error'), /opened as many times as it allows/);
  await desk.close();

  // In the family's log, in words.
  await owner.click('.tab[data-view="audit"]');
  await owner.locator('#audit tbody tr[data-action="link.opened"]', { hasText: 'Someone with a linkopened the link for Grandpa Joe' }).first().waitFor();
  assert.ok(await owner.locator('#audit tbody tr[data-action="link.created"]', { hasText: 'shared a recording with a link for Aunt May' }).count() > 0);
  assert.ok(await owner.locator('#audit tbody tr[data-action="link.played"]', { hasText: `played “${title}” through the link for Grandpa Joe` }).count() > 0);
  assert.deepEqual(problems, []);
});

test('a studio delivers a session to a family: encrypted in its browser, the parent accepts on a phone and owns it, the studio is cut off', async () => {
  // The studio signs in on a desktop and makes its vault.
  const desk = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  const studio = await newPage(desk);
  await studio.goto(proxy.url);
  await studio.fill('#dev-user', 'sara');
  await studio.fill('#dev-family', 'lumen');
  await studio.fill('#dev-code', devCode());
  await studio.click('#dev-form button[type=submit]');
  await createStudio(studio, 'Lumen Keepsakes');
  assert.match(await studio.textContent('#who'), /sara · Lumen Keepsakes \(admin\)/);
  const problems = (await accessibilityProblems(studio)).map((p) => `studio, empty: ${p}`);

  // A delivery for the Garcías, and the session's recording, encrypted in this browser.
  await startDelivery(studio, 'Ana and Luis García');
  const token = crypto.randomBytes(6).toString('hex');
  const file = path.join(work, `session-${token}.wav`);
  const size = 3 * MiB;
  makeFile(file, size, `studio-${token}`, { header: wavHeader(size - 44), marker: MARKER, offsets: [MiB] });
  const sent = [];
  const listen = (r) => sent.push(`${r.method()} ${r.url()} ${r.postData() ?? ''}`);
  studio.on('request', listen);
  const id = await deliverFile(studio, file, 'Heartbeat at 20 weeks', '2026-11-27');
  await studio.locator('#delivered li', { hasText: 'Heartbeat at 20 weeks' }).waitFor();
  assert.match(await studio.textContent('#delivered li'), /recorded on 2026-11-27/);
  studio.off('request', listen);
  assert.deepEqual(sent.filter((s) => s.includes('Heartbeat')), [], 'the title travels sealed, never in the clear');
  assert.ok(sent.some((s) => s.startsWith('PUT') && s.includes(`/v1/recordings/${id}/details`)), 'details sealed and stored');

  // The parents' invitation.
  await studio.click('#delivery-close');
  const row = studio.locator('#deliveries li', { hasText: 'Ana and Luis García' });
  assert.equal(await row.getAttribute('data-state'), 'uploading');
  assert.match(await row.textContent(), /1 recording/);
  await row.locator('button', { hasText: 'Invite the parents' }).click();
  await studio.locator('#invitation:not([hidden])').waitFor();
  const link = await studio.inputValue('#invitation-link');
  const [, family] = /\/#invite=[A-Za-z0-9_-]{43}&family=(delivery-[0-9a-f]{32})&name=Ana%20and%20Luis%20Garc%C3%ADa$/.exec(link) ?? [];
  assert.ok(family, link);
  for (const p of await accessibilityProblems(studio)) problems.push(`studio, invitation: ${p}`);
  await shot(studio, '30-studio-delivery-desktop');
  await studio.click('#delivery-close');
  await studio.locator('#deliveries li[data-state="invited"]').waitFor();
  await shot(studio, '31-studio-deliveries-desktop');

  // Luis opens it on his phone, signs in with the vault the link names, and accepts.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const luis = await newPage(phone);
  await luis.goto(link.replace(/^https?:\/\/[^/]+/, proxy.url));
  await luis.locator('#notice:not([hidden])').waitFor();
  assert.match(await luis.textContent('#notice'), /invited to the family vault Ana and Luis García\. Sign in to accept/);
  assert.equal(await luis.inputValue('#dev-family'), family);
  await luis.fill('#dev-user', 'luis');
  await luis.fill('#dev-code', devCode());
  await luis.click('#dev-form button[type=submit]');
  await luis.locator('#join-family:not([hidden])').waitFor();
  assert.match(await luis.textContent('#join-text'), /made for Ana and Luis García \(delivery-[0-9a-f]{32}\)\. Joining lets you see its recordings/);
  for (const p of await accessibilityProblems(luis)) problems.push(`phone, accepting a delivery: ${p}`);
  await shot(luis, '32-phone-accept-delivery');
  await luis.click('#join-ok');
  await luis.waitForFunction(() => document.body.dataset.ready === 'true');
  assert.match(await luis.textContent('#notice'), /you joined as owner/);
  const mine = luis.locator(`#recordings tbody tr[data-id="${id}"]`);
  await mine.waitFor();
  assert.match(await mine.textContent(), /Heartbeat at 20 weeks/);
  // The family plays it: the bytes near the end are the studio's file.
  const got = await mediaRange(luis, id, size - 5000, size);
  assert.ok(got.bytes.equals(readRange(file, size - 5000, size)), 'the bytes the studio uploaded');
  await luis.click('.tab[data-view="audit"]');
  await luis.locator('#audit tbody tr[data-action="delivery.handed_off"]', { hasText: 'the family owns its recordings' }).waitFor();
  assert.match(await luis.locator('#audit tbody tr[data-action="recording.committed"]').first().textContent(),
    /sara \(studio lumen\)uploaded “Heartbeat at 20 weeks”/, 'the studio that delivered is named');
  await shot(luis, '33-phone-family-after-hand-off');
  await phone.close();

  // The studio: handed off, nothing to open, and the server refuses it the recordings.
  await studio.reload();
  await studio.waitForFunction(() => document.body.dataset.ready === 'true');
  const done = studio.locator('#deliveries li[data-state="handed-off"]', { hasText: 'Ana and Luis García' });
  await done.waitFor();
  assert.match(await done.textContent(), /Handed off on .*the studio no longer reaches them/);
  assert.equal(await done.locator('button').count(), 0, 'no Open, Invite or Erase after the hand-off');
  const delivery = await done.getAttribute('data-id');
  const refused = await studio.evaluate(async ([delivery, id]) => {
    const headers = { authorization: `Bearer ${sessionStorage.getItem('vault.token')}`, 'x-vault-delivery': delivery };
    return [(await fetch('/v1/recordings', { headers })).status, (await fetch(`/v1/recordings/${id}/content`, { headers })).status];
  }, [delivery, id]);
  assert.deepEqual(refused, [410, 403]);
  // The admin downloads the studio's records: one JSON file with the delivery in it.
  await studio.click('.tab[data-view="staff"]');
  const [download] = await Promise.all([studio.waitForEvent('download'), studio.click('#records-export')]);
  const records = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
  assert.ok(records.deliveries.some((d) => d.customer === 'Ana and Luis García' && d.handed_off_at), 'the delivery, handed off');
  await studio.click('.tab[data-view="studio-audit"]');
  await studio.locator('#studio-audit tr[data-action="delivery.handed_off"]', { hasText: 'Ana and Luis García' }).waitFor();
  for (const p of await accessibilityProblems(studio)) problems.push(`studio audit: ${p}`);
  await shot(studio, '34-studio-audit-desktop');
  // An invitation that expires unaccepted: the page says so, and the studio sends a
  // new one (the first link no longer works).
  await studio.click('.tab[data-view="deliveries"]');
  await startDelivery(studio, 'The Lee family');
  await studio.click('#delivery-close');
  const lees = studio.locator('#deliveries li', { hasText: 'The Lee family' });
  await lees.locator('button', { hasText: 'Invite the parents' }).click();
  await studio.locator('#invitation:not([hidden])').waitFor();
  const firstLink = await studio.inputValue('#invitation-link');
  await studio.click('#delivery-close');
  await studio.locator('#deliveries li[data-state="invited"]', { hasText: 'The Lee family' }).waitFor();
  const leesId = await lees.getAttribute('data-id');
  execFileSync('python3', ['-c', 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()',
    path.join(server.dataDir, 'vault.db'), `UPDATE deliveries SET invited_until = 1 WHERE id = '${leesId}'`]);
  await studio.reload();
  await studio.waitForFunction(() => document.body.dataset.ready === 'true');
  const expired = studio.locator('#deliveries li[data-state="expired"]', { hasText: 'The Lee family' });
  await expired.waitFor();
  assert.match(await expired.textContent(), /Invitation expired.*The invitation expired unaccepted\. Send a new one/s);
  await expired.locator('button', { hasText: 'Send a new invitation' }).click();
  await studio.locator('#invitation:not([hidden])').waitFor();
  const secondLink = await studio.inputValue('#invitation-link');
  assert.notEqual(secondLink, firstLink, 'a new link');
  await studio.click('#delivery-close');
  await studio.locator('#deliveries li[data-state="invited"]', { hasText: 'The Lee family' }).waitFor();
  // And on a phone.
  await studio.setViewportSize({ width: 390, height: 844 });
  await studio.click('.tab[data-view="deliveries"]');
  for (const p of await accessibilityProblems(studio)) problems.push(`studio on a phone: ${p}`);
  const outside = await studio.evaluate(() => [...document.querySelectorAll('#deliveries button')]
    .filter((b) => b.getBoundingClientRect().right > document.documentElement.clientWidth).map((b) => b.textContent));
  assert.deepEqual(outside, [], 'every button within the phone\'s width');
  await shot(studio, '35-studio-deliveries-phone');
  await desk.close();
  assert.deepEqual(proxy.stats.markerHits, [], 'no request held the plaintext');
  assert.deepEqual(problems, []);
});

test('a family already in Vault invites its studio: the studio delivers into the family’s own vault from a phone, and the family ends its access', async () => {
  const token = crypto.randomBytes(6).toString('hex');
  // The parents make a link for the studio on the members page.
  const desk = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const maria = await newPage(desk);
  await signIn(maria, proxy.url, 'maria', `ortiz-${token}`);
  await maria.click('.tab[data-view="members"]');
  await maria.fill('#studio-invite-name', 'Bright Keepsakes');
  await maria.click('#studio-invite-form button[type=submit]');
  await maria.locator('#studio-invite-result:not([hidden])').waitFor();
  const link = await maria.inputValue('#studio-invite-link');
  assert.match(link, /\/studio\.html#family-invite=[A-Za-z0-9_-]{43}$/);
  await maria.locator('#family-deliveries li[data-state="invited"]', { hasText: 'Bright Keepsakes' }).waitFor();
  const problems = (await accessibilityProblems(maria)).map((p) => `family, studio invited: ${p}`);
  await shot(maria, '36-family-invites-a-studio-desktop');

  // The studio's staff member opens it on a phone, signs in, and delivers.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const sol = await newPage(phone);
  await sol.goto(proxy.url);
  await sol.fill('#dev-user', 'sol');
  await sol.fill('#dev-family', `bright-${token}`);
  await sol.fill('#dev-code', devCode());
  await sol.click('#dev-form button[type=submit]');
  await createStudio(sol, 'Bright Keepsakes');
  await sol.goto(link.replace(/^https?:\/\/[^/]+/, proxy.url));
  await sol.waitForFunction(() => document.body.dataset.ready === 'true'
    && /** @type {HTMLInputElement} */ (document.querySelector('#delivery-family-invite')).value !== '');
  assert.equal(await sol.evaluate(() => location.hash), '', 'the secret leaves the address bar');
  assert.equal(await sol.inputValue('#delivery-family-invite'), link.split('family-invite=')[1]);
  assert.match(await sol.textContent('#status'), /A family invited the studio into its vault/);
  await sol.fill('#delivery-customer', 'María Ortiz');
  await sol.click('#delivery-form button[type=submit]');
  await sol.locator('#delivery:not([hidden])').waitFor();
  const file = path.join(work, `bright-${token}.wav`);
  const size = 2 * MiB;
  makeFile(file, size, `bright-${token}`, { header: wavHeader(size - 44), marker: MARKER, offsets: [MiB] });
  const id = await deliverFile(sol, file, 'Our 4D session', '2026-11-30');
  await sol.click('#delivery-close');
  const row = sol.locator('#deliveries li', { hasText: 'María Ortiz' });
  await row.waitFor();
  assert.equal(await row.getAttribute('data-state'), 'accepted');
  assert.match(await row.textContent(), /In the family’s vault.*1 recording.*Into the family’s own vault, on their invitation; you can add recordings until/s);
  assert.equal(await row.locator('button', { hasText: /Invite|Erase/ }).count(), 0, 'no invitation to send, nothing to erase');
  for (const p of await accessibilityProblems(sol)) problems.push(`studio on a phone, into a family's vault: ${p}`);
  await shot(sol, '37-studio-delivers-into-a-family-phone');

  // The family has it next to its own, plays it, and ends the studio's access.
  await maria.reload();
  await maria.waitForFunction(() => document.body.dataset.ready === 'true');
  const theirs = maria.locator(`#recordings tbody tr[data-id="${id}"]`);
  await theirs.waitFor();
  assert.match(await theirs.textContent(), /Our 4D session/);
  const got = await mediaRange(maria, id, size - 4000, size);
  assert.ok(got.bytes.equals(readRange(file, size - 4000, size)), 'the bytes the studio uploaded');
  await maria.click('.tab[data-view="members"]');
  const studioRow = maria.locator('#family-deliveries li[data-state="accepted"]', { hasText: 'Bright Keepsakes' });
  await studioRow.waitFor();
  assert.match(await studioRow.textContent(), /delivering until .* · 1 recording/);
  await studioRow.locator('button', { hasText: 'End access' }).click();
  await maria.locator('#family-deliveries li[data-state="handed-off"]', { hasText: 'Bright Keepsakes' }).waitFor();
  await maria.click('.tab[data-view="audit"]');
  await maria.locator('#audit tbody tr[data-action="delivery.handed_off"]', { hasText: 'ended the studio’s access' }).waitFor();
  assert.match(await maria.locator('#audit tbody tr[data-action="delivery.created"]').first().textContent(),
    /started delivering into this vault, on the family’s invitation/);
  await desk.close();

  // The studio is cut off at once.
  await sol.reload();
  await sol.waitForFunction(() => document.body.dataset.ready === 'true');
  const ended = sol.locator('#deliveries li[data-state="handed-off"]', { hasText: 'María Ortiz' });
  await ended.waitFor();
  const delivery = await ended.getAttribute('data-id');
  const refused = await sol.evaluate(async (delivery) => {
    const headers = { authorization: `Bearer ${sessionStorage.getItem('vault.token')}`, 'x-vault-delivery': delivery };
    return (await fetch('/v1/recordings', { headers })).status;
  }, delivery);
  assert.equal(refused, 410);
  await phone.close();
  assert.deepEqual(proxy.stats.markerHits, [], 'no request held the plaintext');
  assert.deepEqual(problems, []);
});
