// Checks of the web page that need no browser and no server (scripts/typecheck runs
// them after tsc): every page module is type-checked, and the page knows exactly the
// server's problem codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const web = path.join(repo, 'web');
const tsc = path.join(repo, 'tests/e2e/node_modules/.bin/tsc');

test('every page module is checked: // @ts-check, and in one of the two tsc programs', () => {
  // The page's own modules: web/*.js and web/parts/*.js (not generated or vendored code).
  const modules = ['', 'parts/'].flatMap((dir) => fs.readdirSync(path.join(web, dir)).filter((n) => n.endsWith('.js')).map((n) => dir + n)).sort();
  assert.ok(modules.includes('app.js') && modules.includes('sw.js'), `${modules}`);
  for (const name of modules) {
    assert.match(fs.readFileSync(path.join(web, name), 'utf8'), /^\/\/ @ts-check\n/, `${name} starts with // @ts-check`);
  }
  const checked = new Set();
  for (const config of ['tsconfig.json', 'tsconfig.worker.json']) {
    const files = execFileSync(tsc, ['-p', path.join(web, config), '--listFilesOnly'], { encoding: 'utf8' });
    for (const f of files.split('\n')) if (modules.includes(path.relative(web, f))) checked.add(path.relative(web, f));
  }
  assert.deepEqual([...checked].sort(), modules, 'the programs of web/tsconfig*.json cover every web/*.js and web/parts/*.js');
});

test("the page's problem codes are the server's", async () => {
  const source = fs.readFileSync(path.join(repo, 'vault-server/src/api/problem.rs'), 'utf8');
  const asStr = source.slice(source.indexOf('fn as_str('));
  const server = [...asStr.matchAll(/Self::\w+ => "([a-z-]+)"/g)].map((m) => m[1]);
  assert.ok(server.length >= 20, `read the server's codes: ${server}`);
  const { PROBLEM_CODES } = await import(path.join(web, 'api.js'));
  assert.deepEqual([...PROBLEM_CODES].sort(), [...server].sort());
});

test('every pattern attribute of the page is a valid regular expression under the v flag', () => {
  // Browsers compile `pattern` with the `v` flag and silently skip an invalid one (the
  // field then accepts anything, with only a console error).
  const html = fs.readFileSync(path.join(web, 'index.html'), 'utf8');
  const patterns = [...html.matchAll(/pattern="([^"]*)"/g)].map((m) => m[1].replaceAll('&quot;', '"').replaceAll('&amp;', '&'));
  assert.ok(patterns.length >= 3, `found ${patterns.length} patterns`);
  for (const p of patterns) assert.doesNotThrow(() => new RegExp(`^(?:${p})$`, 'v'), p);
  const invite = patterns.find((p) => p.includes('@'));
  assert.equal(new RegExp(`^(?:${invite})$`, 'v').test('Grandpa Joe'), false, 'a name with a space is not a user id');
  assert.equal(new RegExp(`^(?:${invite})$`, 'v').test('user_2abc|clerk'), true);
});
