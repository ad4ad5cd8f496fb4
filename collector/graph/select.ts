// Readable selectors for a trace's starting nodes: a node id, an invocation id, a trace id, a file
// path, or an endpoint (ip:port, [v6]:port, unix:/path).
import type { DB } from '../store/open';
import { nodeId } from './model';

const TRACE_ID = /^[0-9a-f]{32}$/;
const ENDPOINT = /^(\[[0-9a-fA-F:.]+\]|[0-9]{1,3}(\.[0-9]{1,3}){3}|[A-Za-z0-9.-]+):\d{1,5}$|^unix:\//;

export interface Selection { nids: number[]; described: string }

export function select(db: DB, selector: string): Selection {
  const s = selector.trim();
  const byId = db.prepare<[string], { nid: number }>(`SELECT nid FROM graph_nodes WHERE id = ?`);
  const exact = byId.get(s);
  if (exact) return { nids: [exact.nid], described: `node ${s}` };
  const inv = byId.get(nodeId.invocation(s));
  if (inv) return { nids: [inv.nid], described: `invocation ${s}` };
  if (TRACE_ID.test(s)) {
    const rows = db.prepare<[string], { nid: number }>(
      `SELECT n.nid FROM graph_invocations i JOIN graph_nodes n ON n.id = 'inv:' || i.invocation WHERE i.trace_id = ? ORDER BY i.start_ts`).all(s);
    if (rows.length) return { nids: rows.map((r) => r.nid), described: `the ${rows.length} invocation(s) of trace ${s}` };
  }
  if (ENDPOINT.test(s)) {
    const remote = byId.get(nodeId.remote(s));
    if (remote) {
      // The connections and messages to that endpoint, not the endpoint itself (it is a root).
      const rows = db.prepare<[number], { nid: number }>(`SELECT DISTINCT src AS nid FROM graph_edges WHERE dst = ? AND relation = 'wasDerivedFrom' ORDER BY src`).all(remote.nid);
      return { nids: rows.map((r) => r.nid), described: `the ${rows.length} connection(s) to ${s}` };
    }
  }
  if (s.startsWith('/')) {
    const rows = db.prepare<[string], { nid: number }>(`SELECT nid FROM graph_nodes WHERE kind = 'file' AND json_extract(attrs, '$.path') = ? ORDER BY nid`).all(s);
    if (rows.length) return { nids: rows.map((r) => r.nid), described: `the ${rows.length} version(s) of ${s}` };
  }
  throw new Error(`no node matches "${selector}" (give a node id, an invocation id, a trace id, a file path, or ip:port)`);
}
