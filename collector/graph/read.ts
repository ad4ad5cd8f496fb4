// Reads stored nodes and edges into the plain shapes queries and exporters share.
import type { DB } from '../store/open';
import type { Graph, GraphEdge, GraphNode } from './model';

interface NodeRow { nid: number; id: string; kind: string; label: string; time: number | null; attrs: string }
interface EdgeRow { eid: number; src: string; dst: string; relation: string; time: number; evidence: string; trust: string | null; attrs: string | null }

export function toNode(r: NodeRow): GraphNode {
  const n: GraphNode = { id: r.id, kind: r.kind as GraphNode['kind'], label: r.label, attributes: JSON.parse(r.attrs) };
  if (r.time != null) n.time = r.time;
  return n;
}

export function toEdge(r: EdgeRow): GraphEdge {
  const e: GraphEdge = { from: r.src, to: r.dst, relation: r.relation as GraphEdge['relation'], time: r.time, evidence: r.evidence as GraphEdge['evidence'] };
  if (r.trust) e.trust = r.trust as GraphEdge['trust'];
  if (r.attrs) e.attributes = JSON.parse(r.attrs);
  return e;
}

const EDGE_COLS = `e.eid, s.id AS src, d.id AS dst, e.relation, e.time, e.evidence, e.trust, e.attrs
  FROM graph_edges e JOIN graph_nodes s ON s.nid = e.src JOIN graph_nodes d ON d.nid = e.dst`;

/** The whole stored graph. */
export function loadGraph(db: DB): Graph {
  const nodes = db.prepare<[], NodeRow>(`SELECT nid, id, kind, label, time, attrs FROM graph_nodes ORDER BY nid`).all().map(toNode);
  const edges = db.prepare<[], EdgeRow>(`SELECT ${EDGE_COLS} ORDER BY e.eid`).all().map(toEdge);
  return { nodes, edges };
}

/** Nodes by key, in chunks to stay under SQLite's parameter limit; fills idOf (key -> id) when given. */
export function nodesByNid(db: DB, nids: Iterable<number>, idOf?: Map<number, string>): GraphNode[] {
  return chunked([...nids].sort((a, b) => a - b), (part) =>
    db.prepare<number[], NodeRow>(`SELECT nid, id, kind, label, time, attrs FROM graph_nodes WHERE nid IN (${part.map(() => '?').join(',')}) ORDER BY nid`).all(...part).map((r) => {
      idOf?.set(r.nid, r.id);
      return toNode(r);
    }));
}

export function edgesByEid(db: DB, eids: Iterable<number>): GraphEdge[] {
  return chunked([...eids].sort((a, b) => a - b), (part) =>
    db.prepare<number[], EdgeRow>(`SELECT ${EDGE_COLS} WHERE e.eid IN (${part.map(() => '?').join(',')}) ORDER BY e.eid`).all(...part).map(toEdge));
}

/** Edges by key when both ends are already known (idOf from nodesByNid): no joins. */
export function edgesByEidKnown(db: DB, eids: Iterable<number>, idOf: Map<number, string>): GraphEdge[] {
  type Raw = Omit<EdgeRow, 'src' | 'dst'> & { src: number; dst: number };
  return chunked([...eids].sort((a, b) => a - b), (part) =>
    db.prepare<number[], Raw>(`SELECT eid, src, dst, relation, time, evidence, trust, attrs FROM graph_edges WHERE eid IN (${part.map(() => '?').join(',')}) ORDER BY eid`).all(...part)
      .map((r) => toEdge({ ...r, src: idOf.get(r.src)!, dst: idOf.get(r.dst)! })));
}

/** Every edge touching one of the nodes, and the nodes at their other ends. */
export function neighbourhood(db: DB, nids: Iterable<number>): Graph {
  const set = new Set(nids);
  const eids = new Set<number>();
  const q = db.prepare<[number, number], { eid: number; src: number; dst: number }>(`SELECT eid, src, dst FROM graph_edges WHERE src = ? UNION ALL SELECT eid, src, dst FROM graph_edges WHERE dst = ?`);
  const all = new Set(set);
  for (const n of set) for (const r of q.all(n, n)) { eids.add(r.eid); all.add(r.src); all.add(r.dst); }
  return { nodes: nodesByNid(db, all), edges: edgesByEid(db, eids) };
}

function chunked<T, R>(items: T[], f: (part: T[]) => R[]): R[] {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += 500) out.push(...f(items.slice(i, i + 500)));
  return out;
}
