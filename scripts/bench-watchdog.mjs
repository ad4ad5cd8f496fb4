#!/usr/bin/env node
// Benchmarks fwatchdog in http mode against the same trivial Node upstream reached directly, at
// 1 and 16 connections, in one run: requests/s, p50, p99 and the ratio through/direct.
//
//   node scripts/bench-watchdog.mjs [--duration 5] [--connections 1,16] [--tool wrk|autocannon]
//        [--no-reference] [--of-watchdog /path/to/of-watchdog]   (or OF_WATCHDOG_BIN=...)
//
// Rows: direct, fwatchdog, and a minimal undici proxy (the floor any Node proxy pays: a second
// process and a second HTTP hop), each with its own copy of the upstream.
// wrk (Debian package) is used when present because it reports latency in microseconds;
// autocannon (npm) is the fallback, with millisecond latency resolution.
//
// Reuse: import { runWatchdogBench, startFwatchdog } and pass extra scenarios, e.g.
//   await runWatchdogBench({ scenarios: [{ name: 'fwatchdog, provenance on',
//     start: (ctx) => startFwatchdog(ctx, { ALASTOR_PROVENANCE: '1' }) }] });
// A scenario's start(ctx) resolves to { url, stop() }; ctx.upstreamScript is the upstream's file.
import { spawn, spawnSync } from 'node:child_process';
import { fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const FWATCHDOG = join(root, 'dist', 'fwatchdog.js');

const UPSTREAM_SRC = `
const http = require('node:http');
const body = Buffer.from('Hello, world\\n');
http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
}).listen(Number(process.env.UPSTREAM_PORT), '127.0.0.1');
`;

// The floor: a minimal undici proxy with no watchdog features (no limits, metrics, logs, timers).
const PLAIN_PROXY_SRC = (undiciPath) => `
const http = require('node:http');
const { Pool } = require(${JSON.stringify(undiciPath)});
const pool = new Pool(process.env.TARGET, { pipelining: 1 });
http.createServer((req, res) => {
  pool.request({ path: req.url, method: req.method, headers: { host: req.headers.host } }).then(
    (r) => { res.writeHead(r.statusCode, r.headers); r.body.pipe(res); },
    () => { res.writeHead(500); res.end(); });
}).listen(Number(process.env.PROXY_PORT), '127.0.0.1');
`;

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function status(url) {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: 500 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function waitFor(url, proc, what) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with code ${proc.exitCode}`);
    if ((await status(url)) === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} not ready at ${url}`);
}

/**
 * Remembers how a process ended and the tail of its stderr, for the notes under the table.
 * stderr goes to a file, never a pipe: wrk runs synchronously, so nothing would drain a pipe and
 * a server logging one line per request would block on it.
 */
function logFile(ctx, name) {
  return openSync(join(ctx.tmp, `${name.replace(/\W+/g, '-')}-${process.hrtime.bigint()}.log`), 'w');
}
function watch(proc, name, fd) {
  proc.on('exit', (code, signal) => {
    if (proc.stopping) return;
    let tail = '';
    try {
      const st = fstatSync(fd);
      const len = Math.min(400, st.size);
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, st.size - len);
      tail = buf.toString().trim();
    } catch {
      /* no log */
    }
    exits.push(`${name} (pid ${proc.pid}) exited early: code ${code}, signal ${signal}${tail ? `: ${tail}` : ''}`);
  });
  return proc;
}
const exits = [];

function stopper(proc) {
  return () =>
    new Promise((resolve) => {
      proc.stopping = true;
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
      setTimeout(() => proc.kill('SIGKILL'), 5000).unref();
    });
}

/** The upstream alone, reached directly. */
export async function startDirect(ctx) {
  const port = await freePort();
  const err = logFile(ctx, 'upstream');
  const proc = watch(spawn(process.execPath, [ctx.upstreamScript], { env: { ...process.env, UPSTREAM_PORT: String(port) }, stdio: ['ignore', 'ignore', err] }), 'upstream', err);
  const url = `http://127.0.0.1:${port}/`;
  await waitFor(url, proc, 'upstream');
  return { url, pid: proc.pid, stop: stopper(proc) };
}

/** fwatchdog in http mode in front of its own copy of the upstream. */
export async function startFwatchdog(ctx, extraEnv = {}) {
  const [port, metricsPort, upstreamPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const err = logFile(ctx, 'fwatchdog');
  const proc = spawn(process.execPath, [FWATCHDOG], {
    env: {
      ...process.env,
      TMPDIR: ctx.tmp,
      mode: 'http',
      fprocess: `${process.execPath} ${ctx.upstreamScript}`,
      upstream_url: `http://127.0.0.1:${upstreamPort}`,
      UPSTREAM_PORT: String(upstreamPort),
      port: String(port),
      metrics_port: String(metricsPort),
      suppress_lock: 'true',
      ...extraEnv,
    },
    stdio: ['ignore', 'ignore', err],
  });
  watch(proc, 'fwatchdog', err);
  await waitFor(`http://127.0.0.1:${port}/_/health`, proc, 'fwatchdog');
  return { url: `http://127.0.0.1:${port}/`, pid: proc.pid, stop: stopper(proc) };
}

/** A minimal undici proxy in front of its own copy of the upstream (reference, not a product). */
export async function startPlainProxy(ctx) {
  const up = await startDirect(ctx);
  const port = await freePort();
  const script = join(ctx.tmp, 'plain-proxy.js');
  writeFileSync(script, PLAIN_PROXY_SRC(join(root, 'node_modules', 'undici')));
  const err = logFile(ctx, 'plain proxy');
  const proc = watch(spawn(process.execPath, [script], { env: { ...process.env, TARGET: new URL(up.url).origin, PROXY_PORT: String(port) }, stdio: ['ignore', 'ignore', err] }), 'plain proxy', err);
  const url = `http://127.0.0.1:${port}/`;
  await waitFor(url, proc, 'plain proxy');
  const stop = stopper(proc);
  return { url, pid: proc.pid, stop: () => Promise.all([stop(), up.stop()]) };
}

/**
 * The Go of-watchdog (a binary you built, e.g. 0.9.6 from openfaas/of-watchdog with
 * `GOFLAGS=-mod=vendor go build`), same upstream, for a comparison in the same run. Its metrics
 * port is fixed at 8081 in 0.9.6, so that port must be free.
 */
export async function startOfWatchdog(ctx, bin) {
  const [port, upstreamPort] = await Promise.all([freePort(), freePort()]);
  const err = logFile(ctx, 'of-watchdog');
  const proc = spawn(bin, [], {
    env: {
      ...process.env,
      TMPDIR: ctx.tmp,
      mode: 'http',
      fprocess: `${process.execPath} ${ctx.upstreamScript}`,
      upstream_url: `http://127.0.0.1:${upstreamPort}`,
      UPSTREAM_PORT: String(upstreamPort),
      port: String(port),
    },
    stdio: ['ignore', 'ignore', err],
  });
  watch(proc, 'of-watchdog', err);
  // of-watchdog reports healthy before its upstream listens: wait for a proxied 200 instead.
  await waitFor(`http://127.0.0.1:${port}/`, proc, 'of-watchdog');
  return { url: `http://127.0.0.1:${port}/`, pid: proc.pid, stop: stopper(proc) };
}

function parseWrkTime(s) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(s);
  if (!m) return NaN;
  const mult = { us: 0.001, ms: 1, s: 1000, m: 60000 }[m[2]];
  return Number(m[1]) * mult;
}

function runWrk(url, connections, durationSec) {
  const r = spawnSync('wrk', ['-t1', `-c${connections}`, `-d${durationSec}s`, '--latency', url], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr || r.stdout}`);
  const out = r.stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = parseWrkTime(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const p99 = parseWrkTime(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0';
  const total = Number(/(\d+) requests in/.exec(out)?.[1]);
  const socketErr = /Socket errors: (.*)/.exec(out)?.[1];
  return { rps, p50, p99, total, errors: Number(errors), note: socketErr };
}

async function runAutocannon(url, connections, durationSec, rate) {
  const { default: autocannon } = await import('autocannon');
  const res = await autocannon({ url, connections, duration: durationSec, ...(rate ? { overallRate: rate } : {}) });
  return { rps: res.requests.average, p50: res.latency.p50, p99: res.latency.p99, total: res.requests.total, errors: res.non2xx + res.errors };
}

/** One measurement: { rps, p50 (ms), p99 (ms), errors }. rate: a fixed offered load in req/s (autocannon only). */
export async function measure(url, { connections, durationSec, tool, rate }) {
  if (rate && tool === 'wrk') throw new Error('a fixed rate needs --tool autocannon (wrk has no rate limit)');
  return tool === 'wrk' ? runWrk(url, connections, durationSec) : runAutocannon(url, connections, durationSec, rate);
}

/** The URL a child process prints as `listening on http://...` (the collector, a bench server). */
export function listeningUrl(p, what) {
  return new Promise((resolve, reject) => {
    let out = '';
    p.stdout.on('data', (b) => {
      out += b;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    p.once('exit', (c) => reject(new Error(`${what} exited (${c})`)));
  });
}

/**
 * CPU time (user + system, ms) a process has used so far, from /proc (Linux); NaN elsewhere.
 * thread: only that thread (the pid itself is the main thread, which runs every request in Node).
 */
export function cpuMs(pid, thread) {
  try {
    const f = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // clock ticks of 10 ms
  } catch {
    return NaN;
  }
}

function hasWrk() {
  return spawnSync('wrk', ['--version'], { encoding: 'utf8' }).error === undefined;
}

/**
 * Runs every scenario at every connection count and prints one table. The first scenario is the
 * baseline the ratios are computed against. Returns the rows.
 */
export async function runWatchdogBench(opts = {}) {
  const durationSec = opts.durationSec ?? 5;
  const connectionsList = opts.connections ?? [1, 16];
  const tool = opts.tool ?? (hasWrk() ? 'wrk' : 'autocannon');
  const scenarios = [
    { name: 'direct', start: startDirect },
    { name: 'fwatchdog (http mode)', start: (ctx) => startFwatchdog(ctx) },
    ...(opts.reference === false ? [] : [{ name: 'plain undici proxy (floor)', start: startPlainProxy }]),
    ...(opts.ofWatchdog ? [{ name: 'of-watchdog (Go)', start: (ctx) => startOfWatchdog(ctx, opts.ofWatchdog) }] : []),
    ...(opts.scenarios ?? []),
  ];
  const tmp = mkdtempSync(join(tmpdir(), 'bench-watchdog-'));
  const upstreamScript = join(tmp, 'upstream.js');
  writeFileSync(upstreamScript, UPSTREAM_SRC);
  const ctx = { tmp, upstreamScript };
  const started = [];
  const rows = [];
  try {
    for (const s of scenarios) started.push({ ...s, ...(await s.start(ctx)) });
    for (const connections of connectionsList) {
      let base;
      for (const s of started) {
        // Warm-up at 16 connections whatever the case: at 1 connection a second sees too few
        // requests for V8 to optimise the hot path, and a watchdog in service is warm.
        await measure(s.url, { connections: Math.max(16, connections), durationSec: 2, tool }).catch(() => {});
        let r;
        const c0 = s.pid ? cpuMs(s.pid) : NaN;
        try {
          r = await measure(s.url, { connections, durationSec, tool });
        } catch (err) {
          exits.push(`${s.name} at ${connections} connections: ${err.message.trim()}`);
          rows.push({ scenario: s.name, connections, rps: NaN, p50: NaN, p99: NaN, errors: NaN, cpuPerReq: NaN, ratio: NaN, addedP50: NaN });
          continue;
        }
        const cpuPerReq = ((s.pid ? cpuMs(s.pid) : NaN) - c0) * 1000 / r.total;
        base ??= r;
        rows.push({ scenario: s.name, connections, ...r, cpuPerReq, ratio: r.rps / base.rps, addedP50: r.p50 - base.p50 });
      }
    }
  } finally {
    await Promise.all(started.map((s) => s.stop()));
    rmSync(tmp, { recursive: true, force: true });
  }
  const fmt = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
  console.log(`\nfwatchdog http mode benchmark (${tool}, ${durationSec}s per case, trivial Node upstream on 127.0.0.1)\n`);
  console.log(['scenario'.padEnd(30), 'conns', '   req/s', ' p50 ms', ' p99 ms', ' errors', ' ratio', ' +p50 ms', 'cpu us/req'].join(' '));
  for (const r of rows) {
    console.log(
      [
        r.scenario.padEnd(30),
        String(r.connections).padStart(5),
        fmt(r.rps, 0).padStart(8),
        fmt(r.p50, 3).padStart(7),
        fmt(r.p99, 3).padStart(7),
        String(r.errors).padStart(7),
        fmt(r.ratio, 3).padStart(6),
        fmt(r.addedP50, 3).padStart(8),
        fmt(r.cpuPerReq, 1).padStart(10),
      ].join(' '),
    );
  }
  console.log('\nratio = req/s / req/s of the first scenario at the same connection count; +p50 = p50 minus its p50;');
  console.log('cpu us/req = CPU time of the serving process (the proxy; the upstream for direct) per request, from /proc.');
  for (const e of exits) console.log(`note: ${e}`);
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`load average during the run: ${load} (other work on the machine skews every row)`);
  return rows;
}

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runWatchdogBench({
    durationSec: arg('duration') ? Number(arg('duration')) : undefined,
    connections: arg('connections')?.split(',').map(Number),
    tool: arg('tool'),
    reference: !process.argv.includes('--no-reference'),
    ofWatchdog: arg('of-watchdog') ?? process.env.OF_WATCHDOG_BIN,
  });
}
