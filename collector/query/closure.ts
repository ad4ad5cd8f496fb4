// Whether each source's log is known to be whole at its end. The batch chain proves nothing is
// missing between the first batch and the last one stored, but not that the last one stored is
// the last one sent: a tail cut off (what a watchdog still held when it was SIGKILLed or ran out
// of memory, or batches deleted from the store afterwards) leaves a chain that verifies.
//
// A watchdog that stops cleanly ends its chain with source.stats, which counts every event it
// produced, then instance.stop. Such a source is *closed*, and the store's count of its events up
// to the stats event must equal the watchdog's own. Any other source is *open*: still running,
// or it ended without a word and its last events may never have arrived. Open is not proof of
// loss, so it is reported, not failed, unless the caller asks (`verify --require-closed`).
import type { DB } from '../store/open';

export interface SourceEnd {
  source: string;
  state: 'closed' | 'open';
  lastBatch: number;
  /** When the collector stored the source's last batch (us since the epoch). */
  lastReceivedUs: number;
  /** Events its stored batches declare. */
  events: number;
  /** Closed sources: events the producer counted up to its stats event, less those it reported dropped. */
  counted?: number;
  /** Closed sources: events stored up to and including that stats event. */
  storedToStats?: number;
}

interface Row {
  source: string;
  seq: number;
  batch_seq: number;
  body: string;
}

/** The batch and rowid of an event, in the source's order. */
const before = (a: Row, b: Row) => a.batch_seq < b.batch_seq || (a.batch_seq === b.batch_seq && a.seq < b.seq);

/** ranged: the store's batches record their events' rowid range (verify.ts works that out once). */
export function sourceEnds(db: DB, ranged: boolean): SourceEnd[] {
  const batches = db.prepare(
    `SELECT source, max(seq) AS last, max(received_us) AS received, sum(count) AS events FROM batches GROUP BY source ORDER BY source`,
  ).all() as Array<{ source: string; last: number; received: number; events: number }>;
  // Both kinds are few (one or two per source) and the (kind, ts) index finds them.
  const byKind = (kind: string) => {
    const m = new Map<string, Row[]>();
    const rows = db.prepare(`SELECT source, seq, batch_seq, body FROM events WHERE kind = ? AND batch_seq IS NOT NULL`).all(kind) as Row[];
    for (const r of rows) {
      const list = m.get(r.source);
      if (list) list.push(r);
      else m.set(r.source, [r]);
    }
    return m;
  };
  const stops = byKind('instance.stop');
  const stats = byKind('source.stats');
  const declaredBefore = db.prepare<[string, number], { n: number | null }>(`SELECT sum(count) AS n FROM batches WHERE source = ? AND seq < ?`);
  const inBatchUpTo = ranged
    ? db.prepare<{ source: string; batch: number; upTo: number }, { n: number }>(
        `SELECT count(*) AS n FROM events WHERE seq BETWEEN (SELECT first_event FROM batches WHERE source = @source AND seq = @batch) AND @upTo AND source = @source AND batch_seq = @batch`)
    : db.prepare<{ source: string; batch: number; upTo: number }, { n: number }>(`SELECT count(*) AS n FROM events WHERE source = @source AND batch_seq = @batch AND seq <= @upTo`);

  return batches.map((b): SourceEnd => {
    const end: SourceEnd = { source: b.source, state: 'open', lastBatch: b.last, lastReceivedUs: b.received, events: b.events };
    const stop = (stops.get(b.source) ?? []).reduce<Row | undefined>((last, r) => (last === undefined || before(last, r) ? r : last), undefined);
    if (!stop) return end;
    end.state = 'closed';
    // The watchdog's own stats: the last source.stats before the stop that counts events (the audit
    // tailer's stats, earlier in the same chain, count audit lines instead).
    let own: { row: Row; events: number; dropped: number } | undefined;
    for (const r of stats.get(b.source) ?? []) {
      if (!before(r, stop) || (own && before(r, own.row))) continue;
      const c = (JSON.parse(r.body) as { counters?: Record<string, unknown> }).counters ?? {};
      if (typeof c.events === 'number') own = { row: r, events: c.events, dropped: typeof c.droppedEvents === 'number' ? c.droppedEvents : 0 };
    }
    if (own) {
      end.counted = own.events - own.dropped;
      end.storedToStats = (declaredBefore.get(b.source, own.row.batch_seq)?.n ?? 0) + inBatchUpTo.get({ source: b.source, batch: own.row.batch_seq, upTo: own.row.seq })!.n;
    }
    return end;
  });
}
