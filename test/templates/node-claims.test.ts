// The node-alastor template's claims (events/claims.ts) through a real template process: its
// index.js and instrumentation, a handler that writes, reads, spawns and connects in concurrent
// requests, and the claim pipe on fd 3 read by this test as fwatchdog reads it. Each act must be
// claimed for the invocation whose request did it, even while several are in flight.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { parseClaim, type Claim } from '../../events';
import { freePort } from '../support/watchdog';

const ROOT = join(__dirname, '..', '..');
const TEMPLATE = join(ROOT, 'function-templates', 'template', 'node-alastor');

// Every act names the request's tag, so the test knows which invocation each one belongs to.
const HANDLER = `
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');
const pause = (ms) => new Promise((r) => setTimeout(r, ms));
module.exports = async (event) => {
  const tag = event.body.tag;
  const dir = process.env.CLAIM_TEST_DIR;
  await pause(20);
  fs.writeFileSync(path.join(dir, tag + '.w'), tag);
  await pause(20);
  await fs.promises.readFile(path.join(dir, tag + '.w'), 'utf8');
  const child = spawn('/bin/sh', ['-c', 'exit 0']);
  await new Promise((r) => child.on('exit', r));
  await new Promise((resolve, reject) => {
    const s = net.connect(Number(process.env.CLAIM_TEST_PORT), '127.0.0.1', () => { s.end(); resolve(); });
    s.on('error', reject);
  });
  await pause(20);
  fs.writeFileSync(path.join(dir, 'planted-' + tag + '.js'), 'module.exports = 1;');
  require(path.join(dir, 'planted-' + tag + '.js'));
  return { tag, child: child.pid };
};
`;

let work: string;
let fn: ChildProcess;
let sink: Server;
let port = 0;
const claims: Claim[] = [];
let malformed = 0;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'alastor-claims-'));
  const app = join(work, 'app');
  cpSync(TEMPLATE, app, { recursive: true });
  writeFileSync(join(app, 'function', 'handler.js'), HANDLER);
  sink = createServer((_q, r) => r.end());
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
  port = await freePort();
  fn = spawn(process.execPath, [join(app, 'index.js')], {
    env: {
      PATH: process.env.PATH,
      NODE_PATH: join(ROOT, 'node_modules'),
      http_port: String(port),
      // A collector nobody listens on: spans are exported and lost, which the template tolerates.
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:9/v1/traces',
      ALASTOR_CLAIM_FD: '3',
      CLAIM_TEST_DIR: work,
      CLAIM_TEST_PORT: String((sink.address() as AddressInfo).port),
    },
    stdio: ['ignore', 'pipe', 'inherit', 'pipe'],
  });
  let buf = '';
  (fn.stdio[3] as Readable).setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const c = parseClaim(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      if (c) claims.push(c);
      else malformed++;
    }
  });
  await new Promise<void>((resolve, reject) => {
    fn.stdout!.setEncoding('utf8').on('data', (d: string) => d.includes('listening') && resolve());
    fn.once('exit', (code) => reject(new Error(`template exited with ${code}`)));
  });
}, 30000);

afterAll(async () => {
  fn?.kill('SIGKILL');
  sink?.close();
  rmSync(work, { recursive: true, force: true });
});

async function request(tag: string, invocation: string): Promise<{ tag: string; child: number }> {
  const res = await fetch(`http://127.0.0.1:${port}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-alastor-invocation': invocation },
    body: JSON.stringify({ tag }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { tag: string; child: number };
}

test('every act of concurrent requests is claimed for its own invocation: files, modules, spawns and connects', async () => {
  const tags = ['a', 'b', 'c', 'd', 'e', 'f'];
  const out = await Promise.all(tags.map((t) => request(t, `inv-${t}`)));
  await new Promise((r) => setTimeout(r, 200));
  expect(malformed).toBe(0);
  for (const [i, t] of tags.entries()) {
    const mine = claims.filter((c) => c.invocation === `inv-${t}`);
    expect(mine.every((c) => c.pid === fn.pid)).toBe(true);
    const files = mine.filter((c) => c.op === 'file').map((c) => c.path);
    expect(files).toEqual(expect.arrayContaining([join(work, `${t}.w`), join(work, `planted-${t}.js`)]));
    // Each file claim says whether it read or changed the file: written, read back, planted, loaded.
    const modes = (f: string) => mine.filter((c) => c.path === join(work, f)).map((c) => c.mode);
    expect(modes(`${t}.w`)).toEqual(['w', 'r']);
    // The load is claimed by the loader hook and again by the loader's own readFileSync.
    const [plant, ...loads] = modes(`planted-${t}.js`);
    expect(plant).toBe('w');
    expect(loads.length).toBeGreaterThan(0);
    expect(loads.every((m) => m === 'r')).toBe(true);
    expect(mine.find((c) => c.op === 'spawn')?.child).toBe(out[i].child);
    expect(mine.filter((c) => c.op === 'connect')).toEqual([expect.objectContaining({ addr: '127.0.0.1', port: (sink.address() as AddressInfo).port })]);
  }
  // No act of one request is claimed for another (the reads went through the thread pool, in
  // fs.promises, while the others' writes were under way).
  const named = claims.filter((c) => c.path && /\/(?:planted-)?[a-f]\.(?:w|js)$/.test(c.path));
  expect(named.length).toBeGreaterThanOrEqual(tags.length * 4);
  for (const c of named) expect(c.invocation).toBe(`inv-${/\/(?:planted-)?([a-f])\.(?:w|js)$/.exec(c.path!)![1]}`);
  expect(readFileSync(join(work, 'a.w'), 'utf8')).toBe('a');
});

test('a request outside any invocation (no X-Alastor-Invocation) is served and claims nothing', async () => {
  const before = claims.length;
  const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tag: 'z' }) });
  expect(res.status).toBe(200);
  await new Promise((r) => setTimeout(r, 100));
  expect(claims.length).toBe(before);
});
