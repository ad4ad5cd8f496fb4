// One row per invocation, joined from its invocation.start and invocation.end events.
import type { DB } from '../store/open';

export interface InvocationRow {
  id: string;
  function: string;
  instance: string;
  seq: number;
  traceId: string;
  spanId: string;
  /** Span id of the caller (from the incoming traceparent), when there was one. */
  parent: string | null;
  /** The caller's invocation, when the parent span is an outgoing call or invocation this store knows. */
  parentInvocation: string | null;
  method: string;
  path: string;
  startUs: number;
  start: string;
  /** Null while the invocation has no invocation.end (still running, or its end was lost). */
  status: number | null;
  durationMs: number | null;
  reqBytes: number | null;
  resBytes: number | null;
  reqSha256: string | null;
  resSha256: string | null;
  pid: number | null;
  callId: string | null;
}

export interface InvocationFilter {
  function?: string;
  sinceUs?: number;
  instance?: string;
  limit?: number;
}

export function listInvocations(db: DB, f: InvocationFilter = {}): InvocationRow[] {
  const where = [`s.kind = 'invocation.start'`];
  const params: unknown[] = [];
  if (f.function) {
    where.push('s.function = ?');
    params.push(f.function);
  }
  if (f.instance) {
    where.push('s.instance = ?');
    params.push(f.instance);
  }
  if (f.sinceUs !== undefined) {
    where.push('s.ts >= ?');
    params.push(f.sinceUs);
  }
  const limit = f.limit && f.limit > 0 ? `LIMIT ${Math.floor(f.limit)}` : '';
  const rows = db
    .prepare(
      `SELECT s.body AS sb, (SELECT e.body FROM events e WHERE e.invocation = s.invocation AND e.kind = 'invocation.end' LIMIT 1) AS eb
       FROM events s WHERE ${where.join(' AND ')} ORDER BY s.ts, s.seq ${limit}`,
    )
    .all(...params) as Array<{ sb: string; eb: string | null }>;

  // Which invocation issued a given span: its own span, or an outgoing call it made.
  const spanOwner = new Map<string, string>();
  const parents = new Set<string>();
  const starts = rows.map((r) => JSON.parse(r.sb) as Record<string, any>);
  for (const s of starts) if (s.parentSpanId) parents.add(s.parentSpanId);
  if (parents.size > 0) {
    const q = db.prepare(
      `SELECT invocation, json_extract(body, '$.spanId') AS span FROM events
       WHERE kind IN ('http.out', 'invocation.start') AND invocation IS NOT NULL AND json_extract(body, '$.spanId') = ?`,
    );
    for (const p of parents) {
      const hit = q.get(p) as { invocation: string } | undefined;
      if (hit) spanOwner.set(p, hit.invocation);
    }
  }

  return starts.map((s, i) => {
    const e = rows[i].eb ? (JSON.parse(rows[i].eb!) as Record<string, any>) : undefined;
    return {
      id: s.invocation,
      function: s.function,
      instance: s.instance,
      seq: s.seq,
      traceId: s.traceId,
      spanId: s.spanId,
      parent: s.parentSpanId ?? null,
      parentInvocation: s.parentSpanId ? spanOwner.get(s.parentSpanId) ?? null : null,
      method: s.method,
      path: s.path,
      startUs: s.ts,
      start: new Date(Math.floor(s.ts / 1000)).toISOString(),
      status: e?.status ?? null,
      durationMs: e?.durationMs ?? null,
      reqBytes: e?.reqBytes ?? null,
      resBytes: e?.resBytes ?? null,
      reqSha256: e?.reqSha256 ?? null,
      resSha256: e?.resSha256 ?? null,
      pid: e?.pid ?? s.pid ?? null,
      callId: s.callId ?? null,
    };
  });
}
