#!/usr/bin/env node
// `npm run bench`: the project's benchmarks in sequence, each a script of its own that prints its
// own ratios (every script compares its cases within one run, so machine noise hits all alike).
//
//   node scripts/bench.mjs [--all] [name ...]      names: watchdog provenance ingest audit graph detect workflow
//
// Default: watchdog, provenance, ingest, audit (the watchdog and collector figures). --all adds the
// graph, DeepLog and Hello Retail workflow benchmarks, which have their own npm scripts too.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const DEFAULT = ['watchdog', 'provenance', 'ingest', 'audit'];
const ALL = [...DEFAULT, 'graph', 'detect', 'workflow'];

const args = process.argv.slice(2);
const named = args.filter((a) => !a.startsWith('--'));
const unknown = named.filter((n) => !ALL.includes(n));
if (unknown.length) {
  console.error(`bench: unknown benchmark ${unknown.join(', ')} (known: ${ALL.join(' ')})`);
  process.exit(2);
}
const chosen = named.length ? named : args.includes('--all') ? ALL : DEFAULT;

let failed = 0;
for (const name of chosen) {
  console.log(`\n=== bench-${name} ===`);
  const r = spawnSync(process.execPath, [join(here, `bench-${name}.mjs`)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`bench-${name} exited with ${r.status ?? r.signal}`);
  }
}
process.exit(failed ? 1 : 0);
