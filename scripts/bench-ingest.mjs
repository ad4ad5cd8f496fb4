#!/usr/bin/env node
// Collector ingest throughput: events per second into SQLite through the real collector process
// (dist/alastor.js collector), batched as fwatchdog ships them. Batches are built and signed up
// front so the client spends its CPU on sending, not producing.
//
//   node scripts/bench-ingest.mjs [--events 600000] [--batch 250] [--concurrency 16] [--sources 16] [--rounds 3] [--graph off|worker|inline] [--ids v7|random] [--json]
//
// Defaults: 250 invocation events per batch is what fwatchdog ships under load (it seals at 96 KiB
// of event text, watchdog/ship/shipper.ts); 16 producers posting at once, as 16 watchdogs would.
//   BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the collector process;
//   BENCH_ALASTOR=/path/to/alastor.js runs another build (before/after comparisons in one session).
//
// --graph off (the default here) measures ingest alone; --graph worker measures it while the
// collector also extends the provenance graph, as it does in service.
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { listeningUrl } from './bench-watchdog.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const TOTAL = opt('events', 600_000);
const BATCH = opt('batch', 250);
const CONC = opt('concurrency', 16);
const SOURCES = opt('sources', 16);
const JSON_OUT = args.includes('--json');
const GRAPH = args.includes('--graph') ? args[args.indexOf('--graph') + 1] : 'off';
// Ids as the watchdog makes them (v7: uuidv7, time-ordered, so the id and invocation indexes grow
// at their right edge) or random (every insert lands on a random index page: ~3x the SQLite cost).
const IDS = args.includes('--ids') ? args[args.indexOf('--ids') + 1] : 'v7';
const TOKEN = 'bench-secret';
const GENESIS = '0'.repeat(64);

// Same MAC as events/chain.ts (HMAC-SHA256 over "alastor-batch-v1\nsource\nseq\nprev\n[events]").
const mac = (source, seq, prev, eventsText) =>
  createHmac('sha256', TOKEN).update(`alastor-batch-v1\n${source}\n${seq}\n${prev}\n${eventsText}`).digest('hex');

let idn = 0;
const hex = (n) => randomBytes(n).toString('hex');
let v7ms = Date.now();
let v7n = 0;
function uuidv7ish() {
  if (++v7n > 0xfff) {
    v7ms++;
    v7n = 0;
  }
  const h = v7ms.toString(16).padStart(12, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-7${v7n.toString(16).padStart(3, '0')}-8${hex(2).slice(1)}-${hex(6)}`;
}
function invocationEvents(instance, seq) {
  const inv = IDS === 'random' ? `0190${hex(2)}-${hex(2)}-7${hex(2).slice(1)}-8${hex(2).slice(1)}-${hex(6)}` : uuidv7ish();
  const ts = Date.now() * 1000 + (idn++ % 1000);
  const base = { v: 1, ts, instance, function: 'bench-fn', invocation: inv };
  return [
    { ...base, id: `${inv}.start`, kind: 'invocation.start', seq, method: 'POST', path: '/checkout', traceId: hex(16), spanId: hex(8), callId: hex(8), remoteAddress: '127.0.0.1', pid: 4242 },
    { ...base, id: `${inv}.end`, kind: 'invocation.end', seq, status: 200, reqBytes: 512, resBytes: 128, reqSha256: hex(32), resSha256: hex(32), durationMs: 3.2, pid: 4242 },
  ];
}

function buildBatches() {
  const perSource = Math.ceil(TOTAL / BATCH / SOURCES);
  const lists = [];
  for (let s = 0; s < SOURCES; s++) {
    const source = `bench-${hex(4)}`;
    let prev = GENESIS;
    let invSeq = 0;
    const list = [];
    for (let b = 1; b <= perSource; b++) {
      const texts = [];
      while (texts.length < BATCH) for (const e of invocationEvents(source, ++invSeq)) texts.push(JSON.stringify(e));
      const eventsText = `[${texts.join(',')}]`;
      const m = mac(source, b, prev, eventsText);
      // Encoded once here, so the client's CPU per request is small next to the collector's.
      list.push({ body: Buffer.from(`{"v":1,"source":"${source}","seq":${b},"prev":"${prev}","mac":"${m}","events":${eventsText}}`), n: texts.length });
      prev = m;
    }
    lists.push(list);
  }
  // Interleave sources; each source's batches stay in order.
  const out = [];
  for (let i = 0; i < lists[0].length; i++) for (const l of lists) if (l[i]) out.push(l[i]);
  return out;
}

async function startCollector(db) {
  const p = spawn(process.execPath, [...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : []), process.env.BENCH_ALASTOR ?? join(root, 'dist', 'alastor.js'), 'collector', '--db', db, '--port', '0', '--graph', GRAPH], {
    env: { ...process.env, ALASTOR_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await listeningUrl(p, 'collector');
  return { p, url };
}

const ROUNDS = opt('rounds', 3);
const batches = buildBatches();
const totalEvents = batches.reduce((a, b) => a + b.n, 0);
const bytes = batches.reduce((a, b) => a + b.body.length, 0);

/** One round: a fresh collector on a fresh store, every batch posted once. */
async function round() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ingest-'));
  const { p, url } = await startCollector(join(dir, 'store.db'));
  const agent = new Agent({ connections: CONC, pipelining: 1 });
  // The machine is shared: wall time depends on the load, the collector's CPU time per event much less.
  // utime+stime of the whole collector process (all its threads, the graph worker included), in ticks.
  const cpuSeconds = () => {
    const f = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  };
  // Per thread (main, store, checkpoint, graph, V8's helpers), to show which one limits the rate.
  const threadTicks = () => {
    const out = new Map();
    for (const tid of readdirSync(`/proc/${p.pid}/task`)) {
      try {
        const f = readFileSync(`/proc/${p.pid}/task/${tid}/stat`, 'utf8');
        const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
        out.set(tid, Number(fields[11]) + Number(fields[12]));
      } catch {
        // the thread ended
      }
    }
    return out;
  };
  try {
    let next = 0;
    let stored = 0;
    const cpu0 = cpuSeconds();
    const threads0 = threadTicks();
    const client0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: CONC }, async () => {
        while (next < batches.length) {
          const b = batches[next++];
          const res = await request(`${url}/v1/batches`, { method: 'POST', body: b.body, headers: { 'content-type': 'application/json' }, dispatcher: agent });
          const r = await res.body.json();
          if (res.statusCode !== 200) throw new Error(`collector answered ${res.statusCode}: ${JSON.stringify(r)}`);
          stored += r.stored;
        }
      }),
    );
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    // A graph worker may still be catching up: its CPU after the last answer is not ingest's.
    const cpu = cpuSeconds() - cpu0;
    const client = process.cpuUsage(client0);
    const threads1 = threadTicks();
    // Share of one core each collector thread used, busiest first (1.0 = a whole core).
    const busy = [...threads1].map(([tid, t]) => (t - (threads0.get(tid) ?? 0)) / 100 / secs).filter((x) => x >= 0.02).sort((a, b) => b - a);
    if (stored !== totalEvents) throw new Error(`stored ${stored} of ${totalEvents}`);
    return {
      seconds: Number(secs.toFixed(3)),
      eventsPerSecond: Math.round(stored / secs),
      mbPerSecond: Number((bytes / secs / 1e6).toFixed(1)),
      collectorCpuSeconds: Number(cpu.toFixed(2)),
      eventsPerCpuSecond: Math.round(stored / cpu),
      collectorThreadsBusy: busy.map((x) => Number(x.toFixed(2))),
      clientCpuSeconds: Number(((client.user + client.system) / 1e6).toFixed(2)),
      loadAverage: Number(loadavg()[0].toFixed(1)),
    };
  } finally {
    await agent.close();
    p.kill('SIGTERM');
    await new Promise((r) => p.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

const rounds = [];
for (let r = 0; r < ROUNDS; r++) {
  rounds.push(await round());
  if (!JSON_OUT) {
    const x = rounds.at(-1);
    console.log(`round ${r + 1}: ${x.eventsPerSecond} events/s, ${x.eventsPerCpuSecond} per collector CPU-second; threads busy (cores) ${x.collectorThreadsBusy.join(', ')}; client ${x.clientCpuSeconds} CPU s; load ${x.loadAverage}`);
  }
}
const med = rounds.map((x) => x.eventsPerSecond).sort((a, b) => a - b)[Math.floor(rounds.length / 2)];
const result = {
  bench: 'collector-ingest',
  events: totalEvents,
  batchSize: BATCH,
  concurrency: CONC,
  sources: SOURCES,
  graph: GRAPH,
  ids: IDS,
  eventsPerSecond: med,
  rounds,
  target: 100000,
};
if (JSON_OUT) console.log(JSON.stringify(result));
else {
  console.log(`collector ingest: median ${med} events/s over ${ROUNDS} rounds of ${totalEvents} events (batches of ${BATCH}, ${CONC} connections, ${SOURCES} sources, graph ${GRAPH}, ${IDS} ids)`);
  console.log(`target >= 100000 events/s: ${med >= 100000 ? 'met' : 'NOT met'}`);
}
