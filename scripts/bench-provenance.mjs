#!/usr/bin/env node
// The cost of provenance in fwatchdog (http mode): the same trivial upstream reached directly,
// through fwatchdog with provenance off, and through fwatchdog with provenance on, at 16 and 1
// connections, in one run. Cases are interleaved over several short rounds and the median is
// reported, so drift on a shared machine hits every case alike.
//
// Provenance on is measured twice. "provenance on" ships to a real collector running on the same
// two cores, where its ingest CPU (~20 us per event) competes with the request path: the worst
// case. "on, remote collector" ships to a receiver that answers 200 and stores nothing, standing
// in for a collector on another node (as deployed): what fwatchdog itself costs. The fwatchdog
// process's CPU per request is reported for every case.
//
//   node scripts/bench-provenance.mjs [--duration 3] [--rounds 3] [--connections 16,1] [--tool autocannon|wrk] [--work-us N] [--rate N] [--json]
//
// fwatchdog serves every request on its main thread, and at 16 connections that thread is what
// saturates (~0.95 busy): throughput is the inverse of its CPU per request, which the bench
// reports as "main us/req". --rate N offers a fixed N req/s instead (autocannon): every case does
// the same work, so "main us/req" then compares the cases without the feedback of a saturated
// machine (a slower watchdog leaves its peers idle, and waking them costs more).
//
// --work-us N: the upstream spends N us of CPU on each request (hashing) before it answers, for
// the cost against a function that does something; the default (0) is the worst case, a
// hello-world whose whole cost is the HTTP plumbing.
//
// Target: provenance on costs under 5% req/s at 16 connections against provenance off.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuMs, freePort, listeningUrl, measure } from './bench-watchdog.mjs';

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
const workUs = Number(arg('work-us') ?? 0);
// measure() refuses a rate with wrk, which has none.
const rate = arg('rate') === undefined ? undefined : Number(arg('rate'));
const TOKEN = 'bench-provenance-secret';

const UPSTREAM_SRC = `
const http = require('node:http');
const { createHash } = require('node:crypto');
const body = Buffer.from('Hello, world\\n');
const block = Buffer.alloc(1024, 1);
const WORK_US = ${workUs};
http.createServer((req, res) => {
  req.resume();
  for (const t = performance.now(); (performance.now() - t) * 1000 < WORK_US; ) createHash('sha256').update(block).digest();
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
}).listen(Number(process.env.UPSTREAM_PORT), '127.0.0.1');
`;

async function startCollector(tmp) {
  const p = spawn(process.execPath, [join(root, 'dist', 'alastor.js'), 'collector', '--db', join(tmp, 'store.db'), '--port', '0', '--graph', 'off'], {
    env: { ...process.env, ALASTOR_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const url = await listeningUrl(p, 'collector');
  return {
    url,
    pid: p.pid,
    stop: () => new Promise((r) => {
      p.once('exit', r);
      p.kill('SIGTERM');
    }),
  };
}

// Answers every batch 200 after reading it, stores nothing: a collector on another machine, as far
// as the watchdog's CPU is concerned. Its own CPU (~6-10 us per watchdog request, mostly reading
// the bodies) still lands on the same two cores, so the bench reports it.
const SINK_SRC = `
const http = require('node:http');
const s = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const body = '{"stored":0,"duplicate":false}';
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
s.listen(0, '127.0.0.1', () => console.log('listening on http://127.0.0.1:' + s.address().port));
`;

async function startSink(tmp) {
  const file = join(tmp, 'sink.js');
  writeFileSync(file, SINK_SRC);
  const p = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'ignore'] });
  const url = await listeningUrl(p, 'sink');
  return { url, pid: p.pid, stop: stopper(p) };
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
  return { url, pid: p.pid, stop: stopper(p) };
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
  return { url: `http://127.0.0.1:${port}/`, pid: p.pid, stop: stopper(p) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const tmp = mkdtempSync(join(tmpdir(), 'bench-provenance-'));
const upstreamScript = join(tmp, 'upstream.js');
writeFileSync(upstreamScript, UPSTREAM_SRC);
const ctx = { tmp, upstreamScript, procs: [] };
let collector;
let sink;
const cases = [];
const rows = [];
try {
  collector = await startCollector(tmp);
  cases.push({ name: 'direct', ...(await startDirect(ctx)) });
  cases.push({ name: 'provenance off', ...(await startFwatchdog(ctx, { ALASTOR_PROVENANCE: 'off' })) });
  cases.push({ name: 'provenance on', peerPid: collector.pid, ...(await startFwatchdog(ctx, { ALASTOR_COLLECTOR_URL: collector.url, ALASTOR_TOKEN: TOKEN, ALASTOR_FUNCTION: 'bench', ALASTOR_SPOOL_DIR: join(tmp, 'spool') })) });
  sink = await startSink(tmp);
  cases.push({ name: 'on, remote collector', peerPid: sink.pid, ...(await startFwatchdog(ctx, { ALASTOR_COLLECTOR_URL: sink.url, ALASTOR_TOKEN: TOKEN, ALASTOR_FUNCTION: 'bench', ALASTOR_SPOOL_DIR: join(tmp, 'spool2') })) });
  for (const connections of connectionsList) {
    const samples = new Map(cases.map((c) => [c.name, []]));
    for (const c of cases) await measure(c.url, { connections, durationSec: 1, tool, rate }); // warm-up
    for (let r = 0; r < rounds; r++) {
      // Rotate the order each round so no case always runs first or last.
      for (let k = 0; k < cases.length; k++) {
        const c = cases[(k + r) % cases.length];
        const cpu0 = cpuMs(c.pid);
        const main0 = cpuMs(c.pid, c.pid);
        const peer0 = c.peerPid ? cpuMs(c.peerPid) : 0;
        const m = await measure(c.url, { connections, durationSec, tool, rate });
        m.cpuUsPerReq = ((cpuMs(c.pid) - cpu0) * 1000) / (m.rps * durationSec);
        m.mainUsPerReq = ((cpuMs(c.pid, c.pid) - main0) * 1000) / (m.rps * durationSec);
        if (c.peerPid) m.peerUsPerReq = ((cpuMs(c.peerPid) - peer0) * 1000) / (m.rps * durationSec);
        samples.get(c.name).push(m);
      }
    }
    const med = (name) => {
      const s = samples.get(name);
      return { rps: median(s.map((x) => x.rps)), cpuUsPerReq: median(s.map((x) => x.cpuUsPerReq)), mainUsPerReq: median(s.map((x) => x.mainUsPerReq)), peerUsPerReq: s[0].peerUsPerReq === undefined ? undefined : median(s.map((x) => x.peerUsPerReq)), p50: median(s.map((x) => x.p50)), p99: median(s.map((x) => x.p99)), errors: s.reduce((a, x) => a + x.errors, 0), all: s.map((x) => Math.round(x.rps)) };
    };
    const off = med('provenance off');
    const direct = med('direct');
    for (const c of cases) {
      const m = med(c.name);
      rows.push({ case: c.name, connections, ...m, vsOff: m.rps / off.rps, vsDirect: m.rps / direct.rps, mainVsOff: m.mainUsPerReq / off.mainUsPerReq });
    }
  }
} finally {
  await Promise.all(cases.map((c) => c.stop()));
  for (const p of ctx.procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await collector?.stop();
  await sink?.stop();
  rmSync(tmp, { recursive: true, force: true });
}

if (JSON_OUT) console.log(JSON.stringify({ bench: 'fwatchdog-provenance', tool, durationSec, rounds, workUs, rate, rows }));
else {
  const f = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
  console.log(`\nfwatchdog provenance cost (${tool}, median of ${rounds} x ${durationSec}s per case, http mode, ${workUs ? `upstream working ${workUs} us per request` : 'trivial upstream'}${rate ? `, fixed ${rate} req/s` : ''})\n`);
  console.log(['case'.padEnd(20), 'conns', '   req/s', ' p50 ms', ' p99 ms', 'errors', 'vs off', 'vs direct', 'us CPU/req', 'main us/req', '  rounds (req/s)'].join(' '));
  for (const r of rows) {
    console.log([r.case.padEnd(20), String(r.connections).padStart(5), f(r.rps, 0).padStart(8), f(r.p50, 3).padStart(7), f(r.p99, 3).padStart(7), String(r.errors).padStart(6), f(r.vsOff, 3).padStart(6), f(r.vsDirect, 3).padStart(9), f(r.cpuUsPerReq, 0).padStart(10), f(r.mainUsPerReq, 0).padStart(11), `  ${r.all.join(' ')}`].join(' '));
  }
  console.log('\n(us CPU/req: the measured process, fwatchdog or the direct upstream; main us/req: its main thread alone)');
  for (const r of rows) if (r.peerUsPerReq !== undefined) console.log(`${r.case}, ${r.connections} connection(s): the collector${r.case === 'provenance on' ? '' : "'s stand-in"} used ${f(r.peerUsPerReq, 1)} us CPU per request on the same cores`);
  for (const name of ['provenance on', 'on, remote collector']) {
    const on16 = rows.find((r) => r.case === name && r.connections === 16);
    if (on16 && !rate) console.log(`${name} vs off at 16 connections: ${f(on16.vsOff, 3)} (cost ${f((1 - on16.vsOff) * 100, 1)}%; target < 5%)`);
    if (on16) console.log(`${name}: main thread ${f(on16.mainUsPerReq - rows.find((r) => r.case === 'provenance off' && r.connections === 16).mainUsPerReq, 1)} us per request more than off (x${f(on16.mainVsOff, 3)})`);
  }
}
