// From a detection to its root cause: the anomalous invocation's most telling unexpected event is
// located in the provenance graph and walked backward (collector/graph traceBack). Detection says
// which invocation is odd; provenance says how it came to be.
import type { DB } from '../store/open';
import { nodeId, type GraphNode } from '../graph/model';
import { traceBack, type TraceResult } from '../graph/trace';
import type { Detection, DetectedKey } from './scan';

export interface Investigated {
  detection: Detection;
  /** The unexpected key the walk starts from. */
  key: DetectedKey | null;
  start: { id: string; kind: string; label: string };
  trace: TraceResult;
  /** Root cause: the end of trace.path (the earliest external request, else the earliest root). */
  root: GraphNode | null;
}

// What a key says about the outside world: the data leaving (a connection, a message) is what an
// investigator starts from; then code or files that came from outside; then anything else.
function interest(key: string): number {
  if (/^http\.out:|^sys:(connect|sendto|sendmsg):net:/.test(key)) return 0;
  if (/^app\.module:external|^sys:execve:(?!runtime)|^app\.spawn:/.test(key)) return 1;
  if (/^app\.file:|^sys:(open|openat|creat|rename)/.test(key)) return 2;
  return 3;
}

const NODE_PREFERENCE: Record<string, number> = { socket: 0, message: 1, file: 2, process: 3, invocation: 4 };

/** Graph node created or touched by one stored event: its entity first (socket, message, file). */
function nodeOfEvent(db: DB, eventId: string): number | undefined {
  const ev = db.prepare<[string], { seq: number }>(`SELECT seq FROM events WHERE id = ?`).get(eventId);
  if (!ev) return undefined;
  const rows = db
    .prepare<[number], { nid: number; kind: string }>(
      `SELECT DISTINCT n.nid, n.kind FROM graph_edges e JOIN graph_nodes n ON n.nid IN (e.src, e.dst)
       WHERE e.event_seq = ? AND e.relation NOT IN ('wasAssociatedWith', 'actedOnBehalfOf', 'wasInfluencedBy')`,
    )
    .all(ev.seq);
  const ranked = rows.filter((r) => r.kind in NODE_PREFERENCE).sort((a, b) => NODE_PREFERENCE[a.kind] - NODE_PREFERENCE[b.kind] || b.nid - a.nid);
  return ranked[0]?.nid;
}

export function investigateDetection(db: DB, d: Detection): Investigated {
  const byId = db.prepare<[string], { nid: number; id: string; kind: string; label: string }>(`SELECT nid, id, kind, label FROM graph_nodes WHERE id = ?`);
  const byNid = db.prepare<[number], { nid: number; id: string; kind: string; label: string }>(`SELECT nid, id, kind, label FROM graph_nodes WHERE nid = ?`);
  // Most telling first; among equals the latest, since an exfiltration comes after what enabled it.
  const keys = [...d.keys].filter((k) => k.event).sort((a, b) => interest(a.key) - interest(b.key) || b.position - a.position);
  let start: { nid: number; id: string; kind: string; label: string } | undefined;
  let key: DetectedKey | null = null;
  for (const k of keys) {
    const nid = nodeOfEvent(db, k.event!);
    if (nid !== undefined) {
      start = byNid.get(nid);
      key = k;
      break;
    }
  }
  if (!start) start = byId.get(nodeId.invocation(d.invocation));
  if (!start) throw new Error(`invocation ${d.invocation} is not in the provenance graph`);
  const until = key?.event ? db.prepare<[string], { ts: number }>(`SELECT ts FROM events WHERE id = ?`).get(key.event)?.ts : undefined;
  const trace = traceBack(db, [start.nid], until === undefined ? {} : { until });
  const last = trace.path?.[trace.path.length - 1];
  const root = last ? trace.nodes.find((n) => n.id === last) ?? null : null;
  return { detection: d, key, start: { id: start.id, kind: start.kind, label: start.label }, trace, root };
}
