// Raw events as stored, newest filters first; each is the event's own JSON object. A call the
// function reported itself also carries `corroboration`: what the egress proxy or the kernel says
// of it (corroborate.ts), joined here, never written into the stored event.
import type { DB } from '../store/open';
import { corroborateCalls } from './corroborate';

export interface EventFilter {
  /** Its events, and the syscalls audit gave another invocation in flight with it by a guess (their alsoIn names it). */
  invocation?: string;
  kind?: string;
  instance?: string;
  function?: string;
  sinceUs?: number;
  limit?: number;
}

export function listEvents(db: DB, f: EventFilter = {}): Array<Record<string, unknown>> {
  const where: string[] = [];
  const params: unknown[] = [];
  const eq = (col: string, v: unknown) => {
    if (v === undefined) return;
    where.push(`${col} = ?`);
    params.push(v);
  };
  if (f.invocation !== undefined) {
    // The guesses lie inside this invocation's own time span on its instance: the (instance, ts)
    // index finds them without reading other bodies.
    where.push(`(invocation = ? OR seq IN (
      SELECT e.seq FROM events e, (SELECT instance, min(ts) - 10000 AS t0, max(ts) + 10000 AS t1 FROM events WHERE invocation = ? GROUP BY instance) w
      WHERE e.instance = w.instance AND e.ts BETWEEN w.t0 AND w.t1 AND e.kind = 'syscall'
        AND EXISTS (SELECT 1 FROM json_each(e.body, '$.alsoIn') WHERE value = ?)))`);
    params.push(f.invocation, f.invocation, f.invocation);
  }
  eq('kind', f.kind);
  eq('instance', f.instance);
  eq('function', f.function);
  if (f.sinceUs !== undefined) {
    where.push('ts >= ?');
    params.push(f.sinceUs);
  }
  const sql = `SELECT body FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ts, seq ${
    f.limit && f.limit > 0 ? `LIMIT ${Math.floor(f.limit)}` : ''
  }`;
  const out: Array<Record<string, unknown>> = [];
  for (const r of db.prepare(sql).iterate(...params) as Iterable<{ body: string }>) out.push(JSON.parse(r.body));
  corroborateCalls(db, out);
  return out;
}

/** How sure the event's invocation is, when not exact (events/attribution.ts): the same words trace uses. */
function levelNote(e: Record<string, any>): string {
  if (e.alsoIn?.length) return ` [by time: or ${e.alsoIn.join(', ')}]`;
  const c = e.corroboration;
  if (c?.contradiction) return ` [claimed by the function; contradicted: ${c.contradiction}]`;
  if (c) return ` [corroborated by the ${c.by === 'proxy' ? "egress proxy's record" : "kernel's connect"} ${c.event}]`;
  const why = e.contradiction ? `: ${e.contradiction}` : '';
  if (e.attribution === 'claimed' || e.attribution === 'corroborated') return ` [${e.attribution} by ${e.basis ?? 'the function'}${why}]`;
  return why ? ` [${why.slice(2)}]` : '';
}

/** Where a connect or bind went: an inet address and port, or a unix socket's path (when no PATH record names it). */
function sockText(a: Record<string, any> | undefined): string {
  if (!a) return '';
  if (a.path) return ` ${a.path}`;
  if (a.address === undefined) return '';
  return a.family === 'inet6' ? ` [${a.address}]:${a.port}` : ` ${a.address}:${a.port}`;
}

/** One short line of an event's distinctive fields, for the table view. */
export function summarize(e: Record<string, any>): string {
  switch (e.kind) {
    case 'invocation.start':
      return `#${e.seq} ${e.method} ${e.path}${e.query ? `?${e.query}` : ''} trace ${e.traceId}`;
    case 'invocation.end':
      return `#${e.seq} ${e.status} ${e.durationMs}ms req ${e.reqBytes}B res ${e.resBytes}B`;
    case 'http.out':
      return `${e.method} ${e.url}${e.callee ? ` (-> ${e.callee})` : ''} ${e.status ?? e.error ?? ''} ${e.evidence}/${e.source}${e.pid ? ` pid ${e.pid}` : ''}${levelNote(e)}`;
    case 'instance.start':
      return `pid ${e.pid} ${e.mode} ${e.fprocess ?? ''}`;
    case 'instance.stop':
      return e.reason;
    case 'app.module':
      return `${e.path}${e.external ? ' (external)' : ''}`;
    case 'app.file':
      return `${e.op} ${e.path}${e.target ? ` -> ${e.target}` : ''}`;
    case 'app.spawn':
      return `${e.command} ${JSON.stringify(e.argv)}`;
    case 'syscall':
      return `${e.syscall} pid ${e.pid} ${e.exe} ${e.success ? 'ok' : `failed ${e.exit}`}${e.paths?.length ? ` ${e.paths.map((p: any) => p.name).join(' ')}` : ''}${e.paths?.length ? '' : sockText(e.sockaddr)}${levelNote(e)}`;
    case 'source.stats':
      return JSON.stringify(e.counters);
    default:
      return '';
  }
}
