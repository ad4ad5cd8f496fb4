// `alastor detect train|scan`: DeepLog over each function's invocations (collector/detect).
import type { Command } from 'commander';
import { parseTimeArg } from '../../events';
import { openStore } from '../../collector/store/open';
import { DEFAULT_HYPER, DEFAULT_MIN_INVOCATIONS, scanStore, stderrProgress, trainStore, type Detection, type Hyper } from '../../collector/detect/index';

function int(name: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name}: expected an integer >= ${min}, got "${text}"`);
  return n;
}

function num(name: string, text: string | undefined, lo: number, hi: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n < lo || n >= hi) throw new Error(`${name}: expected a number in [${lo}, ${hi}), got "${text}"`);
  return n;
}

function time(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  try {
    return parseTimeArg(text);
  } catch (e) {
    throw new Error(`${name}: ${(e as Error).message}`);
  }
}

/** Human form of a scan: one block per anomalous invocation. */
export function formatDetections(ds: readonly Detection[]): string {
  const lines: string[] = [];
  for (const d of ds) {
    lines.push(`${d.function} ${d.invocation}: ${d.keys.length} unexpected key${d.keys.length === 1 ? '' : 's'}`);
    for (const k of d.keys) lines.push(`  #${k.position} ${k.key}   expected one of: ${k.expected.join(', ') || '(nothing likely)'}`);
  }
  return lines.join('\n');
}

export function register(program: Command): void {
  const detect = program.command('detect').description('DeepLog anomaly detection on invocations (train per function, then scan)');

  detect
    .command('train')
    .description('train one model per function on the invocations in the store, taken as normal')
    .requiredOption('--db <file|url>', 'SQLite store or postgres:// URL written by the collector')
    .option('--function <name>', 'only this function')
    .option('--model-dir <dir>', 'where model files go (default <db>.models beside the store)')
    .option('--until <time>', 'train only on invocations started before this (ISO time, epoch, or 15m/2h ago)')
    .option('--epochs <n>', `passes over the data (default ${DEFAULT_HYPER.epochs})`)
    .option('--seed <n>', `seed: same seed and data give a byte-identical model (default ${DEFAULT_HYPER.seed})`)
    .option('--window <h>', `keys of history (default ${DEFAULT_HYPER.window})`)
    .option('--top-g <g>', `candidates accepted at scan time (default ${DEFAULT_HYPER.topG})`)
    .option('--min-prob <p>', `candidate probability floor at scan time (default ${DEFAULT_HYPER.minProb})`)
    .option('--hidden <n>', `LSTM units per layer (default ${DEFAULT_HYPER.hidden})`)
    .option('--layers <n>', `LSTM layers (default ${DEFAULT_HYPER.layers})`)
    .option('--embed <n>', 'embedding width; 0 = one-hot input (default 0)')
    .option('--lr <rate>', `Adam learning rate (default ${DEFAULT_HYPER.lr})`)
    .option('--batch <n>', `windows per gradient step (default ${DEFAULT_HYPER.batch})`)
    .option('--min-invocations <n>', `fewest normal invocations a function needs (default ${DEFAULT_MIN_INVOCATIONS})`)
    .option('--json', 'print what was trained as JSON')
    .action((o: Record<string, string | undefined> & { db: string; json?: boolean }) => {
      const hyper: Partial<Hyper> = {};
      const set = <K extends keyof Hyper>(k: K, v: number | undefined) => {
        if (v !== undefined) hyper[k] = v as Hyper[K];
      };
      set('epochs', int('--epochs', o.epochs, 1));
      set('seed', int('--seed', o.seed, 0));
      set('window', int('--window', o.window, 1));
      set('topG', int('--top-g', o.topG, 1));
      set('minProb', num('--min-prob', o.minProb, 0, 1));
      set('hidden', int('--hidden', o.hidden, 1));
      set('layers', int('--layers', o.layers, 1));
      set('embed', int('--embed', o.embed, 0));
      set('lr', num('--lr', o.lr, 1e-9, 10));
      set('batch', int('--batch', o.batch, 1));
      const db = openStore(o.db);
      try {
        const r = trainStore(db, o.db, {
          function: o.function,
          modelDir: o.modelDir,
          hyper,
          until: time('--until', o.until),
          minInvocations: int('--min-invocations', o.minInvocations, 1),
          progress: stderrProgress(),
        });
        for (const s of r.skipped) process.stderr.write(`skipped: ${s.reason}\n`);
        if (o.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        else for (const t of r.trained) process.stdout.write(`${t.function}\t${t.invocations} invocations\t${t.vocab} keys\t${(t.ms / 1000).toFixed(1)} s\t${t.path}\n`);
      } finally {
        db.close();
      }
    });

  detect
    .command('scan')
    .description("check invocations against their function's model; list the anomalous ones")
    .requiredOption('--db <file|url>', 'SQLite store or postgres:// URL written by the collector')
    .option('--function <name>', 'only this function')
    .option('--since <time>', 'only invocations started at or after (ISO time, epoch, or 15m/2h/3d ago)')
    .option('--until <time>', 'only invocations started before')
    .option('--top-g <g>', "override the models' g for this scan")
    .option('--min-prob <p>', "override the models' probability floor for this scan")
    .option('--no-record', 'do not write the detections to the store')
    .option('--json', 'a JSON array of {invocation, function, keys: [{position, key, expected, event}]}')
    .action((o: { db: string; function?: string; since?: string; until?: string; topG?: string; minProb?: string; record: boolean; json?: boolean }) => {
      const db = openStore(o.db);
      try {
        const r = scanStore(db, {
          function: o.function,
          since: time('--since', o.since),
          until: time('--until', o.until),
          topG: int('--top-g', o.topG, 1),
          minProb: num('--min-prob', o.minProb, 0, 1),
          record: o.record,
        });
        for (const f of r.untrained) process.stderr.write(`no model for function "${f}": its invocations were not scanned (run alastor detect train)\n`);
        process.stderr.write(`scanned ${r.scanned} invocations in ${(r.ms / 1000).toFixed(2)} s: ${r.detections.length} anomalous\n`);
        if (o.json) process.stdout.write(JSON.stringify(r.detections, null, 2) + '\n');
        else if (r.detections.length) process.stdout.write(formatDetections(r.detections) + '\n');
      } finally {
        db.close();
      }
    });
}
