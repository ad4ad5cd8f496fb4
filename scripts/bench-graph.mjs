#!/usr/bin/env node
// Graph benchmark. Generates a Hello Retail-shaped workload as raw events (workflows of
// product-purchase -> get-price, authorize-cc, publish on warm instances; runtime reads, repeated
// module loads, a /tmp cache written at cold start and now and then rewritten, connections to a
// store; one planted script run by a later invocation), stores them, stitches the graph through
// updateGraph (the collector's own path) until it holds at least --edges edges, then measures:
//   - stitching throughput (events/s),
//   - the backward trace from the exfiltration connection (the investigator's query), median of runs,
//   - a deep backward trace (from the newest cache version of a busy instance),
//   - nodes and edges per invocation before and after reduction.
// The last line is exactly `backward-trace-ms: N` (the investigator's query, median).
//
//   node scripts/bench-graph.mjs [--edges 1000000] [--runs 21] [--keep DIR]
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const targetEdges = Number(arg('--edges', 1_000_000));
const runs = Number(arg('--runs', 21));
const keep = arg('--keep', undefined);

const dir = keep ?? mkdtempSync(join(tmpdir(), 'bench-graph-'));
// Inside the repo so the bundle resolves better-sqlite3 (a native addon, kept external) from node_modules.
mkdirSync(join(root, 'node_modules', '.cache'), { recursive: true });
const lib = join(root, 'node_modules', '.cache', `bench-graph-${process.pid}.cjs`);
await build({
  stdin: {
    contents: `export { updateGraph } from './collector/graph/index';
      export { traceBack } from './collector/graph/trace';
      export { loadGraph } from './collector/graph/read';
      export { reduce } from './collector/graph/reduce';
      export { openStore } from './collector/store/open';
      export { appender } from './collector/store/append';`,
    resolveDir: root, loader: 'ts',
  },
  bundle: true, platform: 'node', format: 'cjs', outfile: lib, external: ['better-sqlite3'], logLevel: 'warning', absWorkingDir: root,
});
const require = createRequire(join(root, 'package.json'));
const { updateGraph, traceBack, loadGraph, reduce, openStore, appender } = require(lib);

const db = openStore(join(dir, 'store.db'));
db.pragma('cache_size = -65536'); // as the CLI's trace and graph commands set it
const app = appender(db);
const hex = (n) => randomBytes(n).toString('hex');
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
let now = 1_700_000_000_000_000;
let idn = 0;
const rows = [];
function emit(ev) {
  now += 50;
  const full = { v: 1, id: `ev-${++idn}`, ts: now, ...ev };
  rows.push([full.id, full.kind, full.ts, full.instance, full.function, full.invocation ?? null, 'bench', null, JSON.stringify(full)]);
}
const insert = db.prepare(`INSERT INTO events (id, kind, ts, instance, function, invocation, source, batch_seq, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
const flush = db.transaction(() => { for (const r of rows) insert.run(...r); rows.length = 0; });

const FNS = ['product-purchase', 'get-price', 'authorize-cc', 'publish'];
const INSTANCES = 4;
const inst = Object.fromEntries(FNS.map((f) => [f, Array.from({ length: INSTANCES }, (_, i) => ({ id: `${f}-${i}`, seq: 0, pid: 300 + i }))]));
for (const f of FNS) for (const i of inst[f]) emit({ kind: 'instance.start', instance: i.id, function: f, pid: 100, hostname: i.id, mode: 'http' });

let invId = 0;
const turn = Object.fromEntries(FNS.map((f) => [f, 0]));
let planted = null;
let plantedOn = null;
let exfilSock = null;
function invocation(fn, parent, body) {
  const i = inst[fn][turn[fn]++ % INSTANCES];
  i.seq++;
  const inv = { id: `inv-${++invId}`, fn, instance: i.id, traceId: parent?.traceId ?? hex(16), spanId: hex(8) };
  const base = { instance: i.id, function: fn, invocation: inv.id };
  emit({ kind: 'invocation.start', ...base, seq: i.seq, method: 'POST', path: '/', traceId: inv.traceId, spanId: inv.spanId, parentSpanId: parent?.spanId });
  const sys = (fields) => emit({ kind: 'syscall', ...base, serial: idn, success: true, exit: 3, pid: i.pid, ppid: 1, comm: 'node', exe: '/usr/bin/node', paths: [], ...fields });
  if (i.seq === 1 || i.seq % 50 === 0) sys({ syscall: 'openat', paths: [{ name: '/tmp/cache.json', nametype: i.seq === 1 ? 'CREATE' : 'NORMAL', inode: 1000 }], write: true });
  else sys({ syscall: 'openat', paths: [{ name: '/tmp/cache.json', nametype: 'NORMAL', inode: 1000 }] });
  for (const lib of ['/usr/lib/x86_64-linux-gnu/libc.so.6', '/etc/ld.so.cache']) sys({ syscall: 'openat', write: false, paths: [{ name: lib, nametype: 'NORMAL', inode: 7 }] });
  // The same data file read three times (merged by reduction), and module loads (pruned).
  for (let k = 0; k < 3; k++) sys({ syscall: 'openat', write: false, paths: [{ name: '/var/lib/hello-retail/prices.json', nametype: 'NORMAL', inode: 31 }] });
  for (let k = 0; k < 3; k++) emit({ kind: 'app.module', ...base, path: `/home/app/node_modules/lib${k % 2}/index.js`, external: false });
  sys({ syscall: 'connect', exit: 0, sockaddr: { family: 'inet', address: '127.0.0.1', port: 9000 } });
  body?.(inv, base, sys);
  emit({ kind: 'invocation.end', ...base, seq: i.seq, status: 200, reqBytes: 10, resBytes: 10, reqSha256: EMPTY, resSha256: EMPTY, durationMs: 2 });
  return inv;
}
function call(from, callee) {
  const spanId = hex(8);
  emit({ kind: 'http.out', instance: from.instance, function: from.fn, invocation: from.id, method: 'POST', url: `http://gw/function/${callee}`, host: 'gw', port: 8080, callee, status: 200, traceId: from.traceId, spanId, evidence: 'confirmed', source: 'proxy' });
  return { traceId: from.traceId, spanId };
}
function workflow(n) {
  invocation('product-purchase', undefined, (pp) => {
    for (const callee of ['get-price', 'authorize-cc', 'publish']) {
      const span = call(pp, callee);
      invocation(callee, span, callee !== 'authorize-cc' ? undefined : (ac, base, sys) => {
        // The attack, in the middle of the run on instance authorize-cc-0, then the exfiltration near the end.
        if (n === 300) {
          sys({ syscall: 'openat', paths: [{ name: '/tmp/evil.js', nametype: 'CREATE', inode: 4711 }] });
          planted = ac.id;
          plantedOn = ac.instance;
        }
        if (planted && !exfilSock && n >= target.workflows - 200 && ac.instance === plantedOn) {
          sys({ syscall: 'clone', exit: 4242 });
          emit({ kind: 'syscall', ...base, serial: idn, syscall: 'execve', success: true, exit: 0, pid: 4242, ppid: 300, comm: 'node', exe: '/usr/bin/node', argv: ['node', '/tmp/evil.js'], paths: [{ name: '/usr/bin/node', nametype: 'NORMAL', inode: 12 }] });
          emit({ kind: 'syscall', instance: ac.instance, function: 'authorize-cc', serial: idn, syscall: 'connect', success: true, exit: 0, pid: 4242, ppid: 1, comm: 'node', exe: '/usr/bin/node', paths: [], sockaddr: { family: 'inet', address: '203.0.113.9', port: 443 }, outsideInvocation: true });
          exfilSock = `sock:ev-${idn}`;
        }
      });
    }
  });
}

// Size the run: measure edges per workflow on a first slice, then generate the rest.
const target = { workflows: 2000 };
let done = 0;
let stitchMs = 0, stitched = 0;
let stitchCpu = 0;
const stitch = () => {
  flush();
  const t = performance.now();
  const c = process.cpuUsage();
  stitched += updateGraph(db).events;
  const d = process.cpuUsage(c);
  stitchCpu += (d.user + d.system) / 1000;
  stitchMs += performance.now() - t;
};
const edgeCount = () => db.prepare('SELECT count(*) AS n FROM graph_edges').get().n;
for (; done < 500; done++) workflow(done);
stitch();
const perWorkflow = edgeCount() / done;
target.workflows = Math.ceil((targetEdges * 1.01) / perWorkflow);
while (done < target.workflows) {
  const until = Math.min(target.workflows, done + 2000);
  for (; done < until; done++) workflow(done);
  stitch();
}
const nEdges = edgeCount();
const nNodes = db.prepare('SELECT count(*) AS n FROM graph_nodes').get().n;
const invocations = db.prepare(`SELECT count(*) AS n FROM graph_nodes WHERE kind = 'invocation'`).get().n;
console.log(`graph: ${nNodes} nodes, ${nEdges} edges, ${invocations} invocations in ${target.workflows} workflows, from ${stitched} events`);
console.log(`stitching: ${Math.round(stitched / (stitchMs / 1000))} events/s wall (${(stitchMs / 1000).toFixed(1)} s), ${Math.round(stitched / (stitchCpu / 1000))} events/s of CPU time; load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores`);

function timeTrace(sel) {
  traceBack(db, sel); // warm the page cache and statements
  const ms = [];
  const cpu = [];
  let r;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const c = process.cpuUsage();
    r = traceBack(db, sel);
    const d = process.cpuUsage(c);
    ms.push(performance.now() - t);
    cpu.push((d.user + d.system) / 1000);
  }
  ms.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  return { median: ms[Math.floor(ms.length / 2)], max: ms[ms.length - 1], cpu: cpu[Math.floor(cpu.length / 2)], r };
}
const attack = timeTrace(exfilSock);
const reachedPlanter = attack.r.nodes.some((n) => n.id === `inv:${planted}`);
console.log(`backward trace from the exfiltration connection: ${attack.r.nodes.length} nodes, ${attack.r.edges.length} edges, ${attack.r.roots.length} roots, reaches the planting invocation: ${reachedPlanter}; median ${attack.median.toFixed(1)} ms wall (${attack.cpu.toFixed(1)} ms CPU), max ${attack.max.toFixed(1)} ms over ${runs} runs; load average ${loadavg()[0].toFixed(1)}`);
const newest = db.prepare(`SELECT id FROM graph_nodes WHERE kind = 'file' AND instance = 'authorize-cc-1' AND json_extract(attrs, '$.path') = '/tmp/cache.json' ORDER BY nid DESC LIMIT 1`).get().id;
const deep = timeTrace(newest);
console.log(`deep backward trace from the newest /tmp/cache.json of a busy instance: ${deep.r.nodes.length} nodes, ${deep.r.edges.length} edges; median ${deep.median.toFixed(1)} ms wall (${deep.cpu.toFixed(1)} ms CPU), max ${deep.max.toFixed(1)} ms`);

const t0 = performance.now();
const g = loadGraph(db);
const { stats } = reduce(g);
const per = (x) => (x / invocations).toFixed(1);
console.log(`reduction (default rules, ${((performance.now() - t0) / 1000).toFixed(1)} s incl. loading): nodes/invocation ${per(stats.nodesBefore)} -> ${per(stats.nodesAfter)}, edges/invocation ${per(stats.edgesBefore)} -> ${per(stats.edgesAfter)} (edges x${(stats.edgesAfter / stats.edgesBefore).toFixed(3)}; ${stats.merged} merged, ${stats.pruned} runtime reads pruned)`);
db.close();
if (!keep) rmSync(dir, { recursive: true, force: true });
rmSync(lib, { force: true });
if (!reachedPlanter) {
  console.error('the backward trace did not reach the planting invocation: the benchmark graph is wrong');
  process.exit(1);
}
console.log(`backward-trace-ms: ${attack.median.toFixed(1)}`);
