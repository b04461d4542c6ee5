// Browser benchmark (figures for the notes; nothing here asserts a time):
//  1. encryption throughput in Chromium on 256 MiB: WebCrypto path vs pure-WASM path;
//  2. Chromium's memory (RSS of all its processes, JS heap of the page) while the page
//     uploads a 1 GiB file;
//  3. time from seek to first decrypted bytes in a 2 GiB recording on loopback, through
//     the service worker (fetch of a range) and through the <audio> element (seeked);
//  4. a library of 500 recordings with sealed details and posters: page load to the
//     first 50 titles decrypted, the first screen of posters, and all 500 listed;
//  5. a share link to a 2 GiB recording opened in a fresh browser (no account): from
//     navigation to the list, and from Play to the first decoded audio; a seek near the end.
// Run: scripts/build-wasm && cargo build --release --bin vault && (cd tests/e2e && node bench.mjs)
// VAULT_BENCH_ENC_MIB, VAULT_BENCH_UPLOAD_MIB, VAULT_BENCH_SEEK_MIB, VAULT_BENCH_LIBRARY change the
// sizes; VAULT_BENCH_ONLY=enc,upload,seek,library,share picks sections.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execSync, execFileSync } from 'node:child_process';
import { startServer, launchBrowser, signIn, makeFile, wavHeader, vaultBin } from './harness.mjs';

const MiB = 1 << 20;
const encMiB = Number(process.env.VAULT_BENCH_ENC_MIB ?? 256);
const uploadMiB = Number(process.env.VAULT_BENCH_UPLOAD_MIB ?? 1024);
const seekMiB = Number(process.env.VAULT_BENCH_SEEK_MIB ?? 2048);
const libraryCount = Number(process.env.VAULT_BENCH_LIBRARY ?? 500);
const only = new Set((process.env.VAULT_BENCH_ONLY ?? 'enc,upload,seek,library,share').split(','));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-bench-'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

/** Resident memory of every Chromium process (MiB). */
function chromiumRss() {
  let kb = 0;
  for (const pid of execSync('pgrep -f -- "--disable-component-update" || true').toString().split(/\s+/).filter(Boolean)) {
    try { kb += Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0); } catch { /* gone */ }
  }
  return kb / 1024;
}

async function encryptionThroughput(page) {
  return page.evaluate(async (mib) => {
    const m = await import('/crypto.js');
    await m.loadWasm();
    const results = {};
    const part = crypto.getRandomValues(new Uint8Array(64 * 1024)); // filled below to 8 MiB
    const plain = new Uint8Array(8 * 1024 * 1024);
    for (let i = 0; i < plain.length; i += part.length) plain.set(part, i);
    for (const mode of ['webcrypto', 'wasm']) {
      const key = crypto.getRandomValues(new Uint8Array(32));
      const edks = JSON.stringify([{ provider_id: 'bench', provider_info: btoa('k'), ciphertext: btoa('wrapped') }]);
      const plan = new m.PartPlan(65536, 128); // the server's default: 64 KiB frames, 8 MiB parts
      const sealer = m.Sealer.create(key, JSON.stringify({ 'vault:object': 'bench' }), edks, plan, crypto.getRandomValues(new Uint8Array(32)));
      plan.free();
      const frameKey = await m.frameKeyFor(sealer, mode);
      const parts = mib / 8;
      const t0 = performance.now();
      let bytes = 0;
      for (let i = 0; i < parts; i++) bytes += (await m.sealFrames(sealer, frameKey, plain, i === parts - 1, new Uint8Array(0), (n) => new Uint8Array(n))).length;
      const secs = (performance.now() - t0) / 1000;
      sealer.free();
      results[mode] = { MBps: +(mib * 1048576 / 1e6 / secs).toFixed(1), seconds: +secs.toFixed(2), ciphertext: bytes };
    }
    return results;
  }, encMiB);
}

async function uploadWithMemory(page, file) {
  await page.setInputFiles('#files', file);
  const item = page.locator('#uploads li').last();
  const samples = [];
  const t0 = Date.now();
  for (;;) {
    const done = await item.getAttribute('data-done');
    const err = await item.getAttribute('data-error');
    if (err) throw new Error(err);
    const uploaded = Number(await item.getAttribute('data-uploaded') ?? 0);
    const heap = await page.evaluate(() => performance.memory?.usedJSHeapSize ?? 0);
    samples.push({ s: (Date.now() - t0) / 1000, uploadedMiB: Math.round(uploaded / MiB), rssMiB: Math.round(chromiumRss()), pageHeapMiB: Math.round(heap / MiB) });
    if (done) break;
    await page.waitForTimeout(1000);
  }
  return { id: await item.getAttribute('data-id'), seconds: (Date.now() - t0) / 1000, samples };
}

async function seekTimes(page, id, size) {
  await page.locator(`#recordings tr[data-id="${id}"]`).getByRole('button', { name: /^Play/ }).click();
  await page.waitForFunction(() => document.querySelector('#media')?.readyState >= 1, null, { timeout: 60_000 });
  return page.evaluate(async ([id, size]) => {
    const first = async (pos) => {
      const t0 = performance.now();
      const r = await fetch(`/media/${id}`, { headers: { range: `bytes=${pos}-` } });
      const reader = r.body.getReader();
      const { value } = await reader.read();
      const ms = performance.now() - t0;
      await reader.cancel();
      if (!value?.length) throw new Error('no bytes');
      return ms;
    };
    const fetchMs = [];
    for (let i = 0; i < 30; i++) fetchMs.push(await first(Math.floor(Math.random() * (size - 1e6))));
    const media = document.querySelector('#media');
    const elementMs = [];
    for (let i = 0; i < 15; i++) {
      const t = Math.random() * (media.duration - 5);
      const t0 = performance.now();
      await new Promise((resolve) => { media.addEventListener('seeked', resolve, { once: true }); media.currentTime = t; });
      elementMs.push(performance.now() - t0);
    }
    return { fetchMs, elementMs };
  }, [id, size]);
}

/** Fills the family with `n` small committed recordings, each with sealed details and a
 * sealed poster, as the page makes them (through its own crypto module). */
async function seedLibrary(page, n) {
  return page.evaluate(async (n) => {
    const m = await import('/crypto.js');
    const auth = { authorization: `Bearer ${sessionStorage.getItem('vault.token')}` };
    const json = (method, url, body) => fetch(url, { method, headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) })
      .then((r) => { if (!r.ok) throw new Error(`${method} ${url}: ${r.status}`); return r.json(); });
    const put = (url, body, extra = {}) => fetch(url, { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream', ...extra }, body })
      .then((r) => { if (!r.ok) throw new Error(`PUT ${url}: ${r.status}`); });
    const library = await json('POST', '/v1/family/library-key', {});
    const canvas = Object.assign(document.createElement('canvas'), { width: 480, height: 360 });
    const g = canvas.getContext('2d');
    for (let i = 0; i < 300; i++) { g.fillStyle = `hsl(${i * 7}, 60%, 50%)`; g.fillRect(Math.random() * 480, Math.random() * 360, 30, 30); }
    const jpeg = new Uint8Array(await (await new Promise((r) => canvas.toBlob(r, 'image/jpeg', 0.8))).arrayBuffer());
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const plain = new TextEncoder().encode(`recording ${i}`);
      const created = await json('POST', '/v1/recordings', { title: '', kind: 'video', content_type: 'video/mp4', plaintext_size: plain.length });
      const id = created.recording.id;
      const message = await m.sealWhole(created.key, plain, created.upload.frame_length);
      await put(`/v1/recordings/${id}/parts/1`, message, { 'x-vault-sha256': await m.sha256hex(message) });
      await json('POST', `/v1/recordings/${id}/complete`, {});
      const day = new Date(Date.UTC(2026, 0, 1) + i * 86_400_000 / 2).toISOString().slice(0, 10);
      const details = { recording: id, title: `Recording ${i}`, recorded_on: day, note: '', fingerprint: `${i}` };
      await put(`/v1/recordings/${id}/details`, await m.sealWhole(library, new TextEncoder().encode(JSON.stringify(details))));
      await put(`/v1/recordings/${id}/poster`, await m.sealWhole(library, jpeg, 65536));
    }
    return { ms: performance.now() - t0, posterKiB: Math.round(jpeg.length / 1024) };
  }, n);
}

/** Reloads the page and times the library: first page of titles, the first screen of
 * posters, then every recording listed. */
async function libraryLoad(page, n) {
  const t0 = Date.now();
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  const firstMs = Date.now() - t0;
  const firstRows = await page.locator('#recordings tr[data-id]').count();
  const screenPosters = await page.evaluate(() => [...document.querySelectorAll('#recordings img.poster')]
    .filter((i) => i.getBoundingClientRect().top < innerHeight + 200).length);
  await page.waitForFunction((k) => document.querySelectorAll('#recordings img.poster[data-loaded]').length >= k, screenPosters)
    .catch(async (e) => {
      const states = await page.evaluate(() => ['loaded', 'failed', 'pending'].map((a) => `${a}: ${document.querySelectorAll(`#recordings img.poster[data-${a}]`).length}`));
      throw new Error(`${e.message}; posters ${states.join(', ')} of ${screenPosters} on screen`);
    });
  const postersMs = Date.now() - t0;
  const t1 = Date.now();
  while (await page.isVisible('#more')) {
    const before = await page.locator('#recordings tr[data-id]').count();
    await page.click('#more');
    // More rows, or none left (a last full page has a cursor to an empty one).
    await page.waitForFunction((b) => document.querySelectorAll('#recordings tr[data-id]').length > b
      || document.querySelector('#more').hidden, before);
  }
  const allMs = Date.now() - t1;
  const allRows = await page.locator('#recordings tr[data-id]').count();
  const heapMiB = Math.round(await page.evaluate(() => performance.memory?.usedJSHeapSize ?? 0) / 1048576);
  if (allRows < n) throw new Error(`only ${allRows} of ${n} listed`);
  return { firstMs, firstRows, screenPosters, postersMs, allMs, allRows, heapMiB };
}

const server = await startServer({ VAULT_KEY_RELEASES_PER_MINUTE: '1000' });
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  await signIn(page, server.url, 'bench', 'benchfamily');
  console.log(`Chromium ${browser.version()}, ${os.cpus().length} cores`);

  if (only.has('enc')) {
  const enc = await encryptionThroughput(page);
  console.log(`\n1. encryption, ${encMiB} MiB, 64 KiB frames, in the page:`);
  console.log(`   WebCrypto path: ${enc.webcrypto.MBps} MB/s (${enc.webcrypto.seconds} s)`);
  console.log(`   pure-WASM path: ${enc.wasm.MBps} MB/s (${enc.wasm.seconds} s)`);
  console.log(`   ratio: ${(enc.webcrypto.MBps / enc.wasm.MBps).toFixed(1)}x; same ciphertext length: ${enc.webcrypto.ciphertext === enc.wasm.ciphertext}`);

  }
  if (only.has('upload')) {
  const big = path.join(work, 'upload.webm');
  makeFile(big, uploadMiB * MiB, 'bench-upload');
  const up = await uploadWithMemory(page, big);
  fs.rmSync(big);
  const rss = up.samples.map((s) => s.rssMiB);
  console.log(`\n2. upload of ${uploadMiB} MiB through the page: ${up.seconds.toFixed(1)} s = ${(uploadMiB * MiB / 1e6 / up.seconds).toFixed(0)} MB/s (encrypt + SHA-256 + PUT + server verification)`);
  console.log(`   Chromium RSS (all processes) MiB: start ${rss[0]}, median ${median(rss)}, peak ${Math.max(...rss)}, end ${rss.at(-1)}`);
  for (const s of up.samples.filter((_, i, a) => i % Math.max(1, Math.floor(a.length / 8)) === 0)) {
    console.log(`     t=${s.s.toFixed(0)}s uploaded ${s.uploadedMiB} MiB  rss ${s.rssMiB} MiB  page heap ${s.pageHeapMiB} MiB`);
  }

  }
  if (only.has('seek')) {
  const wav = path.join(work, 'long.wav');
  makeFile(wav, seekMiB * MiB, 'bench-seek', { header: wavHeader(seekMiB * MiB - 44) });
  const rec = await uploadWithMemory(page, wav);
  fs.rmSync(wav);
  const seek = await seekTimes(page, rec.id, seekMiB * MiB);
  console.log(`\n3. seek in a ${seekMiB} MiB recording (${rec.seconds.toFixed(1)} s to upload; peak RSS ${Math.max(...rec.samples.map((s) => s.rssMiB))} MiB):`);
  console.log(`   seek → first decrypted bytes (service worker, ranged fetch), 30 random positions: p50 ${median(seek.fetchMs).toFixed(1)} ms, p95 ${pct(seek.fetchMs, 0.95).toFixed(1)} ms, max ${Math.max(...seek.fetchMs).toFixed(1)} ms`);
  console.log(`   <audio> currentTime → seeked, 15 random positions: p50 ${median(seek.elementMs).toFixed(1)} ms, p95 ${pct(seek.elementMs, 0.95).toFixed(1)} ms`);
  }
  if (only.has('library')) {
    const seeded = await seedLibrary(page, libraryCount);
    const lib = await libraryLoad(page, libraryCount);
    console.log(`\n4. a library of ${libraryCount} recordings with sealed details and ~${seeded.posterKiB} KiB posters (seeded in ${(seeded.ms / 1000).toFixed(1)} s):`);
    console.log(`   reload → first ${lib.firstRows} rows with decrypted titles: ${lib.firstMs} ms (library key release included)`);
    console.log(`   reload → the first screen's ${lib.screenPosters} posters fetched and decrypted: ${lib.postersMs} ms`);
    console.log(`   all ${lib.allRows} recordings listed ("Show older" until the end): ${lib.allMs} ms; JS heap ${lib.heapMiB} MiB`);
  }
  if (only.has('share')) {
    // Uploaded and shared from the terminal (the page's upload is timed above), opened in a fresh context.
    const wav = path.join(work, 'shared.wav');
    makeFile(wav, seekMiB * MiB, 'bench-share', { header: wavHeader(seekMiB * MiB - 44) });
    const token = await page.evaluate(() => sessionStorage.getItem('vault.token'));
    const cli = (...args) => execFileSync(vaultBin, ['client', '--server', server.url, ...args], { env: { ...process.env, VAULT_TOKEN: token } }).toString().trim();
    const id = cli('upload', wav, '--title', 'Long story');
    fs.rmSync(wav);
    const link = cli('share', id, '--name', 'Bench');
    const context = await browser.newContext();
    const viewer = await context.newPage();
    const t0 = Date.now();
    await viewer.goto(link);
    await viewer.locator(`#shared-list li[data-id="${id}"]`).waitFor();
    const listedMs = Date.now() - t0;
    const t1 = Date.now();
    await viewer.click(`#shared-list li[data-id="${id}"] button`);
    await viewer.waitForFunction(() => (document.querySelector('#media')?.readyState ?? 0) >= 2, null, { timeout: 60_000 });
    const firstFrameMs = Date.now() - t1;
    const seekMs = await viewer.evaluate(() => new Promise((resolve) => {
      const m = document.querySelector('#media');
      const t = performance.now();
      m.addEventListener('seeked', () => resolve(performance.now() - t), { once: true });
      m.currentTime = m.duration - 3;
    }));
    await context.close();
    console.log(`\n5. a share link to a ${seekMiB} MiB recording, opened with no account (fresh context, loopback):`);
    console.log(`   navigation → list shown (open, key derivation, item decrypted): ${listedMs} ms`);
    console.log(`   Play → first decoded audio (readyState ≥ 2): ${firstFrameMs} ms; navigation → first audio: ${listedMs + firstFrameMs} ms`);
    console.log(`   seek to 3 s before the end → seeked: ${seekMs.toFixed(0)} ms`);
  }
} finally {
  await browser.close();
  await server.stop();
  fs.rmSync(work, { recursive: true, force: true });
}
