// Views over the stored graph: one invocation or one workflow with what it touched, and the
// tracing view (only requests and spans: what a distributed tracer such as X-Ray would show).
import type { DB } from '../store/open';
import { neighbourhood, nodesByNid } from './read';
import { select } from './select';
import type { Graph, GraphEdge, GraphNode } from './model';

/** An invocation (or every invocation of a trace id) with its processes, files, sockets and links. */
export function showInvocations(db: DB, selector: string): Graph {
  const { nids } = select(db, selector);
  const rows = nodesByNid(db, nids);
  const invs = rows.filter((n) => n.kind === 'invocation').map((n) => String(n.attributes.invocation ?? n.id.slice(4)));
  if (!invs.length) throw new Error(`"${selector}" is not an invocation or a trace id`);
  const own = new Set(nids);
  const q = db.prepare<[string], { nid: number }>(`SELECT nid FROM graph_nodes WHERE invocation = ?`);
  for (const inv of invs) for (const r of q.all(inv)) own.add(r.nid);
  return neighbourhood(db, own);
}

/**
 * Only invocations (server spans), outgoing HTTP messages (client spans) and their workflows, linked
 * the way a tracer links them: by the span ids in the headers, taken at face value.
 */
export function tracingView(g: Graph): Graph {
  const keep = new Set(['workflow', 'invocation', 'message']);
  const nodes = g.nodes.filter((n) => keep.has(n.kind));
  const ids = new Set(nodes.map((n) => n.id));
  const edges: GraphEdge[] = [];
  const msgBySpan = new Map<string, GraphNode>();
  for (const n of nodes) if (n.kind === 'message' && typeof n.attributes.spanId === 'string') msgBySpan.set(n.attributes.spanId, n);
  const seen = new Set<string>();
  for (const e of g.edges) {
    if (!ids.has(e.from) || !ids.has(e.to)) continue;
    // message -> invocation that sent it; invocation -> its workflow
    if ((e.relation === 'wasGeneratedBy' && e.from.startsWith('msg:') && e.attributes?.role !== 'response') || (e.relation === 'wasInfluencedBy' && e.to.startsWith('wf:'))) {
      const k = `${e.from}|${e.to}|${e.relation}`;
      if (seen.has(k)) continue;
      seen.add(k);
      edges.push({ ...e, trust: undefined });
    }
  }
  for (const n of nodes) {
    if (n.kind !== 'invocation') continue;
    const parent = n.attributes.parentSpanId;
    const msg = typeof parent === 'string' ? msgBySpan.get(parent) : undefined;
    if (msg) edges.push({ from: n.id, to: msg.id, relation: 'wasStartedBy', time: Number(n.attributes.startedAt ?? n.time ?? 0), evidence: 'watchdog', attributes: { via: 'traceparent' } });
  }
  return { nodes, edges };
}

/** Restricts a graph to the given node ids (and the edges between them). */
export function subgraph(g: Graph, ids: Set<string>): Graph {
  return { nodes: g.nodes.filter((n) => ids.has(n.id)), edges: g.edges.filter((e) => ids.has(e.from) && ids.has(e.to)) };
}
