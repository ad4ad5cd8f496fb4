// Appending raw events and batch records. Events are append-only: an event id is stored once
// (INSERT OR IGNORE on the unique id), which is what makes a retried batch or OTLP export idempotent.
import type Database from 'better-sqlite3';
import { dialectOf, type DB } from './db';

export interface EventRow {
  id: string;
  kind: string;
  ts: number;
  instance: string;
  function: string;
  invocation: string | null;
  source: string;
  batchSeq: number | null;
  /** The exact JSON text of the event, as the batch MAC covers it. */
  body: string;
}

/**
 * A batch's events as columns: cheap to post to the store thread (a few arrays of short strings
 * and the body text once), where objects per event cost ~3x more to clone.
 */
export interface EventColumns {
  id: string[];
  kind: string[];
  ts: number[];
  instance: string[];
  function: string[];
  invocation: (string | null)[];
  /** Either the body text and [start, end) of each event in it ... */
  text: string | null;
  spans: Int32Array | null;
  /** ... or each event's text. */
  texts: string[] | null;
}

export function eventText(cols: EventColumns, i: number): string {
  return cols.texts ? cols.texts[i] : cols.text!.slice(cols.spans![2 * i], cols.spans![2 * i + 1]);
}

export interface BatchRow {
  source: string;
  seq: number;
  prev: string;
  mac: string;
  count: number;
  receivedUs: number;
  /** Rowids of the first and last event this batch stored (null when it stored none). */
  firstEvent: number | null;
  lastEvent: number | null;
}

export interface Stored {
  stored: number;
  /** The stored events' rowids run from first to last with no gap (null when none was stored). */
  first: number | null;
  last: number | null;
}

export interface Appender {
  /** Returns 1 when stored, 0 when an event with this id already exists. */
  event(row: EventRow): number;
  /** Stores many; returns how many were new. Multi-row statements: far fewer calls into SQLite. */
  events(rows: readonly EventRow[]): number;
  /**
   * The same from a batch's columns, all from one source and batch. Rows get consecutive rowids
   * (INTEGER PRIMARY KEY: max + 1; an ignored duplicate takes none) as long as nothing else
   * inserts events in between, which the single writer guarantees.
   */
  eventColumns(source: string, batchSeq: number | null, cols: EventColumns): Stored;
  batch(row: BatchRow): void;
  batchMac(source: string, seq: number): string | undefined;
  maxBatchSeq(source: string): { seq: number; mac: string } | undefined;
  nextBatch(source: string, seq: number): { seq: number; prev: string } | undefined;
  integrity(source: string, seq: number | null, problem: string, detail: string, atUs: number): void;
}

/** Rows per multi-row INSERT (9 parameters each; SQLite allows 32766 parameters). */
const MULTI = 32;

export function appender(db: DB): Appender {
  const rows = dialectOf(db) === 'postgres' ? pgEventRows(db) : sqliteEventRows(db);
  const insBatch = db.prepare(
    `INSERT INTO batches (source, seq, prev, mac, count, received_us, first_event, last_event) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const getMac = db.prepare<[string, number], { mac: string }>(`SELECT mac FROM batches WHERE source = ? AND seq = ?`);
  const getMax = db.prepare<[string], { seq: number; mac: string }>(
    `SELECT seq, mac FROM batches WHERE source = ? ORDER BY seq DESC LIMIT 1`,
  );
  const getNext = db.prepare<[string, number], { seq: number; prev: string }>(
    `SELECT seq, prev FROM batches WHERE source = ? AND seq > ? ORDER BY seq LIMIT 1`,
  );
  const insIntegrity = db.prepare(
    `INSERT INTO integrity (source, seq, problem, detail, at_us) VALUES (?, ?, ?, ?, ?)`,
  );
  return {
    ...rows,
    batch: (b) => {
      insBatch.run(b.source, b.seq, b.prev, b.mac, b.count, b.receivedUs, b.firstEvent, b.lastEvent);
    },
    batchMac: (source, seq) => getMac.get(source, seq)?.mac,
    maxBatchSeq: (source) => getMax.get(source),
    nextBatch: (source, seq) => getNext.get(source, seq),
    integrity: (source, seq, problem, detail, atUs) => {
      insIntegrity.run(source, seq, problem, detail, atUs);
    },
  };
}

type EventRows = Pick<Appender, 'event' | 'events' | 'eventColumns'>;

function sqliteEventRows(db: DB): EventRows {
  const insEvent = db.prepare(
    `INSERT OR IGNORE INTO events (id, kind, ts, instance, function, invocation, source, batch_seq, body)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const cols = `INSERT OR IGNORE INTO events (id, kind, ts, instance, function, invocation, source, batch_seq, body) VALUES `;
  const insMany = db.prepare(cols + Array(MULTI).fill('(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', '));
  const params: unknown[] = new Array(MULTI * 9);
  const one: unknown[] = new Array(9);
  /**
   * Inserts n events, MULTI rows per statement while they last: `put` writes event j's nine
   * values at offset o. Counts what was stored and where (the last rowid).
   */
  const insertAll = (n: number, put: (p: unknown[], o: number, j: number) => void): Stored => {
    let stored = 0;
    let last: number | null = null;
    const note = (r: Database.RunResult) => {
      if (r.changes > 0) {
        stored += r.changes;
        last = Number(r.lastInsertRowid);
      }
    };
    let i = 0;
    for (; i + MULTI <= n; i += MULTI) {
      for (let k = 0; k < MULTI; k++) put(params, k * 9, i + k);
      note(insMany.run(params));
    }
    for (; i < n; i++) {
      put(one, 0, i);
      note(insEvent.run(one));
    }
    return { stored, first: last === null ? null : last - stored + 1, last };
  };
  return {
    event: (r) =>
      insEvent.run(r.id, r.kind, r.ts, r.instance, r.function, r.invocation, r.source, r.batchSeq, r.body).changes,
    events: (rows) =>
      insertAll(rows.length, (p, o, j) => {
        const r = rows[j];
        p[o] = r.id;
        p[o + 1] = r.kind;
        p[o + 2] = r.ts;
        p[o + 3] = r.instance;
        p[o + 4] = r.function;
        p[o + 5] = r.invocation;
        p[o + 6] = r.source;
        p[o + 7] = r.batchSeq;
        p[o + 8] = r.body;
      }).stored,
    eventColumns: (source, batchSeq, c) =>
      insertAll(c.id.length, (p, o, j) => {
        p[o] = c.id[j];
        p[o + 1] = c.kind[j];
        p[o + 2] = c.ts[j];
        p[o + 3] = c.instance[j];
        p[o + 4] = c.function[j];
        p[o + 5] = c.invocation[j];
        p[o + 6] = source;
        p[o + 7] = batchSeq;
        p[o + 8] = eventText(c, j);
      }),
  };
}

/**
 * PostgreSQL: a batch's events in one statement of nine array parameters, whatever their number
 * (a round trip per row, or per 32, would cost more than the insert). WITH ORDINALITY ... ORDER BY
 * keeps the batch's order in the generated seq, which verify reads a batch's events by. Keys from
 * concurrent writers interleave, so no rowid range is reported: batches are read by (source,
 * batch_seq).
 */
function pgEventRows(db: DB): EventRows {
  const ins = db.prepare(
    `INSERT INTO events (id, kind, ts, instance, function, invocation, source, batch_seq, body)
     SELECT id, kind, ts, instance, function, invocation, source, batch_seq, body
       FROM unnest(?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::text[])
            WITH ORDINALITY AS u(id, kind, ts, instance, function, invocation, source, batch_seq, body, o)
      ORDER BY o
     ON CONFLICT (id) DO NOTHING`,
  );
  const many = (rows: readonly EventRow[]): number =>
    rows.length === 0
      ? 0
      : ins.run([
          rows.map((r) => r.id), rows.map((r) => r.kind), rows.map((r) => r.ts), rows.map((r) => r.instance), rows.map((r) => r.function),
          rows.map((r) => r.invocation), rows.map((r) => r.source), rows.map((r) => r.batchSeq), rows.map((r) => r.body),
        ]).changes;
  return {
    event: (r) => many([r]),
    events: many,
    eventColumns: (source, batchSeq, c) => {
      const n = c.id.length;
      if (n === 0) return { stored: 0, first: null, last: null };
      const texts = c.texts ?? Array.from({ length: n }, (_, i) => eventText(c, i));
      // One array argument: its nine elements are the nine (array) parameters.
      const stored = ins.run([c.id, c.kind, c.ts, c.instance, c.function, c.invocation, new Array(n).fill(source), new Array(n).fill(batchSeq), texts]).changes;
      return { stored, first: null, last: null };
    },
  };
}
