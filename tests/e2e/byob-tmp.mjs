import { chromium } from 'playwright-core';
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless','--no-sandbox','--disable-gpu'] });
const p = await b.newPage();
await p.setContent('<input type=file id=f>');
await p.setInputFiles('#f', '/tmp/raw-upload.webm');
p.on('console', (m) => console.log('console', m.text()));
console.log(await p.evaluate(async () => {
  const file = document.querySelector('#f').files[0];
  const part = 8 * 1024 * 1024 - 12345;
  async function readInto(blob, into) {
    const reader = blob.stream().getReader({ mode: 'byob' });
    let buffer = into.buffer, at = 0;
    try {
      while (at < blob.size) {
        const { value } = await Promise.race([reader.read(new Uint8Array(buffer, at, blob.size - at)), new Promise((_, j) => setTimeout(() => j(new Error(`stuck at ${at}`)), 5000))]);
        if (!value?.byteLength) throw new Error('ended');
        buffer = value.buffer; at += value.byteLength;
      }
    } finally { reader.cancel().catch(() => {}); }
    return new Uint8Array(buffer, 0, blob.size);
  }
  let bufs = [new ArrayBuffer(part), new ArrayBuffer(part)];
  const t = performance.now();
  let n = 0;
  try {
    for (let from = 0; from < file.size; from += part, n++) {
      const to = Math.min(file.size, from + part);
      const v = await readInto(file.slice(from, to), new Uint8Array(bufs[n % 2], 0, to - from));
      bufs[n % 2] = v.buffer;
    }
  } catch (e) { return `failed at part ${n}: ${e.message}`; }
  return `read ${n} parts in ${(performance.now() - t).toFixed(0)} ms`;
}));
await b.close();
