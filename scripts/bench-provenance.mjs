#!/usr/bin/env node
// The cost of provenance in fwatchdog (http mode): the same trivial upstream reached directly,
// through fwatchdog with provenance off, and through fwatchdog with provenance on (shipping to a
// real collector), at 16 and 1 connections, in one run. Cases are interleaved over several short
// rounds and the median is reported, so drift on a shared machine hits every case alike.
//
//   node scripts/bench-provenance.mjs [--duration 3] [--rounds 3] [--connections 16,1] [--tool autocannon|wrk] [--json]
//
// Target: provenance on costs under 5% req/s at 16 connections against provenance off.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, measure } from './bench-watchdog.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
};
const durationSec = Number(arg('duration') ?? 3);
const rounds = Number(arg('rounds') ?? 3);
const connectionsList = (arg('connections') ?? '16,1').split(',').map(Number);
const tool = arg('tool') ?? 'autocannon';
const JSON_OUT = process.argv.includes('--json');
const TOKEN = 'bench-provenance-secret';

const UPSTREAM_SRC = `
const http = require('node:http');
const body = Buffer.from('Hello, world\\n');
http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
}).listen(Number(process.env.UPSTREAM_PORT), '127.0.0.1');
`;

async function startCollector(tmp) {
  const p = spawn(process.execPath, [join(root, 'dist', 'alastor.js'), 'collector', '--db', join(tmp, 'store.db'), '--port', '0', '--graph', 'off'], {
    env: { ...process.env, ALASTOR_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    p.stdout.on('data', (b) => {
      out += b;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    p.once('exit', (c) => reject(new Error(`collector exited (${c})`)));
  });
  return {
    url,
    stop: () => new Promise((r) => {
      p.once('exit', r);
      p.kill('SIGTERM');
    }),
  };
}

function stopper(p) {
  return () => new Promise((r) => {
    if (p.exitCode !== null || p.signalCode !== null) return r();
    p.once('exit', r);
    p.kill('SIGTERM');
    setTimeout(() => p.kill('SIGKILL'), 5000).unref();
  });
}

async function ready(url, p, what) {
  // Generous: a shared 2-core machine can be slow to start node processes.
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (p.exitCode !== null) throw new Error(`${what} exited with code ${p.exitCode}`);
    const ok = await fetch(url).then((r) => r.status === 200, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not ready at ${url}`);
}

async function startDirect(ctx) {
  const port = await freePort();
  const p = spawn(process.execPath, [ctx.upstreamScript], { env: { ...process.env, UPSTREAM_PORT: String(port) }, stdio: 'ignore' });
  ctx.procs.push(p);
  const url = `http://127.0.0.1:${port}/`;
  await ready(url, p, 'upstream');
  return { url, stop: stopper(p) };
}

async function startFwatchdog(ctx, extraEnv) {
  const [port, metricsPort, upstreamPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const p = spawn(process.execPath, [join(root, 'dist', 'fwatchdog.js')], {
    env: {
      ...process.env, TMPDIR: ctx.tmp, mode: 'http', fprocess: `${process.execPath} ${ctx.upstreamScript}`,
      upstream_url: `http://127.0.0.1:${upstreamPort}`, UPSTREAM_PORT: String(upstreamPort), port: String(port),
      metrics_port: String(metricsPort), suppress_lock: 'true', prefix_logs: 'false', ...extraEnv,
    },
    stdio: 'ignore',
  });
  ctx.procs.push(p);
  await ready(`http://127.0.0.1:${port}/_/health`, p, 'fwatchdog');
  return { url: `http://127.0.0.1:${port}/`, stop: stopper(p) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const tmp = mkdtempSync(join(tmpdir(), 'bench-provenance-'));
const upstreamScript = join(tmp, 'upstream.js');
writeFileSync(upstreamScript, UPSTREAM_SRC);
const ctx = { tmp, upstreamScript, procs: [] };
let collector;
const cases = [];
const rows = [];
try {
  collector = await startCollector(tmp);
  cases.push({ name: 'direct', ...(await startDirect(ctx)) });
  cases.push({ name: 'provenance off', ...(await startFwatchdog(ctx, { ALASTOR_PROVENANCE: 'off' })) });
  cases.push({ name: 'provenance on', ...(await startFwatchdog(ctx, { ALASTOR_COLLECTOR_URL: collector.url, ALASTOR_TOKEN: TOKEN, ALASTOR_FUNCTION: 'bench', ALASTOR_SPOOL_DIR: join(tmp, 'spool') })) });
  for (const connections of connectionsList) {
    const samples = new Map(cases.map((c) => [c.name, []]));
    for (const c of cases) await measure(c.url, { connections, durationSec: 1, tool }); // warm-up
    for (let r = 0; r < rounds; r++) {
      // Rotate the order each round so no case always runs first or last.
      for (let k = 0; k < cases.length; k++) {
        const c = cases[(k + r) % cases.length];
        samples.get(c.name).push(await measure(c.url, { connections, durationSec, tool }));
      }
    }
    const med = (name) => {
      const s = samples.get(name);
      return { rps: median(s.map((x) => x.rps)), p50: median(s.map((x) => x.p50)), p99: median(s.map((x) => x.p99)), errors: s.reduce((a, x) => a + x.errors, 0), all: s.map((x) => Math.round(x.rps)) };
    };
    const off = med('provenance off');
    const direct = med('direct');
    for (const c of cases) {
      const m = med(c.name);
      rows.push({ case: c.name, connections, ...m, vsOff: m.rps / off.rps, vsDirect: m.rps / direct.rps });
    }
  }
} finally {
  await Promise.all(cases.map((c) => c.stop()));
  for (const p of ctx.procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await collector?.stop();
  rmSync(tmp, { recursive: true, force: true });
}

if (JSON_OUT) console.log(JSON.stringify({ bench: 'fwatchdog-provenance', tool, durationSec, rounds, rows }));
else {
  const f = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
  console.log(`\nfwatchdog provenance cost (${tool}, median of ${rounds} x ${durationSec}s per case, http mode, trivial upstream)\n`);
  console.log(['case'.padEnd(16), 'conns', '   req/s', ' p50 ms', ' p99 ms', 'errors', 'vs off', 'vs direct', '  rounds (req/s)'].join(' '));
  for (const r of rows) {
    console.log([r.case.padEnd(16), String(r.connections).padStart(5), f(r.rps, 0).padStart(8), f(r.p50, 3).padStart(7), f(r.p99, 3).padStart(7), String(r.errors).padStart(6), f(r.vsOff, 3).padStart(6), f(r.vsDirect, 3).padStart(9), `  ${r.all.join(' ')}`].join(' '));
  }
  const on16 = rows.find((r) => r.case === 'provenance on' && r.connections === 16);
  if (on16) console.log(`\nprovenance on vs off at 16 connections: ${f(on16.vsOff, 3)} (cost ${f((1 - on16.vsOff) * 100, 1)}%; target < 5%)`);
}
