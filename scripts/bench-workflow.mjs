// The purchase workflow under the local stack: plain fwatchdog (no provenance) against fwatchdog
// with full provenance (application layer through the node template, audit layer where the
// machine allows it), measured in one run, as ratios.
//
//   npm run build && node scripts/bench-workflow.mjs [--requests 1000] [--concurrency 8] [--audit on|off|auto] [--json]
//
// Each purchase is 7 invocations: product-purchase, get-price and authorize-cc in parallel, publish,
// and three kv-store calls. For each configuration: a fresh stack, 50 warm-up purchases, then
// `requests` sequential purchases and `requests` more with `concurrency` in flight; mean and p99
// latency as the client sees it, and the overhead of provenance in percent.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
const WARMUP = 50;
const log = (l) => process.stderr.write(`${l}\n`);

function up(label, extra) {
  const state = mkdtempSync(join(tmpdir(), 'alastor-bench-wf-'));
  const logFile = join(tmpdir(), `alastor-bench-workflow-${label.replace(/\W+/g, '-')}.log`);
  const args = [join(root, 'dist', 'alastor.js'), 'up', join(root, 'examples', 'hello-retail', 'stack.yml'), '--port', '0', '--state-dir', state, ...extra];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
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

async function measure(label, extra) {
  log(`${label}: starting the stack (${extra.join(' ')})`);
  const stack = await up(label, extra);
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

const plain = await measure('plain fwatchdog', ['--no-provenance']);
const full = await measure('full provenance', ['--audit', AUDIT]);
const pct = (a, b) => ((b - a) / a) * 100;
const overhead = {
  sequential: { mean: pct(plain.sequential.mean, full.sequential.mean), p99: pct(plain.sequential.p99, full.sequential.p99) },
  concurrent: { mean: pct(plain.concurrent.mean, full.concurrent.mean), p99: pct(plain.concurrent.p99, full.concurrent.p99) },
};
const f = (x) => x.toFixed(2).padStart(8);
const row = (name, r) =>
  `${name.padEnd(18)} ${r.failed ? `(${r.failed} failed) ` : ''}seq mean ${f(r.sequential.mean)} ms  p99 ${f(r.sequential.p99)} ms  (${r.sequential.rps.toFixed(1)}/s)   ` +
  `conc mean ${f(r.concurrent.mean)} ms  p99 ${f(r.concurrent.p99)} ms  (${r.concurrent.rps.toFixed(1)}/s)`;
console.log(`Hello, Retail! purchase workflow (7 invocations per purchase), ${REQUESTS} sequential + ${REQUESTS} at ${CONCURRENCY} in flight`);
console.log(row('plain fwatchdog', plain));
console.log(row('full provenance', full));
console.log(`   (${full.audit})`);
console.log(
  `overhead           seq mean ${f(overhead.sequential.mean)} %   p99 ${f(overhead.sequential.p99)} %                 conc mean ${f(overhead.concurrent.mean)} %   p99 ${f(overhead.concurrent.p99)} %`,
);
console.log('reference: ALASTOR reported 13.74% overhead, ERINYES 7.05%; the target here is under 5%');
if (JSON_OUT) console.log(JSON.stringify({ requests: REQUESTS, concurrency: CONCURRENCY, plain, full, overhead }));
