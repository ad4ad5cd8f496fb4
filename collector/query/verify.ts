// Integrity check of a whole store: for every source, the batches must run 1..max with no gap,
// each `prev` must be the previous batch's mac (GENESIS for seq 1), and each mac must be
// recomputable from the stored event texts, in order, with the token. Problems ingest recorded
// (refused batches, conflicts) are reported too: they are evidence of tampering attempts.
import { GENESIS, batchMac, eventsJson } from '../../events';
import { dialectOf, type DB } from '../store/db';
import { sourceEnds, type SourceEnd } from './closure';

export interface Problem {
  source: string;
  seq: number | null;
  problem: 'gap' | 'break' | 'bad-mac' | 'count' | 'missing' | 'open' | string;
  detail: string;
}

export interface VerifyReport {
  sources: number;
  batches: number;
  events: number;
  problems: Problem[];
  /** Rows of the integrity table: what ingest saw go wrong (gaps there may since have been filled). */
  recorded: Problem[];
  /** How each source's chain ends: closed by a clean stop, or open (closure.ts). */
  ends: SourceEnd[];
  ok: boolean;
}

export interface VerifyOptions {
  /** Count a source without a clean stop as a problem (for a store whose producers are all gone). */
  requireClosed?: boolean;
}

export function verifyStore(db: DB, token: string, opts: VerifyOptions = {}): VerifyReport {
  const problems: Problem[] = [];
  let batches = 0;
  let events = 0;
  const sources = new Set<string>();
  // A batch's events are the rowid range it recorded; source and batch_seq must still match, so an
  // event moved to another batch by editing its row counts as missing here. verify opens the store
  // read-only (it never changes evidence), so a store no collector has migrated since batches
  // recorded ranges is read through its (source, batch_seq) index instead.
  // On PostgreSQL several collectors write at once, so keys are not contiguous per batch and
  // batches record no range: they are always read by (source, batch_seq).
  const ranged = dialectOf(db) === 'sqlite' && (db.prepare(`PRAGMA table_info(batches)`).all() as Array<{ name: string }>).some((c) => c.name === 'first_event');
  const byRange = ranged
    ? db.prepare<[number, number, string, number], { body: string }>(`SELECT body FROM events WHERE seq BETWEEN ? AND ? AND source = ? AND batch_seq = ? ORDER BY seq`)
    : undefined;
  const bySeq = db.prepare<[string, number], { body: string }>(`SELECT body FROM events WHERE source = ? AND batch_seq = ? ORDER BY seq`);
  const eventsOf = (b: { source: string; seq: number; first_event?: number | null; last_event?: number | null }): string[] => {
    if (!byRange) return bySeq.all(b.source, b.seq).map((r) => r.body);
    if (b.first_event == null || b.last_event == null) return [];
    return byRange.all(b.first_event, b.last_event, b.source, b.seq).map((r) => r.body);
  };
  let cur = '';
  let expectSeq = 1;
  let prevMac = GENESIS;
  const rows = db.prepare(`SELECT * FROM batches ORDER BY source, seq`).iterate() as Iterable<{
    source: string; seq: number; prev: string; mac: string; count: number; first_event?: number | null; last_event?: number | null;
  }>;
  for (const b of rows) {
    if (b.source !== cur) {
      cur = b.source;
      sources.add(cur);
      expectSeq = 1;
      prevMac = GENESIS;
    }
    batches++;
    if (b.seq > expectSeq) {
      problems.push({ source: b.source, seq: b.seq, problem: 'gap', detail: expectSeq === b.seq - 1 ? `seq ${expectSeq} is missing` : `seq ${expectSeq}..${b.seq - 1} are missing` });
      prevMac = ''; // unknown: the batch before this one is missing
    }
    if (prevMac !== '' && b.prev !== prevMac) {
      problems.push({ source: b.source, seq: b.seq, problem: 'break', detail: `prev is not the mac of seq ${b.seq - 1}` });
    }
    const texts = eventsOf(b);
    events += texts.length;
    if (texts.length !== b.count) {
      problems.push({ source: b.source, seq: b.seq, problem: 'count', detail: `batch had ${b.count} events, the store holds ${texts.length}` });
    }
    if (batchMac(token, b.source, b.seq, b.prev, eventsJson(texts)) !== b.mac) {
      problems.push({ source: b.source, seq: b.seq, problem: 'bad-mac', detail: 'mac does not match the stored events (altered, missing, or signed with a different key)' });
    }
    prevMac = b.mac;
    expectSeq = b.seq + 1;
  }
  const ends = sourceEnds(db, ranged);
  for (const e of ends) {
    if (e.counted !== undefined && e.storedToStats !== e.counted) {
      problems.push({ source: e.source, seq: null, problem: 'missing', detail: `it counted ${e.counted} event(s) up to its stop; the store holds ${e.storedToStats}` });
    }
    if (e.state === 'open' && opts.requireClosed) {
      problems.push({ source: e.source, seq: e.lastBatch, problem: 'open', detail: 'no instance.stop: the events after this batch may be lost' });
    }
  }
  const recorded = db.prepare(`SELECT source, seq, problem, detail FROM integrity ORDER BY id`).all() as Problem[];
  // A gap seen at ingest may have been filled by a late delivery; the recomputation above says
  // whether it still is one. Every other recorded problem (a refused forgery, a conflicting
  // batch) stays a finding.
  const findings = recorded.filter((r) => r.problem !== 'gap');
  return { sources: sources.size, batches, events, problems, recorded, ends, ok: problems.length === 0 && findings.length === 0 };
}
