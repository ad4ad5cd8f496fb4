// Time-respecting walks. Backward from a node entered at time T, only edges at or before T are
// followed, and the node reached is entered at that edge's time; forward is the mirror image. A
// long-lived process therefore contributes only what it did before (or after) the moment that
// matters, which keeps traces small and true to causality.
import type { DB } from '../store/open';
import { nodesByNid, edgesByEidKnown } from './read';
import { select } from './select';
import { STRUCTURAL, TIME_SLACK_US, type Graph, type GraphEdge } from './model';
import { LEVELS, weaker, type Level } from '../../events/attribution';

export interface TraceOptions {
  /** Maximum number of hops from the start (default unlimited). */
  depth?: number;
  /** Only edges at or after this time (us). */
  since?: number;
  /** Only edges at or before this time (us); also the bound a backward trace starts with. */
  until?: number;
  /** Follow caller links whose evidence contradicts itself (default false). */
  followFlagged?: boolean;
  /** Clock tolerance in microseconds (default TIME_SLACK_US); --since/--until stay exact. */
  slack?: number;
}

export interface TraceResult extends Graph {
  direction: 'backward' | 'forward';
  start: string[];
  /** Backward only: the root causes reached (external requests and remote endpoints). */
  roots?: string[];
  /** Backward only: for each root, the chain of node ids from the start to it. */
  paths?: Record<string, string[]>;
  /** Backward only: the chain to the root cause (the root whose path is surest, see rootCause()). */
  path?: string[];
  /** Backward only: the weakest attribution on each root's path (events/attribution.ts). */
  rootLevels?: Record<string, Level>;
  /** Backward only: the weakest attribution on the chosen path; anything but exact means the answer rests on it. */
  pathLevel?: Level;
  /** Backward only: when pathLevel is not exact, the other external requests the walk reached, surest first. */
  otherCandidates?: string[];
}

/** How sure one edge's attribution is: a guess or an alternative, a bare claim, a corroborated claim, or exact. */
export function edgeLevel(e: GraphEdge): Level {
  const a = e.attributes ?? {};
  if (a.alternative || Array.isArray(a.alsoIn) || e.trust === 'guess' || a.level === 'guess') return 'guess';
  if (e.trust === 'claimed' || a.level === 'claimed') return 'claimed';
  if (a.level === 'corroborated') return 'corroborated';
  return 'exact';
}

const NO_LIMIT = Number.MAX_SAFE_INTEGER;
const STRUCT_SQL = [...STRUCTURAL].map((r) => `'${r}'`).join(',');


export function traceBack(db: DB, selector: string | number[], opts: TraceOptions = {}): TraceResult {
  return walk(db, selector, opts, 'backward');
}

export function traceForward(db: DB, selector: string | number[], opts: TraceOptions = {}): TraceResult {
  return walk(db, selector, opts, 'forward');
}

function walk(db: DB, selector: string | number[], opts: TraceOptions, direction: 'backward' | 'forward'): TraceResult {
  const starts = typeof selector === 'string' ? select(db, selector).nids : selector;
  const back = direction === 'backward';
  const since = opts.since ?? 0;
  const until = opts.until ?? NO_LIMIT;
  const maxDepth = opts.depth ?? Infinity;
  const slack = opts.slack ?? TIME_SLACK_US;
  const stmt = back
    ? db.prepare<[number, number, number]>(`SELECT eid, dst AS next, time, trust FROM graph_edges
        WHERE src = ? AND time <= ? AND time >= ? AND relation NOT IN (${STRUCT_SQL})`)
    : db.prepare<[number, number, number]>(`SELECT eid, src AS next, time, trust FROM graph_edges
        WHERE dst = ? AND time >= ? AND time <= ? AND relation NOT IN (${STRUCT_SQL})`);
  // Remote endpoints end a walk; there are few of them, so their keys are read once.
  const remotes = new Set(db.prepare<[], { nid: number }>(`SELECT nid FROM graph_nodes WHERE kind = 'remote'`).all().map((r) => r.nid));

  // bound per node: the latest (backward) or earliest (forward) time it was entered at. Nodes are
  // expanded best bound first (a heap), so nearly every node is expanded once, with its final bound.
  const bound = new Map<number, number>();
  const expanded = new Map<number, number>();
  const depth = new Map<number, number>();
  const via = new Map<number, number>(); // first discovery, for paths: node -> previous node
  const edges = new Set<number>();
  const heap = new Heap(back);
  for (const s of starts) {
    bound.set(s, back ? until : since);
    depth.set(s, 0);
    heap.push(s, back ? until : since);
  }
  const startSet = new Set(starts);
  stmt.raw(true);
  for (let top = heap.pop(); top !== undefined; top = heap.pop()) {
    const n = top;
    const b = bound.get(n)!;
    const done = expanded.get(n);
    if (done !== undefined && (back ? b <= done : b >= done)) continue;
    expanded.set(n, b);
    const d = depth.get(n)!;
    if (d >= maxDepth) continue;
    // Remote endpoints are outside the platform: the walk ends there (they are roots).
    if (remotes.has(n) && !startSet.has(n)) continue;
    const rows = (back ? stmt.all(n, Math.min(b + slack, until), since) : stmt.all(n, Math.max(b - slack, since), until)) as unknown as Array<[number, number, number, string | null]>;
    for (const [eid, m, time, trust] of rows) {
      if (trust === 'flagged' && !opts.followFlagged) continue;
      edges.add(eid);
      const have = bound.get(m);
      if (have === undefined) {
        via.set(m, n);
        depth.set(m, d + 1);
      } else if (back ? time <= have : time >= have) continue;
      bound.set(m, time);
      heap.push(m, time);
    }
  }
  const idOf = new Map<number, string>();
  const nodes = nodesByNid(db, bound.keys(), idOf);
  const result: TraceResult = { direction, start: [], nodes, edges: edgesByEidKnown(db, edges, idOf) };
  result.start = starts.map((s) => idOf.get(s)!);
  if (!back) return result;

  const byId = new Map(nodes.map((n) => [n.id, n]));
  const rootNids = [...bound.keys()].filter((nid) => {
    const n = byId.get(idOf.get(nid)!)!;
    return n.kind === 'remote' || (n.kind === 'request' && n.attributes.external === true);
  });
  result.roots = rootNids.map((r) => idOf.get(r)!);
  result.paths = {};
  result.rootLevels = {};
  // The edge the walk followed between two nodes; with parallel edges (an act and its
  // alternatives), the surest one.
  const step = new Map<string, Level>();
  for (const e of result.edges) {
    const k = `${e.from}|${e.to}`;
    const l = edgeLevel(e);
    const have = step.get(k);
    step.set(k, have === undefined ? l : LEVELS[Math.min(LEVELS.indexOf(have), LEVELS.indexOf(l))]);
  }
  for (const r of rootNids) {
    const chain: string[] = [];
    for (let x: number | undefined = r; x !== undefined; x = via.get(x)) chain.unshift(idOf.get(x)!);
    const id = idOf.get(r)!;
    result.paths[id] = chain;
    let level: Level = 'exact';
    for (let i = 1; i < chain.length; i++) level = weaker(level, step.get(`${chain[i - 1]}|${chain[i]}`) ?? 'exact');
    result.rootLevels[id] = level;
  }
  const best = rootCause(result.roots, result.rootLevels, byId);
  if (best) {
    result.path = result.paths[best];
    result.pathLevel = result.rootLevels[best];
    if (result.pathLevel !== 'exact') {
      result.otherCandidates = result.roots.filter((r) => r !== best && byId.get(r)!.kind === 'request');
      result.otherCandidates.sort((a, b) => LEVELS.indexOf(result.rootLevels![a]) - LEVELS.indexOf(result.rootLevels![b]));
    }
  }
  return result;
}

/**
 * The root cause is chosen by evidence: an external request over a remote endpoint (the endpoint
 * a walk starts from is always reached, and exactly), then one reached by evidence (exact,
 * corroborated or claimed) over one reached only by a guess, then the earliest. Claims are not
 * ranked below exact steps: the attacker's first request is typically linked through a claim (the
 * module it planted, loaded by a later request that is itself linked exactly), and the later
 * request is a cause but not the root. The level is reported with the answer either way.
 */
function rootCause(roots: string[], levels: Record<string, Level>, byId: Map<string, { kind: string; time?: number }>): string | undefined {
  const rank = (id: string) => {
    const n = byId.get(id)!;
    return [n.kind === 'request' ? 0 : 1, levels[id] === 'guess' ? 1 : 0, n.time ?? NO_LIMIT] as const;
  };
  return [...roots].sort((a, b) => {
    const ra = rank(a), rb = rank(b);
    return ra[0] - rb[0] || ra[1] - rb[1] || ra[2] - rb[2];
  })[0];
}

/** A binary heap of node keys by bound: the latest first (backward) or the earliest (forward). */
class Heap {
  private readonly keys: number[] = [];
  private readonly pri: number[] = [];
  constructor(private readonly maxFirst: boolean) {}
  private before(i: number, j: number): boolean {
    return this.maxFirst ? this.pri[i] > this.pri[j] : this.pri[i] < this.pri[j];
  }
  private swap(i: number, j: number): void {
    [this.keys[i], this.keys[j]] = [this.keys[j], this.keys[i]];
    [this.pri[i], this.pri[j]] = [this.pri[j], this.pri[i]];
  }
  push(key: number, p: number): void {
    this.keys.push(key);
    this.pri.push(p);
    for (let i = this.keys.length - 1; i > 0;) {
      const up = (i - 1) >> 1;
      if (!this.before(i, up)) break;
      this.swap(i, up);
      i = up;
    }
  }
  pop(): number | undefined {
    if (!this.keys.length) return undefined;
    const top = this.keys[0];
    const lastK = this.keys.pop()!, lastP = this.pri.pop()!;
    if (this.keys.length) {
      this.keys[0] = lastK;
      this.pri[0] = lastP;
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1;
        let best = i;
        if (l < this.keys.length && this.before(l, best)) best = l;
        if (r < this.keys.length && this.before(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }
}
