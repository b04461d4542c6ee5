// The page's upload throughput with no Playwright attached.
//
// Playwright enables CDP's Network domain and routes every request body through its
// instrumentation, which holds the page's uploads to ~13 MB/s on loopback; a user's
// browser has no such observer. This drives Chromium over the bare DevTools protocol
// (page navigation, DOM, Runtime only) so the figure is the page's own.
//
// It also samples the resident memory of Chromium's processes during the upload, and
// reports the CPU time each process (the server's too) spent on it: THREADS=1 splits it
// by thread (and its kernel share, "sys"). With GC=1 it then has DevTools collect the
// workers' garbage and samples again, which tells memory the page holds from garbage
// the browser has not collected yet; CONSOLE=1 prints what the workers log.
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
const workers = [];
ws.onmessage = (m) => {
  const d = JSON.parse(m.data);
  if (d.method === 'Target.attachedToTarget') {
    workers.push(d.params.sessionId);
    if (process.env.CONSOLE) ws.send(JSON.stringify({ id: 1e9 + workers.length, method: 'Runtime.enable', sessionId: d.params.sessionId }));
  }
  if (d.method === 'Runtime.consoleAPICalled') console.log('console:', d.params.args.map((a) => a.value ?? a.description).join(' '));
  if (d.id && waiting.has(d.id)) { waiting.get(d.id)(d); waiting.delete(d.id); }
};
const send = (method, params = {}, sessionId) => new Promise((r) => { const id = ++seq; waiting.set(id, r); ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })); });
const evaluate = async (expr) => (await send('Runtime.evaluate', { expression: expr, awaitPromise: true, returnByValue: true })).result?.result?.value;
const until = async (expr, ms = 120_000) => { const t = Date.now(); while (!(await evaluate(expr))) { if (Date.now() - t > ms) throw new Error(`timeout: ${expr}: ${await evaluate("document.querySelector('main')?.innerText.slice(0, 1500)")}`); await new Promise((r) => setTimeout(r, 200)); } };
try {
  if (process.env.GC || process.env.CONSOLE) await send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: true });
  await send('Page.navigate', { url: server.url });
  // The form is in the HTML before app.js runs; it shows it once it handles it.
  await until(`document.querySelector('#dev-form')?.hidden === false`);
  await evaluate(`(() => { const f = (s, v) => { const i = document.querySelector(s); i.value = v; i.dispatchEvent(new Event('input', { bubbles: true })); };
    f('#dev-user', 'raw'); f('#dev-family', 'rawfam'); f('#dev-code', ${JSON.stringify(devCode())}); document.querySelector('#dev-form button[type=submit]').click(); })()`);
  await until(`!document.querySelector('#create-family').hidden || document.body.dataset.ready === 'true'`);
  await evaluate(`(() => { if (!document.querySelector('#create-family').hidden) { document.querySelector('#family-name').value = 'Raw'; document.querySelector('#family-form button[type=submit]').click(); } })()`);
  await until(`document.body.dataset.ready === 'true'`);
  const file = path.join(os.tmpdir(), 'raw-upload.webm');
  makeFile(file, sizeMiB * MiB, 'raw');
  const doc = await send('DOM.getDocument', {});
  const node = await send('DOM.querySelector', { nodeId: doc.result.root.nodeId, selector: '#files' });
  // The processes measured: Chromium's of this profile by kind (the network service
  // apart from other utilities), and the server.
  const processes = () => fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((pid) => {
    if (Number(pid) === server.pid) return [{ pid, kind: 'server' }];
    let cmd;
    try { cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { return []; }
    if (!cmd.includes(profile)) return [];
    const type = /--type=([a-z-]+)/.exec(cmd)?.[1] ?? 'browser';
    return [{ pid, kind: type === 'utility' && cmd.includes('NetworkService') ? 'network' : type }];
  });
  // Chromium's resident memory by kind, at its peak.
  const peak = new Map();
  const sample = () => {
    for (const { pid, kind } of processes()) {
      if (kind === 'server') continue;
      let status;
      try { status = fs.readFileSync(`/proc/${pid}/status`, 'utf8'); } catch { continue; }
      peak.set(kind, Math.max(peak.get(kind) ?? 0, Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)));
    }
  };
  // CPU seconds (user + kernel) and kernel seconds in a /proc stat line (ticks of 1/100 s).
  const seconds = (stat) => {
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { all: (Number(f[11]) + Number(f[12])) / 100, sys: Number(f[12]) / 100 };
  };
  // CPU seconds by kind so far, and with THREADS=1 by thread too.
  const cpu = () => {
    const by = new Map();
    const add = (k, v) => by.set(k, (by.get(k) ?? 0) + v);
    for (const { pid, kind } of processes()) {
      try { add(kind, seconds(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')).all); } catch { continue; }
      if (!process.env.THREADS) continue;
      for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
        try {
          const t = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
          const k = `${kind}/${t.slice(t.indexOf('(') + 1, t.lastIndexOf(')'))}`;
          const { all, sys } = seconds(t);
          add(k, all);
          add(`${k} sys`, sys);
        } catch { /* gone */ }
      }
    }
    return by;
  };
  sample();
  const idle = new Map(peak);
  const cpuBefore = cpu();
  const sampler = setInterval(sample, 250);
  const t0 = Date.now();
  await send('DOM.setFileInputFiles', { nodeId: node.result.nodeId, files: [file] });
  await until(`!!document.querySelector('#uploads li:last-child[data-done], #uploads li:last-child[data-error]')`);
  const s = (Date.now() - t0) / 1000;
  clearInterval(sampler);
  console.log(`page upload, no Playwright: ${sizeMiB} MiB in ${s.toFixed(1)} s = ${(sizeMiB * MiB / 1e6 / s).toFixed(0)} MB/s; error: ${await evaluate(`document.querySelector('#uploads li:last-child').dataset.error ?? 'none'`)}`);
  const cpuAfter = cpu();
  console.log(`CPU seconds during the upload (${s.toFixed(1)} s wall, ${os.cpus().length} cores): ${[...cpuAfter].map(([k, v]) => `${k} ${(v - (cpuBefore.get(k) ?? 0)).toFixed(1)}`).join(', ')}`);
  const mib = (kib) => `${(kib / 1024).toFixed(0)} MiB`;
  console.log(`peak RSS by process (idle → during): ${[...peak].map(([k, v]) => `${k} ${mib(idle.get(k) ?? 0)} → ${mib(v)}`).join(', ')}`);
  if (process.env.GC) {
    const rss = () => { peak.clear(); sample(); return mib(peak.get('renderer')); };
    console.log('renderer now', rss(), 'workers', workers.length);
    for (const w of workers) {
      console.log('worker heap', JSON.stringify((await send('Runtime.getHeapUsage', {}, w)).result));
      await send('HeapProfiler.collectGarbage', {}, w);
    }
    await send('HeapProfiler.collectGarbage', {});
    await new Promise((r) => setTimeout(r, 2000));
    console.log('renderer after GC', rss());
  }
  fs.rmSync(file);

} finally {
  ws.close();
  chrome.kill();
  await new Promise((r) => (chrome.exitCode !== null ? r() : chrome.once('exit', r)));
  await server.stop();
  fs.rmSync(profile, { recursive: true, force: true });
}
