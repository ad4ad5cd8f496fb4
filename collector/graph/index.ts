// Entry point of the provenance graph as ingest, the CLI, the demo and `investigate` use it.
import type { DB } from '../store/open';
import type { AlastorEvent } from '../../events/schema';
import { Context } from './context';
import { applyEvent } from './stitch';

const CHUNK = 5000;

/**
 * Extends the derived graph with every event stored since the last call (events.seq above the
 * watermark kept in graph_state); cheap when nothing is new. Each chunk commits with its watermark,
 * under a write lock taken up front, so a collector and a CLI updating the same store at once never
 * apply an event twice.
 */
export function updateGraph(db: DB, opts: { chunk?: number; maxChunks?: number } = {}): { events: number } {
  // The collector's graph worker asks for small, bounded steps so it can hand the write lock back
  // to ingest between them (collector/ingest/graph-driver.ts).
  const chunk = opts.chunk ?? CHUNK;
  let chunks = opts.maxChunks ?? Infinity;
  const c = new Context(db);
  const read = db.prepare<[number, number], { seq: number; body: string }>(`SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?`);
  const getMark = db.prepare<[], { v: number }>(`SELECT v FROM graph_state WHERE k = 'seq'`);
  const setMark = db.prepare(`INSERT INTO graph_state (k, v) VALUES ('seq', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v`);
  let total = 0;
  const step = db.transaction((): number => {
    const mark = getMark.get()?.v ?? 0;
    const rows = read.all(mark, chunk);
    for (const r of rows) applyEvent(c, r.seq, JSON.parse(r.body) as AlastorEvent);
    if (rows.length) setMark.run(rows[rows.length - 1].seq);
    return rows.length;
  });
  for (;;) {
    const n = db.inTransaction ? step() : step.immediate();
    total += n;
    if (n < chunk || --chunks <= 0) return { events: total };
  }
}

/** Drops the derived graph and builds it again from the raw events. */
export function rebuildGraph(db: DB): { events: number } {
  db.transaction(() => {
    for (const t of ['graph_edges', 'graph_nodes', 'graph_state', 'graph_invocations', 'graph_calls', 'graph_files', 'graph_file_counters', 'graph_procs', 'graph_proxy_socks', 'graph_proxy_msgs']) {
      db.exec(`DELETE FROM ${t}`);
    }
  }).immediate();
  return updateGraph(db);
}

export type { Graph, GraphEdge, GraphNode, NodeKind, Relation, Evidence, Trust } from './model';

// The library API the demo, `alastor investigate` and the CLI share (no shelling out).
export { traceBack, traceForward, type TraceOptions, type TraceResult } from './trace';
export { select } from './select';
export { showInvocations, tracingView, subgraph } from './views';
export { reduce, parseRules, DEFAULT_RULES, type ReductionRules, type ReductionStats } from './reduce';
export { loadGraph } from './read';
export { walkGraph } from './walk';
export { nodeId } from './model';
