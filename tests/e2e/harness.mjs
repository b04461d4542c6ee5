// Test harness: the real `vault serve` on embedded defaults, a recording proxy in
// front of it (every request body the browser sends passes through it and is scanned
// for a planted marker; it can also cut connections to simulate network loss), and
// Debian's headless Chromium driven by playwright-core. Loopback only.
import { spawn } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(repo, 'target');
export const vaultBin = path.join(targetDir, 'release', 'vault');
export const screenshotDir = path.join(targetDir, 'e2e-screenshots');

let lastDataDir = null;

/** The development sign-in's current one-time code of the last server started
 * (`vault serve` prints it and keeps it in its data directory). */
export function devCode() {
  return fs.readFileSync(path.join(lastDataDir, 'dev-sign-in-code'), 'utf8').trim();
}

/** Starts `vault serve` on a fresh data directory; resolves once it listens. */
export async function startServer(env = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-e2e-'));
  lastDataDir = dataDir;
  const child = spawn(vaultBin, ['serve'], {
    env: { PATH: process.env.PATH, VAULT_LISTEN: '127.0.0.1:0', VAULT_DATA_DIR: dataDir, VAULT_WEB_DIR: path.join(repo, 'web'), VAULT_LOG: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = await new Promise((resolve, reject) => {
    let buf = '';
    child.stderr.on('data', (d) => {
      buf += d;
      const m = /vault: listening on (\S+)\r?\n/.exec(buf); // whole line only: output arrives in pieces
      if (m) resolve(m[1]);
      if (buf.length > 1e6) buf = buf.slice(-1000);
    });
    child.on('exit', (code) => reject(new Error(`vault serve exited (${code}): ${buf.slice(-2000)}`)));
    child.on('error', (e) => reject(new Error(`cannot start ${vaultBin}: ${e.message}`)));
  });
  child.stderr.resume();
  return {
    url, dataDir, pid: child.pid,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
    /** The stored ciphertext file of a recording (embedded object store). */
    objectPath(id) {
      const found = [];
      const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).forEach((e) => {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p); else if (e.name === `${id}.data`) found.push(p);
      });
      walk(path.join(dataDir, 'objects'));
      if (found.length !== 1) throw new Error(`expected one object for ${id}, found ${found.length}`);
      return found[0];
    },
  };
}

/**
 * A proxy in front of `target` that scans every request (URL, headers, body) for
 * `marker`, counts body bytes, logs content range requests, and can cut the next
 * `n` requests whose path matches a pattern half-way through their body.
 * `stats.bodies` lists every request once its body has passed (or was cut):
 * `{ method, url, bytes, marker }`, `bytes` being how many body bytes were scanned;
 * `settled()` waits until every request's body so far is listed.
 *
 * Upload parts pass at `partBytesPerSecond` at most (all parts together): the tests
 * that pause, reload or sign out mid-upload need an upload that lasts, whatever the
 * machine (the page's part senders are outside Playwright's network instrumentation,
 * which used to slow uploads to ~13 MB/s; bench-upload-raw.mjs measures the page).
 */
export async function startProxy(target, marker, { partBytesPerSecond = 16 << 20 } = {}) {
  const t = new URL(target);
  const stats = { requests: 0, bodyBytes: 0, markerHits: [], contentRanges: [], cuts: [], bodies: [], open: 0 };
  const needle = Buffer.from(marker);
  let cutRule = null; // { pattern, remaining }
  let refusing = null; // a pattern of requests answered 503 while it is set
  let partsFreeAt = 0; // when the part bytes passed so far have had their time
  const server = http.createServer((req, res) => {
    stats.requests++;
    stats.open++;
    let tail = Buffer.alloc(0), seen = 0, hit = false, logged = false;
    const log = () => {
      if (logged) return;
      stats.bodies.push({ method: req.method, url: req.url, bytes: seen, marker: hit });
      stats.open--;
      logged = true;
    };
    if (refusing?.test(`${req.method} ${req.url}`)) {
      req.resume();
      req.on('end', () => {
        log();
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('refused by the test proxy');
      });
      return;
    }
    const scanHead = `${req.url} ${JSON.stringify(req.headers)}`;
    if (scanHead.includes(marker)) stats.markerHits.push(`${req.method} ${req.url} (head)`);
    if (req.url.includes('/content') && req.headers.range) stats.contentRanges.push(req.headers.range);
    // A request the rule matches is cut once more than 1 MiB of its body has passed; the
    // rule counts only requests actually cut (a short final part passes, and does not
    // use up a cut while another part is in flight).
    const rule = cutRule;
    const matches = rule !== null && rule.pattern.test(`${req.method} ${req.url}`);
    // The Host the server answers to (it refuses other names: DNS rebinding).
    const headers = { ...req.headers, host: t.host };
    const upstream = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers }, (up) => {
      up.on('error', () => res.destroy());
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    });
    // Either side may hang up mid-body (the server refusing an upload early, a cut, a
    // pause): the proxy then drops the other side too. Without these listeners such
    // an EPIPE would surface as an uncaught exception after the test that caused it.
    upstream.on('error', () => res.destroy());
    req.on('error', () => upstream.destroy());
    res.on('error', () => upstream.destroy());
    req.on('data', (chunk) => {
      stats.bodyBytes += chunk.length;
      const window = Buffer.concat([tail, chunk]);
      if (window.includes(needle)) {
        hit = true;
        stats.markerHits.push(`${req.method} ${req.url}`);
      }
      tail = window.subarray(Math.max(0, window.length - needle.length + 1));
      seen += chunk.length;
      if (matches && rule.remaining > 0 && seen > 1 << 20 && !upstream.destroyed) {
        rule.remaining--;
        stats.cuts.push(`${req.method} ${req.url}`);
        log();
        upstream.destroy();
        req.socket.destroy(); // the browser sees a network error mid-upload
        return;
      }
      if (!upstream.destroyed) upstream.write(chunk);
      if (req.method === 'PUT' && req.url.includes('/parts/')) {
        partsFreeAt = Math.max(partsFreeAt, Date.now()) + (chunk.length / partBytesPerSecond) * 1000;
        const wait = partsFreeAt - Date.now();
        if (wait > 1) {
          req.pause();
          setTimeout(() => req.resume(), wait);
        }
      }
    });
    req.on('end', () => { log(); if (!upstream.destroyed) upstream.end(); });
    req.on('close', log); // a body the browser gave up on (a pause)
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stats,
    cutNext(pattern, n) { cutRule = { pattern, remaining: n }; },
    /** Answers requests matching `pattern` ("METHOD /path") with 503 until called with null. */
    refuse(pattern) { refusing = pattern; },
    /** Waits (30 s at most) until no body is on its way: a part the browser gave up on
     * shows here only once the proxy reads again from its connection, after the
     * throttle's wait. */
    async settled() {
      for (let waited = 0; stats.open > 0; waited += 50) {
        if (waited > 30_000) throw new Error(`${stats.open} request bodies still open at the proxy`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}

export const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function launchBrowser() {
  return chromium.launch({ executablePath: process.env.VAULT_CHROMIUM ?? '/usr/bin/chromium', headless: true, args: chromiumArgs });
}

/** Signs in through the page's development sign-in form; creates the family if new. */
export async function signIn(page, base, user, family, { create = true, query = '' } = {}) {
  await page.goto(`${base}/${query}`);
  await page.fill('#dev-user', user);
  await page.fill('#dev-family', family);
  await page.fill('#dev-code', devCode());
  await page.click('#dev-form button[type=submit]');
  await page.waitForFunction(() => !document.querySelector('#create-family').hidden || document.body.dataset.ready === 'true');
  if (create && await page.isVisible('#create-family')) {
    await page.fill('#family-name', `The ${family} family`);
    await page.click('#family-form button[type=submit]');
  }
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
}

/** A deterministic pseudo-random file (AES-CTR keystream of `seed`), with `marker` planted at `offsets`. */
export function makeFile(file, size, seed, { marker, offsets = [], header } = {}) {
  const fd = fs.openSync(file, 'w');
  const ctr = crypto.createCipheriv('aes-128-ctr', crypto.createHash('sha256').update(seed).digest().subarray(0, 16), Buffer.alloc(16));
  const chunk = Buffer.alloc(1 << 20);
  for (let at = 0; at < size; at += chunk.length) {
    const n = Math.min(chunk.length, size - at);
    const bytes = ctr.update(chunk.subarray(0, n));
    if (at === 0 && header) header.copy(bytes, 0);
    for (const o of offsets) {
      if (o >= at && o < at + n) Buffer.from(marker).copy(bytes, o - at);
    }
    fs.writeSync(fd, bytes);
  }
  fs.closeSync(fd);
}

/** A 44-byte PCM WAV header (48 kHz stereo 16-bit) for `dataLen` bytes of samples. */
export function wavHeader(dataLen) {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0); h.writeUInt32LE(36 + dataLen, 4); h.write('WAVE', 8);
  h.write('fmt ', 12); h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20); h.writeUInt16LE(2, 22);
  h.writeUInt32LE(48000, 24); h.writeUInt32LE(48000 * 4, 28); h.writeUInt16LE(4, 32); h.writeUInt16LE(16, 34);
  h.write('data', 36); h.writeUInt32LE(dataLen, 40);
  return h;
}

export function sha256File(file) {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash('sha256');
    fs.createReadStream(file).on('data', (d) => h.update(d)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
  });
}

export function readRange(file, start, end) {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(end - start);
  fs.readSync(fd, buf, 0, buf.length, start);
  fs.closeSync(fd);
  return buf;
}

const axeSource = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'node_modules/axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe-core (WCAG 2.x A and AA rules) on what the page shows now; resolves to the
 * serious and critical violations, each as "rule: target …". Injected over the
 * DevTools protocol, so the page's CSP (no inline script) stays as users get it.
 */
export async function accessibilityProblems(page) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    // @ts-ignore: axe is the library just injected
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.targets.join(', ')}`);
}

// ---------- what the page tests do with a page ----------

/** A full-page screenshot into the screenshots directory. */
export async function shot(page, name) {
  fs.mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: true });
}

/** A page that accepts every dialog and logs its errors. */
export async function newPage(context) {
  const page = await context.newPage();
  page.on('dialog', (d) => d.accept());
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  return page;
}

/** Uploads `file` through the page's file input and waits for the outcome. */
export async function upload(page, file, { timeout = 300_000 } = {}) {
  const before = await page.locator('#uploads li').count();
  await page.setInputFiles('#files', file);
  const item = page.locator('#uploads li').nth(before);
  await item.locator('xpath=self::*[@data-done or @data-error]').waitFor({ timeout });
  const error = await item.getAttribute('data-error');
  assert.equal(error, null, `upload failed: ${error}`);
  return item.getAttribute('data-id');
}

/** The page's decrypted bytes of plaintext range [start, end) of a recording, via the
 * service worker, and the engine that decrypted them (its `x-vault-engine`). */
export async function mediaRange(page, id, start, end) {
  const { b64, engine } = await page.evaluate(async ([id, start, end]) => {
    const r = await fetch(`/media/${id}`, { headers: { range: `bytes=${start}-${end - 1}` } });
    if (r.status !== 206) throw new Error(`status ${r.status}: ${await r.text()}`);
    const bytes = new Uint8Array(await r.arrayBuffer());
    let s = '';
    for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
    return { b64: btoa(s), engine: r.headers.get('x-vault-engine') };
  }, [id, start, end]);
  return { bytes: Buffer.from(b64, 'base64'), engine };
}

/** A share link viewer's decrypted bytes of [start, end) of a recording, via the service worker. */
export function linkRange(page, id, start, end) {
  return page.evaluate(async ([id, start, end]) => {
    const r = await fetch(`/media/link/${id}`, { headers: { range: `bytes=${start}-${end - 1}` } });
    if (r.status !== 206) return { status: r.status, text: await r.text() };
    const bytes = new Uint8Array(await r.arrayBuffer());
    let s = '';
    for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
    return { status: r.status, b64: btoa(s) };
  }, [id, start, end]);
}

// ---------- what the studio's tests do on its page ----------

/** From the "create your vault" screen: makes a studio's vault; waits for studio.html. */
export async function createStudio(page, name) {
  await page.locator('#create-family:not([hidden])').waitFor();
  await page.click('#create-studio summary');
  await page.fill('#studio-name', name);
  await page.click('#studio-form button[type=submit]');
  await page.waitForURL(/\/studio\.html$/);
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
}

/** Starts a delivery for `customer` on the studio's page; waits for its panel. */
export async function startDelivery(page, customer) {
  await page.click('#new-delivery summary');
  await page.fill('#delivery-customer', customer);
  await page.click('#delivery-form button[type=submit]');
  await page.locator('#delivery:not([hidden])').waitFor();
}

/** Uploads `file` into the open delivery with a title and date; answers its recording id. */
export async function deliverFile(page, file, title, recordedOn) {
  await page.fill('#upload-title', title);
  await page.fill('#upload-date', recordedOn);
  await page.setInputFiles('#upload-files', file);
  await page.click('#upload-form button[type=submit]');
  const done = page.locator('#studio-uploads li[data-done]').last();
  await done.waitFor({ timeout: 60_000 });
  return done.getAttribute('data-id');
}
