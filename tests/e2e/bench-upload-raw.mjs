// The page's upload throughput with no Playwright attached.
//
// Playwright enables CDP's Network domain and routes every request body through its
// instrumentation, which holds the page's uploads to ~13 MB/s on loopback; a user's
// browser has no such observer. This drives Chromium over the bare DevTools protocol
// (page navigation, DOM, Runtime only) so the figure is the page's own.
//
// Run: scripts/build-wasm && cargo build --release --bin vault &&
//      (cd tests/e2e && MIB=512 node --experimental-websocket bench-upload-raw.mjs)
import { startServer, devCode, makeFile, chromiumArgs } from './harness.mjs';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
const MiB = 1 << 20;
const sizeMiB = Number(process.env.MIB ?? 512);
const server = await startServer({});
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cdp-'));
const chrome = spawn('/usr/bin/chromium', [...chromiumArgs, `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank'], { stdio: 'ignore' });
const portFile = path.join(profile, 'DevToolsActivePort');
while (!fs.existsSync(portFile) || !fs.readFileSync(portFile, 'utf8').includes('\n')) await new Promise((r) => setTimeout(r, 100));
const port = fs.readFileSync(portFile, 'utf8').split('\n')[0];
const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
const ws = new WebSocket(targets.find((t) => t.type === 'page').webSocketDebuggerUrl);
await new Promise((r) => { ws.onopen = r; });
let seq = 0; const waiting = new Map();
ws.onmessage = (m) => { const d = JSON.parse(m.data); if (d.id && waiting.has(d.id)) { waiting.get(d.id)(d); waiting.delete(d.id); } };
const send = (method, params = {}) => new Promise((r) => { const id = ++seq; waiting.set(id, r); ws.send(JSON.stringify({ id, method, params })); });
const evaluate = async (expr) => (await send('Runtime.evaluate', { expression: expr, awaitPromise: true, returnByValue: true })).result?.result?.value;
const until = async (expr, ms = 120_000) => { const t = Date.now(); while (!(await evaluate(expr))) { if (Date.now() - t > ms) throw new Error(`timeout: ${expr}: ${await evaluate("document.querySelector('main')?.innerText.slice(0, 1500)")}`); await new Promise((r) => setTimeout(r, 200)); } };
try {
  await send('Page.navigate', { url: server.url });
  await until(`!!document.querySelector('#dev-user')`);
  await evaluate(`(() => { const f = (s, v) => { const i = document.querySelector(s); i.value = v; i.dispatchEvent(new Event('input', { bubbles: true })); };
    f('#dev-user', 'raw'); f('#dev-family', 'rawfam'); f('#dev-code', ${JSON.stringify(devCode())}); document.querySelector('#dev-form button[type=submit]').click(); })()`);
  await until(`!document.querySelector('#create-family').hidden || document.body.dataset.ready === 'true'`);
  await evaluate(`(() => { if (!document.querySelector('#create-family').hidden) { document.querySelector('#family-name').value = 'Raw'; document.querySelector('#family-form button[type=submit]').click(); } })()`);
  await until(`document.body.dataset.ready === 'true'`);
  const file = path.join(os.tmpdir(), 'raw-upload.webm');
  makeFile(file, sizeMiB * MiB, 'raw');
  const doc = await send('DOM.getDocument', {});
  const node = await send('DOM.querySelector', { nodeId: doc.result.root.nodeId, selector: '#files' });
  const t0 = Date.now();
  await send('DOM.setFileInputFiles', { nodeId: node.result.nodeId, files: [file] });
  await until(`!!document.querySelector('#uploads li:last-child[data-done], #uploads li:last-child[data-error]')`);
  const s = (Date.now() - t0) / 1000;
  console.log(`page upload, no Playwright: ${sizeMiB} MiB in ${s.toFixed(1)} s = ${(sizeMiB * MiB / 1e6 / s).toFixed(0)} MB/s; error: ${await evaluate(`document.querySelector('#uploads li:last-child').dataset.error ?? 'none'`)}`);
  fs.rmSync(file);

} finally {
  ws.close();
  chrome.kill();
  await new Promise((r) => (chrome.exitCode !== null ? r() : chrome.once('exit', r)));
  await server.stop();
  fs.rmSync(profile, { recursive: true, force: true });
}
