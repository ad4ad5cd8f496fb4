// An outgoing call the function's own instrumentation reported (an OpenTelemetry CLIENT span,
// mapped by ingest/otlp.ts) is a claim: planted code could report anything. Two recorders outside
// the function can back it, and the collector holds both:
//   - the egress proxy's record of the same call (same instance, trace id and span id), when the
//     call went through the proxy;
//   - the kernel's connect of the same process to the same address while the call was under way
//     (audit), when it went direct. A call over a kept-alive connection has no connect of its own
//     and stays a bare claim.
// The claim counts as corroborated only when that recorder names the same invocation at the exact
// or corroborated level; a firm record naming another invocation is a contradiction, said as such.
// A guess (alsoIn) backs nothing. Joined at read time, so the order records arrive in never
// matters and the stored events (hash-chained) stay as their producers sent them.
import type { DB } from '../store/open';

/** The proxy stamps the call's start after the function opened its span: allow for the gap. */
const PROXY_SLACK_US = 2e6;
/**
 * Audit's clock is up to a scheduler tick behind (watchdog/audit/windows.ts), never ahead: a
 * connect made during the call carries a time in [start - tick, end]. Nothing after the end: the
 * next call's connect to the same address would fit there.
 */
const KERNEL_SLACK_US = 10_000;
const EINPROGRESS = -115;

export interface Corroboration {
  /** What the claim is worth with the other recorder's word: corroborated, or still claimed. */
  attribution: 'corroborated' | 'claimed';
  /** Which recorder: the egress proxy, or the kernel (audit). */
  by: 'proxy' | 'kernel';
  /** The id of that recorder's event. */
  event: string;
  contradiction?: string;
}

type Ev = Record<string, any>;

const firm = (e: Ev) => !e.alsoIn?.length && (e.attribution === undefined || e.attribution === 'exact' || e.attribution === 'corroborated');
const plainAddr = (a: unknown) => (typeof a === 'string' && a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a);

function verdict(claim: Ev, other: Ev, by: Corroboration['by']): Corroboration | undefined {
  if (!firm(other) || !other.invocation) return undefined;
  if (other.invocation === claim.invocation) return { attribution: 'corroborated', by, event: other.id };
  const who = by === 'proxy' ? 'the egress proxy recorded this call' : `the kernel shows pid ${other.pid}'s connect`;
  return { attribution: 'claimed', by, event: other.id, contradiction: `${who} for ${other.invocation}` };
}

/** Whether an event is an outgoing call reported from inside the function, with an invocation to check. */
export function isCallClaim(e: Ev): boolean {
  return e.kind === 'http.out' && e.source !== 'proxy' && typeof e.invocation === 'string' && typeof e.instance === 'string';
}

/** When a call ended: its start plus its duration (the span measures it). */
export function endOf(e: Ev): number {
  return e.ts + Math.round((e.durationMs ?? 0) * 1000);
}

type Rows = { all(...p: unknown[]): unknown[] };
/** Prepared once per store: the graph asks for every claim and every connect it applies. */
const statements = new WeakMap<DB, { calls: Rows; connects: Rows }>();
function queries(db: DB) {
  let q = statements.get(db);
  if (!q) {
    q = {
      calls: db.prepare(`SELECT body FROM events WHERE instance = ? AND ts BETWEEN ? AND ? AND kind = 'http.out'`),
      connects: db.prepare(`SELECT body FROM events WHERE instance = ? AND ts BETWEEN ? AND ? AND kind = 'syscall' AND body LIKE '%"syscall":"connect"%'`),
    };
    statements.set(db, q);
  }
  return q;
}

export interface Found {
  verdict: Corroboration;
  /** The other recorder's event itself. */
  record: Ev;
}

/** The other recorders' word on one claimed call, with the record that says it; undefined when neither saw it. */
export function findCorroboration(db: DB, e: Ev): Found | undefined {
  if (!isCallClaim(e)) return undefined;
  const end = endOf(e);
  const q = queries(db);
  if (e.traceId && e.spanId) {
    const rows = q.calls.all(e.instance, e.ts - PROXY_SLACK_US, end + PROXY_SLACK_US) as Array<{ body: string }>;
    for (const r of rows) {
      const p = JSON.parse(r.body) as Ev;
      // The proxy names the function's span as its parent (a producer passing the span through
      // would keep it as its own).
      if (p.source === 'proxy' && p.traceId === e.traceId && (p.parentSpanId === e.spanId || p.spanId === e.spanId)) {
        const v = verdict(e, p, 'proxy');
        if (v) return { verdict: v, record: p };
      }
    }
  }
  if (e.pid !== undefined && e.port !== undefined) {
    const rows = q.connects.all(e.instance, e.ts - KERNEL_SLACK_US, end) as Array<{ body: string }>;
    const host = plainAddr(e.host);
    let contradiction: Found | undefined;
    for (const r of rows) {
      const k = JSON.parse(r.body) as Ev;
      if (k.pid !== e.pid || k.sockaddr?.port !== e.port || plainAddr(k.sockaddr?.address) !== host) continue;
      // Node's sockets are non-blocking: their connect returns EINPROGRESS, and the call goes on.
      if (k.success === false && k.exit !== EINPROGRESS) continue;
      const v = verdict(e, k, 'kernel');
      if (v?.attribution === 'corroborated') return { verdict: v, record: k };
      if (v) contradiction ??= { verdict: v, record: k };
    }
    return contradiction;
  }
  return undefined;
}

/** The other recorders' word on one claimed call, or undefined when neither saw it. */
export function corroborateCall(db: DB, e: Ev): Corroboration | undefined {
  return findCorroboration(db, e)?.verdict;
}

/** Adds `corroboration` to every claimed call among `evs` that another recorder backs or contradicts. */
export function corroborateCalls(db: DB, evs: Ev[]): void {
  for (const e of evs) {
    const c = corroborateCall(db, e);
    if (c) e.corroboration = c;
  }
}
