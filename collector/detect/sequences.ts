// Reads every invocation's events from the store and turns them into key sequences.
import type { DB } from '../store/open';
import { keysOf, kindRank, type KeyedEvent, type KeySequence } from './keys';

export interface SequenceFilter {
  function?: string;
  /** Only invocations that started at or after this time (us). */
  since?: number;
  /** Only invocations that started before this time (us). */
  until?: number;
}

interface Row {
  id: string;
  kind: string;
  ts: number;
  seq: number;
  function: string;
  invocation: string;
  body: string;
}

/** Key sequences per invocation, ordered by the invocation's start time. */
export function loadSequences(db: DB, filter: SequenceFilter = {}): KeySequence[] {
  // Filtering on function here would miss nothing: every event of an invocation carries the
  // function that ran it.
  const where = ['invocation IS NOT NULL'];
  const args: unknown[] = [];
  if (filter.function !== undefined) {
    where.push('function = ?');
    args.push(filter.function);
  }
  const stmt = db.prepare<unknown[], Row>(
    `SELECT id, kind, ts, seq, function, invocation, body FROM events WHERE ${where.join(' AND ')} ORDER BY invocation, ts, seq`,
  );
  const out: KeySequence[] = [];
  let cur: Row[] = [];
  const flush = () => {
    if (cur.length === 0) return;
    cur.sort((a, b) => kindRank(a.kind) - kindRank(b.kind) || a.ts - b.ts || a.seq - b.seq);
    const start = cur.find((r) => r.kind === 'invocation.start');
    const ts = start ? start.ts : cur[0].ts;
    const inWindow = (filter.since === undefined || ts >= filter.since) && (filter.until === undefined || ts < filter.until);
    if (inWindow) {
      const events = cur.map((r) => ({ ...(JSON.parse(r.body) as KeyedEvent), id: r.id, kind: r.kind }));
      const { keys, events: ids } = keysOf(events);
      out.push({ invocation: cur[0].invocation, function: (start ?? cur[0]).function, ts, keys, events: ids });
    }
    cur = [];
  };
  for (const r of stmt.iterate(...args)) {
    if (cur.length > 0 && cur[0].invocation !== r.invocation) flush();
    cur.push(r);
  }
  flush();
  out.sort((a, b) => a.ts - b.ts || (a.invocation < b.invocation ? -1 : 1));
  return out;
}

/** Groups sequences by function, functions in name order. */
export function byFunction(seqs: readonly KeySequence[]): Map<string, KeySequence[]> {
  const m = new Map<string, KeySequence[]>();
  for (const s of seqs) {
    const list = m.get(s.function) ?? [];
    list.push(s);
    m.set(s.function, list);
  }
  return new Map([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
