// The page on the AWS backends, as the README configures them: PostgreSQL, S3 with
// Object Lock in two regions and KMS (moto), and an external identity provider (the
// development sign-in is refused there: people paste the provider's token, or come
// back from its sign-in page with one). Share links and a studio's delivery, end to end
// in headless Chromium, as e2e.test.mjs runs them on embedded defaults.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { startServer, launchBrowser, makeFile, wavHeader, readRange, shot, newPage, upload, mediaRange, linkRange, createStudio, startDelivery,
  deliverFile } from './harness.mjs';
import { available, startIdp, awsSettings } from './aws-backends.mjs';

const MiB = 1 << 20;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-e2e-aws-'));
let server, idp, browser;

/** Signs in with a token of the identity provider, as "Sign in with a token" does. */
async function signInWithToken(page, token) {
  await page.goto(server.url);
  await page.locator('#sign-in:not([hidden])').waitFor();
  assert.equal(await page.isVisible('#dev-form'), false, 'no development sign-in on the AWS backends');
  await page.click('#sign-in details summary');
  await page.fill('#token-input', token);
  await page.click('#token-form button[type=submit]');
}

/** The recording's metadata as its family's member reads it (from the test, not the page). */
async function recording(token, id) {
  const r = await fetch(`${server.url}/v1/recordings/${id}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200, await r.clone().text());
  return r.json();
}

/** Waits until the recording's copy in the replica region is made and verified. */
async function replicated(token, id) {
  const started = Date.now();
  for (;;) {
    const r = await recording(token, id);
    if (r.replica?.sha256 === r.sha256 && r.sha256) return r;
    assert.ok(Date.now() - started < 60_000, `not replicated: ${JSON.stringify(r)}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

before(async () => {
  assert.ok(available(), 'the AWS backends are not running: run scripts/test (it starts them with scripts/services)');
  idp = await startIdp();
  server = await startServer(awsSettings(idp));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await idp?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

test('on the AWS backends: a family shares a recording by link; it plays with no account, replicated to the second region', async () => {
  const token = idp.token('garcias', 'maria');
  const desk = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const owner = await newPage(desk);
  await signInWithToken(owner, token);
  await owner.locator('#create-family:not([hidden])').waitFor();
  await owner.fill('#family-name', 'The Garcías');
  await owner.click('#family-form button[type=submit]');
  await owner.waitForFunction(() => document.body.dataset.ready === 'true');
  const file = path.join(work, 'Lullaby.wav');
  const size = 4 * MiB;
  makeFile(file, size, 'aws-share', { header: wavHeader(size - 44) });
  const id = await upload(owner, file);
  await replicated(token, id);
  const row = owner.locator(`#recordings tbody tr[data-id="${id}"]`);
  await row.locator('button', { hasText: 'Share' }).click();
  await owner.fill('#share-name', 'Grandpa Joe');
  await owner.click('#share-make');
  await owner.locator('#share-result:not([hidden])').waitFor();
  const link = await owner.inputValue('#share-link');
  await owner.click('#share-done');
  await shot(owner, '40-aws-family');

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const joe = await newPage(phone);
  await joe.goto(link.replace(/^https?:\/\/[^/]+/, server.url));
  const item = joe.locator(`#shared-list li[data-id="${id}"]`);
  await item.waitFor();
  assert.equal((await item.locator('.title').textContent()).trim(), 'Lullaby');
  for (const [start, end] of [[0, 4096], [2 * MiB - 7, 2 * MiB + 9000], [size - 3000, size]]) {
    const got = await linkRange(joe, id, start, end);
    assert.equal(got.status, 206, got.text);
    assert.ok(Buffer.from(got.b64, 'base64').equals(readRange(file, start, end)), `bytes ${start}-${end}`);
  }
  await shot(joe, '41-aws-share-viewer-phone');
  await phone.close();
  await desk.close();
});

test('on the AWS backends: a studio delivers, the parent accepts on a phone and owns it, the studio is cut off', async () => {
  const studioToken = idp.token(`lumen-${crypto.randomBytes(4).toString('hex')}`, 'sara');
  const desk = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const studio = await newPage(desk);
  await signInWithToken(studio, studioToken);
  await createStudio(studio, 'Lumen Keepsakes');
  await startDelivery(studio, 'Ana and Luis García');
  const file = path.join(work, 'session.wav');
  const size = 3 * MiB;
  makeFile(file, size, 'aws-studio', { header: wavHeader(size - 44) });
  const id = await deliverFile(studio, file, 'Heartbeat at 20 weeks', '2026-11-27');
  await studio.click('#delivery-close');
  await studio.locator('#deliveries li button', { hasText: 'Invite the parents' }).click();
  await studio.locator('#invitation:not([hidden])').waitFor();
  const link = await studio.inputValue('#invitation-link');
  const family = /&family=(delivery-[0-9a-f]{32})&/.exec(link)?.[1];
  assert.ok(family, link);

  // The parent's provider session names the vault the link names.
  const parentToken = idp.token(family, 'luis');
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const luis = await newPage(phone);
  await luis.goto(link.replace(/^https?:\/\/[^/]+/, server.url));
  await luis.locator('#notice:not([hidden])').waitFor();
  await luis.click('#sign-in details summary');
  await luis.fill('#token-input', parentToken);
  await luis.click('#token-form button[type=submit]');
  await luis.locator('#join-family:not([hidden])').waitFor();
  await luis.click('#join-ok');
  await luis.waitForFunction(() => document.body.dataset.ready === 'true');
  assert.match(await luis.textContent('#notice'), /you joined as owner/);
  await luis.locator(`#recordings tbody tr[data-id="${id}"]`, { hasText: 'Heartbeat at 20 weeks' }).waitFor();
  const got = await mediaRange(luis, id, size - 5000, size);
  assert.ok(got.bytes.equals(readRange(file, size - 5000, size)), 'the bytes the studio uploaded');
  await replicated(parentToken, id);
  await shot(luis, '42-aws-parent-phone');
  await phone.close();

  await studio.reload();
  await studio.waitForFunction(() => document.body.dataset.ready === 'true');
  const done = studio.locator('#deliveries li[data-state="handed-off"]');
  await done.waitFor();
  const delivery = await done.getAttribute('data-id');
  const refused = await fetch(`${server.url}/v1/recordings`, { headers: { authorization: `Bearer ${studioToken}`, 'x-vault-delivery': delivery } });
  assert.equal(refused.status, 410, 'the studio is cut off');
  await shot(studio, '43-aws-studio');
  await desk.close();
});
