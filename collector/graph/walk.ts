// The same time-respecting walk as trace.ts, over a graph held in memory (an export, a reduced
// graph, a view). Used to compare answers before and after reduction, and by callers that already
// hold a Graph.
import { STRUCTURAL, TIME_SLACK_US, type Graph, type GraphEdge } from './model';
import type { TraceOptions } from './trace';

export interface WalkAnswer { nodes: Set<string>; roots: Set<string>; edges: GraphEdge[] }

export function walkGraph(g: Graph, starts: string[], direction: 'backward' | 'forward', opts: TraceOptions = {}): WalkAnswer {
  const back = direction === 'backward';
  const since = opts.since ?? 0, until = opts.until ?? Number.MAX_SAFE_INTEGER;
  const slack = opts.slack ?? TIME_SLACK_US;
  const kind = new Map(g.nodes.map((n) => [n.id, n]));
  const adj = new Map<string, GraphEdge[]>();
  for (const e of g.edges) {
    if (STRUCTURAL.has(e.relation)) continue;
    const k = back ? e.from : e.to;
    let a = adj.get(k);
    if (!a) adj.set(k, (a = []));
    a.push(e);
  }
  const bound = new Map<string, number>();
  const depth = new Map<string, number>();
  const edges: GraphEdge[] = [];
  for (const s of starts) { bound.set(s, back ? until : since); depth.set(s, 0); }
  let queue = [...starts];
  const startSet = new Set(starts);
  while (queue.length) {
    const next: string[] = [];
    for (const n of queue) {
      const d = depth.get(n)!;
      if (d >= (opts.depth ?? Infinity)) continue;
      if (kind.get(n)?.kind === 'remote' && !startSet.has(n)) continue;
      const b = bound.get(n)!;
      for (const e of adj.get(n) ?? []) {
        if (e.time < since || e.time > until) continue;
        if (back ? e.time > b + slack : e.time < b - slack) continue;
        if (e.trust === 'flagged' && !opts.followFlagged) continue;
        edges.push(e);
        const m = back ? e.to : e.from;
        const have = bound.get(m);
        if (have === undefined) depth.set(m, d + 1);
        else if (back ? e.time <= have : e.time >= have) continue;
        bound.set(m, e.time);
        next.push(m);
      }
    }
    queue = [...new Set(next)];
  }
  const nodes = new Set(bound.keys());
  const roots = new Set<string>();
  if (back) for (const id of nodes) {
    const n = kind.get(id);
    if (n && (n.kind === 'remote' || (n.kind === 'request' && n.attributes.external === true))) roots.add(id);
  }
  return { nodes, roots, edges };
}
