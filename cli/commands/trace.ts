// `alastor trace back|forward NODE --db FILE [--json] [--depth N] [--since T] [--until T]`
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { parseTimeArg, usToIso } from '../../events';
import { isPostgresUrl } from '../../collector/store/target';
import { openStore, type DB } from '../../collector/store/open';
import { updateGraph } from '../../collector/graph/index';
import { edgeLevel, traceBack, traceForward, type TraceOptions, type TraceResult } from '../../collector/graph/trace';
import { select, type Selection } from '../../collector/graph/select';
import { DEFAULT_RULES } from '../../collector/graph/reduce';
import type { GraphEdge, GraphNode } from '../../collector/graph/model';
import { LEVELS } from '../../events/attribution';

/** Opens a store for graph queries and brings the graph up to date first. */
export function openGraphStore(file: string): DB {
  if (!isPostgresUrl(file) && !existsSync(file)) throw new Error(`--db: ${file} does not exist`);
  const db = openStore(file);
  // A trace touches scattered pages of a large graph; keep them cached for this connection.
  db.pragma('cache_size = -65536');
  updateGraph(db);
  return db;
}

interface TraceFlags { db: string; json?: boolean; depth?: string; since?: string; until?: string; followFlagged?: boolean; all?: boolean; last?: boolean; at?: string }

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

/** Who did an act, for the files list: the invocation a process or socket belongs to. */
export type Owners = Map<string, { invocation: string; function?: string }>;

/** The invocation each of these nodes belongs to, from the store (a process's is not in its attributes). */
export function ownersOf(db: DB, ids: Iterable<string>): Owners {
  const q = db.prepare<[string], { invocation: string | null; function: string | null }>(
    `SELECT n.invocation, i.function FROM graph_nodes n LEFT JOIN graph_invocations i ON i.invocation = n.invocation WHERE n.id = ?`);
  const out: Owners = new Map();
  for (const id of ids) {
    const r = q.get(id);
    if (r?.invocation) out.set(id, { invocation: r.invocation, ...(r.function ? { function: r.function } : {}) });
  }
  return out;
}

/** The selector's matches, which one the walk starts from, and how to pick another. */
function matchLines(r: TraceResult, selector: string, sel: Selection): string[] {
  const matches = sel.matches ?? [];
  const starts = new Set(r.start);
  const from = sel.chosen === 'all'
    ? `the walk starts from all of them${r.path ? '; the path below from the one marked >' : ''}`
    : sel.chosen === 'latest'
      ? 'the walk starts from the latest, marked >'
      : 'the walk starts from the one nearest --at, marked >';
  const marked = sel.chosen === 'all' ? r.path?.[0] : r.start[0];
  const lines = ['', `${selector} matches ${matches.length} nodes; ${from}:`];
  for (const m of matches) {
    const owner = m.invocation ? `invocation ${m.invocation}${m.function ? ` (${m.function})` : ''}` : 'no invocation';
    lines.push(`  ${m.id === marked ? '>' : starts.has(m.id) ? '+' : ' '} ${m.kind} ${m.label}  ${m.time !== undefined ? usToIso(m.time) : '(no time)'}  ${owner}  ${m.id}`);
  }
  lines.push(sel.chosen === 'all'
    ? '  to walk from one: --last (the latest), --at TIME (the one nearest TIME), or its id'
    : '  to walk from another: --at TIME (the one nearest TIME) or its id; --all walks from every one');
  return lines;
}

// Runtime files (the reduction's default prune rules) are only ever read and would bury the few
// files that matter; a written one is always shown.
const runtimeFile = (p: string) => DEFAULT_RULES.prune.some((rule) => (rule.startsWith('*') ? p.includes(rule.slice(1)) : p.startsWith(rule)));

/**
 * The files on the path and those a node on the path read or wrote (the planted script, the
 * secret sent out), each with every read and write the walk reached: by whom, when, how sure.
 */
function fileLines(r: TraceResult, name: (id: string) => string, byId: Map<string, GraphNode>, owners?: Owners): string[] {
  const path = r.path ?? [];
  const onPath = new Set(path);
  const isFile = (id: string) => byId.get(id)?.kind === 'file';
  const near = new Set(path.filter(isFile));
  for (const e of r.edges) {
    if (isFile(e.to) && onPath.has(e.from)) near.add(e.to);
    if (isFile(e.from) && onPath.has(e.to)) near.add(e.from);
  }
  let hidden = 0;
  const acts = new Map<string, Array<{ text: string; time: number; level: string }>>();
  const by = (id: string) => {
    const o = owners?.get(id);
    const n = byId.get(id);
    const inv = !o ? '' : n?.kind === 'invocation' ? ` (${o.invocation})` : `, in invocation ${o.invocation}${o.function ? ` (${o.function})` : ''}`;
    return `${n ? `${n.kind} ${n.label}` : id}${inv}`;
  };
  for (const e of r.edges) {
    const [file, what] = e.relation === 'wasGeneratedBy' && near.has(e.from) ? [e.from, 'written'] : e.relation === 'used' && near.has(e.to) ? [e.to, 'read'] : [];
    if (!file) continue;
    const list = acts.get(file) ?? [];
    acts.set(file, list);
    const text = `${what} by ${by(what === 'written' ? e.to : e.from)}`;
    const level = edgeLevel(e);
    // Parallel edges (an act and its alternatives) name different actors; one act by one actor is one line.
    const same = list.find((a) => a.text === text);
    if (!same) list.push({ text, time: e.time, level });
    else if (LEVELS.indexOf(level) < LEVELS.indexOf(same.level as (typeof LEVELS)[number])) same.level = level;
  }
  const files = [...near].filter((id) => {
    const keep = onPath.has(id) || (acts.get(id) ?? []).some((a) => a.text.startsWith('written')) || !runtimeFile(String(byId.get(id)!.attributes.path ?? ''));
    if (!keep) hidden++;
    return keep;
  }).sort((a, b) => (byId.get(a)!.time ?? 0) - (byId.get(b)!.time ?? 0));
  if (!files.length && !hidden) return [];
  const lines = ['', `files read and written along the path (${files.length}; > on the path):`];
  for (const id of files) {
    const n = byId.get(id)!;
    lines.push(`  ${onPath.has(id) ? '>' : ' '} ${name(id).replace(/ {2}\(.*\)$/, '')}  ${id}`);
    for (const a of (acts.get(id) ?? []).sort((x, y) => x.time - y.time)) {
      lines.push(`      ${a.text} at ${usToIso(a.time)}${a.level !== 'exact' ? ` [${a.level}]` : ''}`);
    }
    if (!acts.get(id)?.length && n.attributes.preexisting) lines.push('      there before the walk began (no write recorded)');
  }
  if (hidden) lines.push(`  (${hidden} runtime file(s) read along the path left out; --json lists them)`);
  return lines;
}

/**
 * The data a node on the path took in from a call (the credit-card table a function fetched from
 * another, a payload from outside): the messages it used that are not on the path themselves, with
 * where each came from. A secret read that way is as much a part of the story as a file.
 */
function messageLines(r: TraceResult, byId: Map<string, GraphNode>, owners?: Owners): string[] {
  const onPath = new Set(r.path ?? []);
  const who = (id: string) => {
    const n = byId.get(id);
    const o = owners?.get(id);
    return `${n ? `${n.kind} ${n.label}` : id}${o && n?.kind === 'invocation' ? ` (${o.invocation})` : ''}`;
  };
  const got = new Map<string, Array<{ by: string; time: number }>>();
  for (const e of r.edges) {
    if (e.relation !== 'used' || !onPath.has(e.from) || onPath.has(e.to) || byId.get(e.to)?.kind !== 'message') continue;
    got.set(e.to, [...(got.get(e.to) ?? []), { by: e.from, time: e.time }]);
  }
  if (!got.size) return [];
  const lines = ['', `data received along the path (${got.size} message(s) its nodes used):`];
  const ids = [...got.keys()].sort((a, b) => (byId.get(a)!.time ?? 0) - (byId.get(b)!.time ?? 0));
  for (const id of ids) {
    lines.push(`    message ${byId.get(id)!.label}  ${id}`);
    // Where it came from: the invocation that answered it, or the endpoint outside.
    for (const e of r.edges) {
      if (e.from !== id) continue;
      const users = got.get(id)!.map((u) => u.by);
      if (e.relation === 'wasGeneratedBy' && !users.includes(e.to)) lines.push(`      from ${who(e.to)}`);
      else if (e.relation === 'wasDerivedFrom' && byId.get(e.to)?.kind === 'remote') lines.push(`      from ${who(e.to)}`);
    }
    for (const u of got.get(id)!.sort((a, b) => a.time - b.time)) lines.push(`      received by ${who(u.by)} at ${usToIso(u.time)}`);
  }
  return lines;
}

/**
 * The readable form: what the selector matched and where the walk starts, the path to the root
 * cause, the files read and written along it, every root, then anything flagged or guessed.
 */
export function printTrace(r: TraceResult, selection?: { selector: string; sel: Selection; owners?: Owners }): string {
  const byId = new Map(r.nodes.map((n) => [n.id, n]));
  const name = (id: string) => {
    const n = byId.get(id);
    return n ? `${n.kind} ${n.label}${n.time ? `  (${usToIso(n.time)})` : ''}` : id;
  };
  const lines: string[] = [];
  const sel = selection?.sel.matches ? selection.sel : undefined;
  const from = !sel || sel.chosen === 'all' ? (sel ? sel.described : r.start.join(', ')) : `${r.start[0]}, the ${sel.chosen === 'latest' ? 'latest' : 'nearest'} of ${sel.described}`;
  lines.push(`${r.direction} trace from ${from}: ${r.nodes.length} nodes, ${r.edges.length} edges`);
  if (sel) lines.push(...matchLines(r, selection!.selector, sel));
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
  if (r.direction === 'backward') lines.push(...fileLines(r, name, byId, selection?.owners), ...messageLines(r, byId, selection?.owners));
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
  const back = run === traceBack;
  parent
    .command(`${name} <node>`)
    .description(desc)
    .requiredOption('--db <file|url>', 'SQLite store or postgres:// URL written by the collector')
    .option('--json', 'JSON for scripts: { nodes, edges, roots, paths, path }')
    .option('--depth <n>', 'at most n hops from the start')
    .option('--since <time>', 'only edges at or after (ISO time, epoch, or 15m/2h/3d ago)')
    .option('--until <time>', 'only edges at or before')
    .option('--follow-flagged', 'also follow caller links whose evidence contradicts itself')
    .option('--last', 'when NODE matches several (ip:port, a file path): start from the latest')
    .option('--at <time>', 'when NODE matches several: start from the one nearest this time')
    .option('--all', `when NODE matches several: start from every one${back ? ' (the default walks from the latest)' : ' (the default)'}`)
    .action((node: string, o: TraceFlags) => {
      const opts = traceOptions(o);
      const at = o.at === undefined ? undefined : parseTimeArg(o.at);
      const db = openGraphStore(o.db);
      try {
        // Forward, every match is a cause of what follows, so all of them are the natural start.
        const sel = select(db, node, { all: o.all || (!back && !o.last && at === undefined), last: o.last, at });
        const r = run(db, sel.nids, opts);
        const out = sel.matches ? { ...r, matches: sel.matches, chosen: sel.chosen } : r;
        if (o.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        else {
          const acting = r.edges.flatMap((e) => (e.relation === 'used' ? [e.from] : e.relation === 'wasGeneratedBy' ? [e.to] : []));
          process.stdout.write(printTrace(r, { selector: node, sel, owners: back ? ownersOf(db, new Set(acting)) : undefined }));
        }
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
