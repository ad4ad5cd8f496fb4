// `alastor trace back|forward NODE --db FILE [--json] [--depth N] [--since T] [--until T]`
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { parseTimeArg, usToIso } from '../../events';
import { openStore, type DB } from '../../collector/store/open';
import { updateGraph } from '../../collector/graph/index';
import { edgeLevel, traceBack, traceForward, type TraceOptions, type TraceResult } from '../../collector/graph/trace';
import type { GraphEdge } from '../../collector/graph/model';
import { LEVELS } from '../../events/attribution';

/** Opens a store for graph queries and brings the graph up to date first. */
export function openGraphStore(file: string): DB {
  if (!existsSync(file)) throw new Error(`--db: ${file} does not exist`);
  const db = openStore(file);
  // A trace touches scattered pages of a large graph; keep them cached for this connection.
  db.pragma('cache_size = -65536');
  updateGraph(db);
  return db;
}

interface TraceFlags { db: string; json?: boolean; depth?: string; since?: string; until?: string; followFlagged?: boolean }

export function traceOptions(o: TraceFlags): TraceOptions {
  const opts: TraceOptions = { followFlagged: o.followFlagged };
  if (o.depth !== undefined) {
    const d = Number(o.depth);
    if (!Number.isInteger(d) || d < 0) throw new Error(`--depth: "${o.depth}" is not a whole number of hops`);
    opts.depth = d;
  }
  if (o.since) opts.since = parseTimeArg(o.since);
  if (o.until) opts.until = parseTimeArg(o.until);
  return opts;
}

/** The readable form: the path to the root cause first, then every root, then counts. */
export function printTrace(r: TraceResult): string {
  const byId = new Map(r.nodes.map((n) => [n.id, n]));
  const name = (id: string) => {
    const n = byId.get(id);
    return n ? `${n.kind} ${n.label}${n.time ? `  (${usToIso(n.time)})` : ''}` : id;
  };
  const lines: string[] = [];
  lines.push(`${r.direction} trace from ${r.start.join(', ')}: ${r.nodes.length} nodes, ${r.edges.length} edges`);
  if (r.path) {
    lines.push('', `path to the root cause (${r.pathLevel ?? 'exact'}):`);
    // The surest of parallel edges (an act and its alternatives) is the one shown.
    const rel = new Map<string, GraphEdge>();
    for (const e of r.edges) {
      const k = `${e.from}|${e.to}`;
      const have = rel.get(k);
      if (!have || LEVELS.indexOf(edgeLevel(e)) < LEVELS.indexOf(edgeLevel(have))) rel.set(k, e);
    }
    r.path.forEach((id, i) => {
      const e = i > 0 ? rel.get(`${r.path![i - 1]}|${id}`) : undefined;
      const level = e ? edgeLevel(e) : 'exact';
      const how = e ? `  <-${e.relation}${e.trust ? ` (${e.trust})` : ''}${level !== 'exact' ? ` [${level}]` : ''}- ` : '  ';
      lines.push(`${'  '.repeat(Math.min(i, 12) + 1)}${i ? how.trimStart() : ''}${name(id)}`);
    });
    if (r.pathLevel && r.pathLevel !== 'exact') {
      lines.push('', `this answer rests on a ${r.pathLevel === 'guess' ? 'guess' : r.pathLevel === 'claimed' ? 'claim by the function' : 'claim the kernel corroborates'}; other candidates:`);
      if (!r.otherCandidates?.length) lines.push('  (none reached)');
      for (const id of r.otherCandidates ?? []) lines.push(`  ${name(id)}  [${r.rootLevels?.[id] ?? '?'}]`);
    }
  }
  if (r.roots) {
    lines.push('', `roots (${r.roots.length}):`);
    for (const id of r.roots) lines.push(`  ${name(id)}${r.rootLevels && r.rootLevels[id] !== 'exact' ? `  [${r.rootLevels[id]}]` : ''}`);
  }
  const flagged = r.nodes.filter((n) => n.attributes.flagged);
  if (flagged.length) {
    lines.push('', 'flagged:');
    for (const n of flagged) lines.push(`  ${name(n.id)}: ${String(n.attributes.flagged)}`);
  }
  // Audit could only place these acts by time among invocations in flight together (docs/audit.md).
  const guessed = new Set<string>();
  const guess = (what: string, attrs: Record<string, unknown> | undefined) => {
    if (Array.isArray(attrs?.alsoIn)) guessed.add(`  ${what}: could also be ${attrs.alsoIn.join(', ')}`);
    if (typeof attrs?.contradiction === 'string') contradicted.add(`  ${what}: ${attrs.contradiction}`);
  };
  const contradicted = new Set<string>();
  for (const n of r.nodes) guess(name(n.id), n.attributes);
  for (const e of r.edges) guess(`${name(e.from)} -${e.relation}-> ${name(e.to)}`, e.attributes);
  if (guessed.size) lines.push('', 'attributed by time, a guess among invocations in flight together (max_inflight=1 makes it exact):', ...guessed);
  if (contradicted.size) lines.push('', 'claims the watchdog or the kernel contradicts:', ...contradicted);
  if (r.direction === 'forward') {
    lines.push('', 'reached:');
    for (const n of [...r.nodes].sort((a, b) => (a.time ?? 0) - (b.time ?? 0))) lines.push(`  ${name(n.id)}`);
  }
  return lines.join('\n') + '\n';
}

function addWalk(parent: Command, name: string, desc: string, run: typeof traceBack): void {
  parent
    .command(`${name} <node>`)
    .description(desc)
    .requiredOption('--db <file>', 'SQLite store written by the collector')
    .option('--json', 'JSON for scripts: { nodes, edges, roots, paths, path }')
    .option('--depth <n>', 'at most n hops from the start')
    .option('--since <time>', 'only edges at or after (ISO time, epoch, or 15m/2h/3d ago)')
    .option('--until <time>', 'only edges at or before')
    .option('--follow-flagged', 'also follow caller links whose evidence contradicts itself')
    .action((node: string, o: TraceFlags) => {
      const db = openGraphStore(o.db);
      try {
        const r = run(db, node, traceOptions(o));
        process.stdout.write(o.json ? `${JSON.stringify(r, null, 2)}\n` : printTrace(r));
      } finally {
        db.close();
      }
    });
}

export function register(program: Command): void {
  const trace = program
    .command('trace')
    .description('walk the provenance graph from a node (id, invocation id, trace id, file path, or ip:port)');
  addWalk(trace, 'back', 'time-respecting backward walk to the root causes (external requests, remote endpoints)', traceBack);
  addWalk(trace, 'forward', 'time-respecting forward walk: everything the node influenced', traceForward);
}
