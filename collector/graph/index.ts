// Entry point of the provenance graph as ingest, the CLI, the demo and `investigate` use it.
import { dialectOf, type DB } from '../store/db';
import type { AlastorEvent } from '../../events/schema';
import { Context } from './context';
import { applyEvent } from './stitch';

const CHUNK = 5000;

interface Cursor {
  /** The next events after the watermark, in the order the graph applies them. */
  next(limit: number): Array<{ seq: number; body: string; xid?: string }>;
  /** Moves the watermark past this row (in the same transaction as the graph's writes). */
  advance(last: { seq: number; xid?: string }): void;
}

/** SQLite has one writer at a time: events.seq grows in commit order, so it is the watermark. */
function sqliteCursor(db: DB): Cursor {
  const read = db.prepare<[number, number], { seq: number; body: string }>(`SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?`);
  const getMark = db.prepare<[], { v: number }>(`SELECT v FROM graph_state WHERE k = 'seq'`);
  const setMark = db.prepare(`INSERT INTO graph_state (k, v) VALUES ('seq', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v`);
  return {
    next: (limit) => read.all(getMark.get()?.v ?? 0, limit),
    advance: (last) => void setMark.run(last.seq),
  };
}

/** Advisory lock one graph builder holds per chunk on PostgreSQL (collectors and the CLI alike). */
export const GRAPH_LOCK = 7_311_003;

/**
 * PostgreSQL with several collectors: a transaction may commit events with lower seqs after
 * higher ones were read, so seq alone would skip them. Each event records its inserting
 * transaction (xid); only rows of transactions below the snapshot's xmin are read, all of which
 * have ended, so nothing can still appear below the watermark (xid, seq). The chunk runs under
 * GRAPH_LOCK, so two builders never apply an event twice.
 */
function pgCursor(db: DB): Cursor {
  const lock = db.prepare(`SELECT pg_advisory_xact_lock(${GRAPH_LOCK})`);
  const getMark = db.prepare<[], { k: string; v: number }>(`SELECT k, v FROM graph_state WHERE k IN ('xid', 'seq')`);
  const read = db.prepare<[string, number, number], { seq: number; body: string; xid: string }>(
    `SELECT seq, body, xid::text AS xid FROM events
      WHERE (xid, seq) > (?::text::xid8, ?) AND xid < pg_snapshot_xmin(pg_current_snapshot())
      ORDER BY xid, seq LIMIT ?`);
  const setMark = db.prepare(`INSERT INTO graph_state (k, v) VALUES ('xid', ?), ('seq', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v`);
  return {
    next(limit) {
      lock.get();
      const mark = new Map(getMark.all().map((r) => [r.k, r.v]));
      return read.all(String(mark.get('xid') ?? 0), mark.get('seq') ?? 0, limit);
    },
    advance: (last) => void setMark.run(Number(last.xid), last.seq),
  };
}

/**
 * Extends the derived graph with every event stored since the last call (past the watermark kept
 * in graph_state); cheap when nothing is new. Each chunk commits with its watermark, under a write
 * lock taken up front, so a collector and a CLI updating the same store at once never apply an
 * event twice.
 */
export function updateGraph(db: DB, opts: { chunk?: number; maxChunks?: number } = {}): { events: number } {
  // The collector's graph worker asks for small, bounded steps so it can hand the write lock back
  // to ingest between them (collector/ingest/graph-driver.ts).
  const chunk = opts.chunk ?? CHUNK;
  let chunks = opts.maxChunks ?? Infinity;
  const c = new Context(db);
  const cursor = dialectOf(db) === 'postgres' ? pgCursor(db) : sqliteCursor(db);
  let total = 0;
  const step = db.transaction((): number => {
    const rows = cursor.next(chunk);
    for (const r of rows) applyEvent(c, r.seq, JSON.parse(r.body) as AlastorEvent);
    if (rows.length) cursor.advance(rows[rows.length - 1]);
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
    if (dialectOf(db) === 'postgres') db.prepare(`SELECT pg_advisory_xact_lock(${GRAPH_LOCK})`).get();
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
