// The investigator's half of the demo: from the exfiltration connection, walk the provenance graph
// backward (collector/graph traceBack), and put the answer into words and into the JSON the
// `--json` mode prints. Also the trace-only view: what a distributed tracer alone would show.
import type { DB } from '../../collector/store/open';
import { loadGraph, select, traceBack, tracingView, type GraphNode, type TraceResult } from '../../collector/graph/index';

export interface Step {
  kind: string;
  label: string;
  invocation?: string;
  function?: string;
  instance?: string;
  time?: number;
  id: string;
}

export interface InvocationInfo {
  invocation: string;
  function: string;
  instance: string;
  seq: number;
  traceId: string;
  callId?: string;
  startUs: number;
  method: string;
  path: string;
}

export interface Investigation {
  poi: Step;
  trace: TraceResult;
  path: Step[];
  rootCause: { invocation: string; function: string; time: number; callId?: string; label: string };
  /** The planted file(s) on the path, with the invocations that wrote and used them. */
  files: Array<{ path: string; instance?: string; writtenBy?: InvocationInfo; usedBy?: InvocationInfo; id: string }>;
  /** Invocations of the same function instance on the path (the warm container's reuse). */
  sameInstance: InvocationInfo[];
  /** What the invocation that ran the planted file read or fetched, from the trace. */
  read: string[];
  tracingView: Array<{ traceId: string; invocations: InvocationInfo[] }>;
}

export function invocationInfo(db: DB, invocation: string): InvocationInfo | undefined {
  const row = db
    .prepare<[string], { body: string }>(`SELECT body FROM events WHERE kind = 'invocation.start' AND invocation = ? LIMIT 1`)
    .get(invocation);
  if (!row) return undefined;
  const e = JSON.parse(row.body) as Record<string, unknown>;
  return {
    invocation,
    function: String(e.function),
    instance: String(e.instance),
    seq: Number(e.seq),
    traceId: String(e.traceId),
    callId: typeof e.callId === 'string' ? e.callId : undefined,
    startUs: Number(e.ts),
    method: String(e.method),
    path: String(e.path),
  };
}

/** The invocation the gateway started for a request sent with this X-Call-Id. */
export function invocationByCallId(db: DB, callId: string): InvocationInfo | undefined {
  const row = db
    .prepare<[string], { invocation: string }>(`SELECT invocation FROM events WHERE kind = 'invocation.start' AND json_extract(body, '$.callId') = ? ORDER BY ts LIMIT 1`)
    .get(callId);
  return row ? invocationInfo(db, row.invocation) : undefined;
}

/**
 * Whether a tracer could connect two invocations: the tracing view of the whole store (spans and
 * their headers only) has a chain between them, whichever way its edges point.
 */
export function tracerConnects(db: DB, a: string, b: string): boolean {
  const g = tracingView(loadGraph(db));
  const next = new Map<string, string[]>();
  const link = (x: string, y: string) => next.set(x, [...(next.get(x) ?? []), y]);
  for (const e of g.edges) {
    link(e.from, e.to);
    link(e.to, e.from);
  }
  const goal = `inv:${b}`;
  const seen = new Set([`inv:${a}`]);
  for (const queue = [...seen]; queue.length; ) {
    const x = queue.pop()!;
    if (x === goal) return true;
    for (const y of next.get(x) ?? []) if (!seen.has(y)) seen.add(y), queue.push(y);
  }
  return false;
}

/** Every invocation of one trace id, in start order: what a tracer shows for one request. */
export function traceInvocations(db: DB, traceId: string): InvocationInfo[] {
  const rows = db
    .prepare<[string], { invocation: string }>(
      `SELECT invocation FROM events WHERE kind = 'invocation.start' AND json_extract(body, '$.traceId') = ? ORDER BY ts`,
    )
    .all(traceId);
  return rows.map((r) => invocationInfo(db, r.invocation)).filter((x): x is InvocationInfo => x !== undefined);
}

function invocationOf(n: GraphNode, stored?: Map<string, string>): string | undefined {
  const fromStore = stored?.get(n.id);
  if (fromStore) return fromStore;
  const a = n.attributes as Record<string, unknown>;
  if (typeof a.invocation === 'string') return a.invocation;
  if (n.id.startsWith('inv:')) return n.id.slice(4);
  if (n.id.startsWith('req:')) return n.id.slice(4);
  return undefined;
}

/**
 * The exfiltration connection: the latest connection to the attacker's endpoint (the download came
 * earlier). What the system layer saw (a socket from a connect syscall) is preferred over what the
 * function reported about itself (a message), since function code can lie.
 */
export function findPoi(db: DB, endpoint: string): number {
  const { nids } = select(db, endpoint);
  const rows = db
    .prepare<[], { nid: number; time: number; kind: string }>(
      `SELECT nid, COALESCE(time, 0) AS time, kind FROM graph_nodes WHERE nid IN (${nids.map(Number).join(',') || '0'})`,
    )
    .all();
  if (!rows.length) throw new Error(`no connection to ${endpoint} in the store`);
  const sockets = rows.filter((r) => r.kind === 'socket');
  const pool = sockets.length ? sockets : rows;
  pool.sort((a, b) => b.time - a.time);
  return pool[0].nid;
}

/**
 * The data an invocation pulled in, from its nodes on the trace: calls it made (one line per
 * method and path: the function's own report and the egress proxy's are the same call) and files,
 * leaving out what went to the attacker.
 */
function whatItRead(nodes: GraphNode[], endpoint: string): string[] {
  const out = new Set<string>();
  for (const n of nodes) {
    const a = n.attributes as Record<string, unknown>;
    if (n.kind === 'message' && typeof a.url === 'string') {
      let u: URL;
      try {
        u = new URL(a.url);
      } catch {
        continue;
      }
      if (u.host === endpoint) continue;
      out.add(`${String(a.method ?? 'GET')} ${u.pathname}`);
    } else if (n.kind === 'file' && typeof a.path === 'string') out.add(a.path);
  }
  return [...out];
}

export function investigate(db: DB, endpoint: string): Investigation {
  const poiNid = findPoi(db, endpoint);
  const trace = traceBack(db, [poiNid]);
  const byId = new Map(trace.nodes.map((n) => [n.id, n]));
  // The store knows which invocation each node belongs to (messages, sockets, processes too).
  const owner = new Map<string, string>();
  const ownerQ = db.prepare<[string], { invocation: string | null; instance: string | null }>(`SELECT invocation, instance FROM graph_nodes WHERE id = ?`);
  for (const n of trace.nodes) {
    const r = ownerQ.get(n.id);
    if (r?.invocation) owner.set(n.id, r.invocation);
  }
  if (!trace.path || trace.path.length === 0) throw new Error(`the backward trace from ${endpoint} reached no root cause`);
  const step = (id: string): Step => {
    const n = byId.get(id)!;
    const inv = invocationOf(n, owner);
    const info = inv ? invocationInfo(db, inv) : undefined;
    return {
      id,
      kind: n.kind,
      label: n.label,
      invocation: inv,
      function: info?.function ?? (n.attributes as Record<string, unknown>).function as string | undefined,
      instance: info?.instance,
      time: n.time,
    };
  };
  const path = trace.path.map(step);
  const poi = path[0];
  const root = path[path.length - 1];
  const rootInv = root.invocation ? invocationInfo(db, root.invocation) : undefined;

  const files: Investigation['files'] = [];
  for (let i = 0; i < path.length; i++) {
    const s = path[i];
    if (s.kind !== 'file') continue;
    const n = byId.get(s.id)!;
    const a = n.attributes as Record<string, unknown>;
    // On the backward path the step before a file is what used it, the step after what wrote it.
    const after = path.slice(i + 1).find((x) => x.invocation);
    const before = path.slice(0, i).reverse().find((x) => x.invocation);
    files.push({
      id: s.id,
      path: typeof a.path === 'string' ? a.path : s.label,
      instance: typeof a.instance === 'string' ? a.instance : undefined,
      writtenBy: after?.invocation ? invocationInfo(db, after.invocation) : undefined,
      usedBy: before?.invocation ? invocationInfo(db, before.invocation) : undefined,
    });
  }

  const onPath = [...new Set(path.map((s) => s.invocation).filter((x): x is string => !!x))]
    .map((inv) => invocationInfo(db, inv))
    .filter((x): x is InvocationInfo => !!x);
  const byInstance = new Map<string, InvocationInfo[]>();
  for (const i of onPath) byInstance.set(`${i.function}@${i.instance}`, [...(byInstance.get(`${i.function}@${i.instance}`) ?? []), i]);
  const sameInstance = [...byInstance.values()].find((l) => l.length >= 2) ?? [];

  // What the later invocation (the one that ran the planted file) read: its messages and files.
  const runner = files[0]?.usedBy?.invocation;
  const read = runner ? whatItRead(trace.nodes.filter((n) => invocationOf(n, owner) === runner && n.id !== poi.id), endpoint) : [];

  const traceIds = [...new Set(sameInstance.map((i) => i.traceId))];
  const tracingView = traceIds
    .map((traceId) => ({ traceId, invocations: traceInvocations(db, traceId) }))
    .sort((a, b) => (a.invocations[0]?.startUs ?? 0) - (b.invocations[0]?.startUs ?? 0));

  return {
    poi,
    trace,
    path,
    rootCause: {
      invocation: rootInv?.invocation ?? root.invocation ?? root.id,
      function: rootInv?.function ?? root.function ?? '?',
      time: rootInv?.startUs ?? root.time ?? 0,
      callId: rootInv?.callId,
      label: root.label,
    },
    files,
    sameInstance,
    read,
    tracingView,
  };
}
