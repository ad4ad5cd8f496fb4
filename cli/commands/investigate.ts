// `alastor investigate --db FILE [--json]`: scan with the trained models, then for each anomalous
// invocation walk the provenance graph backward from its most telling unexpected event to the
// root cause, printed as the demo prints its path.
import type { Command } from 'commander';
import { parseTimeArg, usToIso } from '../../events';
import { investigateDetection, type Investigated } from '../../collector/detect/investigate';
import { scanStore } from '../../collector/detect/scan';
import { openGraphStore } from './trace';

function short(id: string): string {
  return id.length > 13 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id;
}

export function formatInvestigation(x: Investigated, n: number): string {
  const d = x.detection;
  const byId = new Map(x.trace.nodes.map((node) => [node.id, node]));
  const lines: string[] = [];
  lines.push(`anomaly ${n}: ${d.function} invocation ${d.invocation}`);
  for (const k of d.keys) lines.push(`   unexpected #${k.position} ${k.key}   (expected one of: ${k.expected.join(', ') || 'nothing likely'})`);
  lines.push(`   backward from ${x.start.kind} ${x.start.label}${x.key ? ` (key ${x.key.key})` : ''}: ${x.trace.nodes.length} nodes, ${x.trace.edges.length} edges`);
  if (x.trace.path && x.trace.path.length) {
    lines.push('   path to the root cause:');
    x.trace.path.forEach((id, i) => {
      const node = byId.get(id);
      const a = (node?.attributes ?? {}) as Record<string, unknown>;
      const inv = typeof a.invocation === 'string' ? a.invocation : /^(inv|req):/.test(id) ? id.slice(4) : undefined;
      const fn = typeof a.function === 'string' ? a.function : undefined;
      const tag = inv ? `   [invocation ${short(inv)}${fn ? `, ${fn}` : ''}]` : '';
      lines.push(`     ${String(i + 1).padStart(2)}. ${(node?.kind ?? '?').padEnd(10)} ${node?.label ?? id}${tag}`);
    });
    if (x.root) lines.push(`   root cause: ${x.root.kind} ${x.root.label}${x.root.time ? ` at ${usToIso(x.root.time)}` : ''}`);
  } else {
    lines.push('   no root cause reached (the graph holds nothing earlier that explains it)');
  }
  return lines.join('\n');
}

export function register(program: Command): void {
  program
    .command('investigate')
    .description('for each anomalous invocation (detect scan), the backward provenance trace to its root cause')
    .requiredOption('--db <file|url>', 'SQLite store or postgres:// URL written by the collector, with models from `alastor detect train`')
    .option('--function <name>', 'only this function')
    .option('--since <time>', 'only invocations started at or after (ISO time, epoch, or 15m/2h/3d ago)')
    .option('--json', 'a JSON array of {invocation, function, keys, start, path, root, nodes, edges}')
    .action((o: { db: string; function?: string; since?: string; json?: boolean }) => {
      const db = openGraphStore(o.db);
      try {
        const scan = scanStore(db, { function: o.function, since: o.since ? parseTimeArg(o.since) : undefined, record: false });
        for (const f of scan.untrained) process.stderr.write(`no model for function "${f}": its invocations were not scanned (run alastor detect train)\n`);
        const found = scan.detections.map((d) => investigateDetection(db, d));
        if (o.json) {
          const out = found.map((x) => ({
            invocation: x.detection.invocation,
            function: x.detection.function,
            keys: x.detection.keys,
            start: x.start,
            path: x.trace.path ?? [],
            root: x.root,
            nodes: x.trace.nodes.length,
            edges: x.trace.edges.length,
          }));
          process.stdout.write(JSON.stringify(out, null, 2) + '\n');
          return;
        }
        process.stdout.write(`${scan.scanned} invocations scanned, ${found.length} anomalous\n`);
        found.forEach((x, i) => process.stdout.write(`\n${formatInvestigation(x, i + 1)}\n`));
      } finally {
        db.close();
      }
    });
}
