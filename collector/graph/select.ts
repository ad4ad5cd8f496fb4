// Readable selectors for a trace's starting nodes: a node id, an invocation id, a trace id, a file
// path, or an endpoint (ip:port, [v6]:port, unix:/path).
import type { DB } from '../store/open';
import { nodeId } from './model';

const TRACE_ID = /^[0-9a-f]{32}$/;
const ENDPOINT = /^(\[[0-9a-fA-F:.]+\]|[0-9]{1,3}(\.[0-9]{1,3}){3}|[A-Za-z0-9.-]+):\d{1,5}$|^unix:\//;

/** One node a selector matched, with what an investigator tells them apart by. */
export interface Match { id: string; kind: string; label: string; time?: number; invocation?: string; function?: string }

/**
 * How a selector that matched several nodes becomes the walk's start: every match, the latest, or
 * the one nearest a time (us). Given none, a trace id walks from all its invocations (one request's
 * tree) and an endpoint or file path from the latest match only: an attacker's server can have
 * served a payload and received the data, and a walk from both printed the download's path.
 */
export interface Narrowing { all?: boolean; last?: boolean; at?: number }

export interface Selection {
  nids: number[];
  described: string;
  /** When the selector matched more than one node: all of them, oldest first. */
  matches?: Match[];
  /** When it matched more than one: which of them the walk starts from. */
  chosen?: 'all' | 'latest' | 'nearest';
}

/**
 * The nodes a selector names. Without a narrowing every match is returned (graph views and
 * scripts that sort the matches themselves); with one, possibly empty, the rules above apply.
 */
export function select(db: DB, selector: string, narrowing?: Narrowing): Selection {
  if (!narrowing) {
    const { nids, described } = selectAll(db, selector);
    return { nids, described };
  }
  const picks = [narrowing.all, narrowing.last, narrowing.at !== undefined].filter(Boolean).length;
  if (picks > 1) throw new Error('give one of --all, --last and --at');
  const found = selectAll(db, selector);
  if (found.nids.length < 2) return found;
  const matches = describe(db, found.nids);
  const chosen: Selection['chosen'] = narrowing.all ? 'all' : narrowing.last ? 'latest' : narrowing.at !== undefined ? 'nearest' : found.several;
  const base = { described: found.described, matches, chosen };
  if (chosen === 'all') return { ...base, nids: found.nids };
  let pick = matches[matches.length - 1];
  if (chosen === 'nearest') {
    const at = narrowing.at!;
    const off = (m: Match) => (m.time === undefined ? Infinity : Math.abs(m.time - at));
    // On a tie the later one: the kernel's connect and the function's own record of one call lie
    // microseconds apart, and the later is usually the act itself.
    pick = matches.reduce((best, m) => (off(m) <= off(best) ? m : best));
  }
  return { ...base, nids: [nidOf(db, pick.id)] };
}

function nidOf(db: DB, id: string): number {
  return db.prepare<[string], { nid: number }>(`SELECT nid FROM graph_nodes WHERE id = ?`).get(id)!.nid;
}

function describe(db: DB, nids: number[]): Match[] {
  const rows = db
    .prepare<[], { id: string; kind: string; label: string; time: number | null; invocation: string | null; function: string | null }>(
      `SELECT n.id, n.kind, n.label, n.time, n.invocation, i.function FROM graph_nodes n
         LEFT JOIN graph_invocations i ON i.invocation = n.invocation
        WHERE n.nid IN (${nids.map(Number).join(',')})
        ORDER BY n.time IS NOT NULL, n.time, n.nid`)
    .all();
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    label: r.label,
    ...(r.time !== null ? { time: r.time } : {}),
    ...(r.invocation ? { invocation: r.invocation } : {}),
    ...(r.function ? { function: r.function } : {}),
  }));
}

function selectAll(db: DB, selector: string): { nids: number[]; described: string; several: 'all' | 'latest' } {
  const s = selector.trim();
  const byId = db.prepare<[string], { nid: number }>(`SELECT nid FROM graph_nodes WHERE id = ?`);
  const exact = byId.get(s);
  if (exact) return { nids: [exact.nid], described: `node ${s}`, several: 'all' };
  const inv = byId.get(nodeId.invocation(s));
  if (inv) return { nids: [inv.nid], described: `invocation ${s}`, several: 'all' };
  if (TRACE_ID.test(s)) {
    const rows = db.prepare<[string], { nid: number }>(
      `SELECT n.nid FROM graph_invocations i JOIN graph_nodes n ON n.id = 'inv:' || i.invocation WHERE i.trace_id = ? ORDER BY i.start_ts`).all(s);
    if (rows.length) return { nids: rows.map((r) => r.nid), described: `the ${rows.length} invocation(s) of trace ${s}`, several: 'all' };
  }
  if (ENDPOINT.test(s)) {
    const remote = byId.get(nodeId.remote(s));
    if (remote) {
      // The connections and messages to that endpoint, not the endpoint itself (it is a root).
      const rows = db.prepare<[number], { nid: number }>(`SELECT DISTINCT src AS nid FROM graph_edges WHERE dst = ? AND relation = 'wasDerivedFrom' ORDER BY src`).all(remote.nid);
      return { nids: rows.map((r) => r.nid), described: `the ${rows.length} connection(s) to ${s}`, several: 'latest' };
    }
  }
  if (s.startsWith('/')) {
    const rows = db.prepare<[string], { nid: number }>(`SELECT nid FROM graph_nodes WHERE kind = 'file' AND json_extract(attrs, '$.path') = ? ORDER BY nid`).all(s);
    if (rows.length) return { nids: rows.map((r) => r.nid), described: `the ${rows.length} version(s) of ${s}`, several: 'latest' };
  }
  throw new Error(`no node matches "${selector}" (give a node id, an invocation id, a trace id, a file path, or ip:port)`);
}
