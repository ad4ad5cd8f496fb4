// The purchase workflow under the local stack: plain fwatchdog (no provenance) against fwatchdog
// with full provenance (application layer through the node template, audit layer where the
// machine allows it), measured in one run, as ratios; with --layers, every layer added one at a
// time in the same run, so each layer's own cost shows:
//   plain            fwatchdog, no provenance
//   identity         + invocation ids, traceparent, events shipped (ALASTOR_EGRESS=off, ALASTOR_INSTRUMENTATION=off, audit off)
//   + egress proxy   + the proxy hop on every outgoing call (ALASTOR_INSTRUMENTATION=off, audit off)
//   + template       + the node template's OpenTelemetry spans and claims (audit off)
//   + audit          + audit rules and the tailers (= full provenance)
//
//   npm run build && node scripts/bench-workflow.mjs [--requests 1000] [--concurrency 8] [--audit on|off|auto] [--layers] [--json]
//
// Each purchase is 7 invocations: product-purchase, get-price and authorize-cc in parallel, publish,
// and three kv-store calls. For each configuration: a fresh stack, 50 warm-up purchases, then
// `requests` sequential purchases and `requests` more with `concurrency` in flight; mean and p99
// latency as the client sees it, and the overhead of provenance in percent.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const REQUESTS = Number(arg('requests', 1000));
const CONCURRENCY = Number(arg('concurrency', 8));
const AUDIT = arg('audit', 'auto');
const JSON_OUT = process.argv.includes('--json');
const LAYERS = process.argv.includes('--layers');
const WARMUP = 50;
const log = (l) => process.stderr.write(`${l}\n`);

function up(label, extra, env = {}) {
  const state = mkdtempSync(join(tmpdir(), 'alastor-bench-wf-'));
  const logFile = join(tmpdir(), `alastor-bench-workflow-${label.replace(/\W+/g, '-')}.log`);
  const args = [join(root, 'dist', 'alastor.js'), 'up', join(root, 'examples', 'hello-retail', 'stack.yml'), '--port', '0', '--state-dir', state, ...extra];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  proc.stdout.on('data', (b) => (out += b));
  proc.stderr.on('data', (b) => (out += b));
  const exited = new Promise((r) => proc.once('exit', r));
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      const m = /stack ready: \d+ functions behind (\S+?)[,.] /.exec(out);
      const audit = /audit layer on|audit layer off[^\n]*|audit off[^\n]*|provenance off/.exec(out);
      if (m) {
        clearInterval(t);
        resolve({
          gateway: m[1],
          audit: audit ? audit[0] : '?',
          logFile,
          stop: async () => {
            proc.kill('SIGTERM');
            await exited;
            writeFileSync(logFile, out);
            rmSync(state, { recursive: true, force: true });
          },
        });
      } else if (proc.exitCode !== null) {
        clearInterval(t);
        writeFileSync(logFile, out);
        reject(new Error(`alastor up failed (log ${logFile}):\n${out.split('\n').slice(-15).join('\n')}`));
      }
    }, 100);
  });
}

let n = 0;
async function purchase(gateway) {
  const body = JSON.stringify({ id: `p${String((n % 12) + 1).padStart(2, '0')}`, user: `u${String((n % 20) + 1).padStart(2, '0')}` });
  n++;
  const t0 = performance.now();
  const res = await fetch(`${gateway}/function/product-purchase`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await res.arrayBuffer();
  const ms = performance.now() - t0;
  if (res.status !== 200) {
    errors.push(res.status);
    if (errors.length === 1) log(`first failed purchase: HTTP ${res.status}`);
  }
  return ms;
}
const errors = [];

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const p = (q) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  return { n: s.length, mean, p50: p(0.5), p99: p(0.99) };
}

async function measure(label, extra, env = {}) {
  log(`${label}: starting the stack (${[...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...extra].join(' ')})`);
  const stack = await up(label, extra, env);
  errors.length = 0;
  try {
    log(`${label}: ${stack.audit}; warming up (${WARMUP})`);
    for (let i = 0; i < WARMUP; i++) await purchase(stack.gateway);
    log(`${label}: ${REQUESTS} sequential purchases`);
    const seq = [];
    const t0 = performance.now();
    for (let i = 0; i < REQUESTS; i++) seq.push(await purchase(stack.gateway));
    const seqSecs = (performance.now() - t0) / 1000;
    log(`${label}: ${REQUESTS} purchases, ${CONCURRENCY} in flight`);
    const conc = [];
    let left = REQUESTS;
    const t1 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (left-- > 0) conc.push(await purchase(stack.gateway));
      }),
    );
    const concSecs = (performance.now() - t1) / 1000;
    log(`${label}: stack log in ${stack.logFile}`);
    return {
      audit: stack.audit,
      failed: errors.length,
      sequential: { ...stats(seq), rps: REQUESTS / seqSecs },
      concurrent: { ...stats(conc), rps: REQUESTS / concSecs, concurrency: CONCURRENCY },
    };
  } finally {
    await stack.stop();
  }
}

const load0 = loadavg();
const runs = [['plain fwatchdog', ['--no-provenance'], {}]];
if (LAYERS) {
  runs.push(
    ['identity + events', ['--audit', 'off'], { ALASTOR_EGRESS: 'off', ALASTOR_INSTRUMENTATION: 'off' }],
    ['+ egress proxy', ['--audit', 'off'], { ALASTOR_INSTRUMENTATION: 'off' }],
    ['+ template (OTel)', ['--audit', 'off'], {}],
  );
}
runs.push([LAYERS ? '+ audit (full)' : 'full provenance', ['--audit', AUDIT], {}]);
const results = [];
for (const [label, extra, env] of runs) results.push({ label, env, ...(await measure(label, extra, env)) });
const load1 = loadavg();
const plain = results[0];
const full = results[results.length - 1];
const pct = (a, b) => ((b - a) / a) * 100;
const overheadOf = (r) => ({
  sequential: { mean: pct(plain.sequential.mean, r.sequential.mean), p99: pct(plain.sequential.p99, r.sequential.p99) },
  concurrent: { mean: pct(plain.concurrent.mean, r.concurrent.mean), p99: pct(plain.concurrent.p99, r.concurrent.p99) },
});
const overhead = overheadOf(full);
const f = (x) => x.toFixed(2).padStart(8);
const row = (name, r) =>
  `${name.padEnd(18)} ${r.failed ? `(${r.failed} failed) ` : ''}seq mean ${f(r.sequential.mean)} ms  p99 ${f(r.sequential.p99)} ms  (${r.sequential.rps.toFixed(1)}/s)   ` +
  `conc mean ${f(r.concurrent.mean)} ms  p99 ${f(r.concurrent.p99)} ms  (${r.concurrent.rps.toFixed(1)}/s)`;
console.log(`Hello, Retail! purchase workflow (7 invocations per purchase), ${REQUESTS} sequential + ${REQUESTS} at ${CONCURRENCY} in flight`);
console.log(`load average at start ${load0.map((x) => x.toFixed(2)).join(' ')}, at end ${load1.map((x) => x.toFixed(2)).join(' ')}`);
for (const r of results) console.log(row(r.label, r));
console.log(`   (${full.audit})`);
if (LAYERS) {
  console.log('each layer against plain, and what it adds to the one before (mean latency):');
  results.slice(1).forEach((r, i) => {
    const o = overheadOf(r);
    const prev = results[i];
    console.log(`  ${r.label.padEnd(18)} seq ${f(o.sequential.mean)} %  (+${(r.sequential.mean - prev.sequential.mean).toFixed(2)} ms)   conc ${f(o.concurrent.mean)} %  (+${(r.concurrent.mean - prev.concurrent.mean).toFixed(2)} ms)`);
  });
}
console.log(
  `overhead           seq mean ${f(overhead.sequential.mean)} %   p99 ${f(overhead.sequential.p99)} %                 conc mean ${f(overhead.concurrent.mean)} %   p99 ${f(overhead.concurrent.p99)} %`,
);
console.log('reference: ALASTOR reported 13.74% overhead, ERINYES 7.05%');
if (JSON_OUT) console.log(JSON.stringify({ requests: REQUESTS, concurrency: CONCURRENCY, load: { start: load0, end: load1 }, results, plain, full, overhead }));
