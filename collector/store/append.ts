// Appending raw events and batch records. Events are append-only: an event id is stored once
// (INSERT OR IGNORE on the unique id), which is what makes a retried batch or OTLP export idempotent.
import type { DB } from './open';

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

export interface BatchRow {
  source: string;
  seq: number;
  prev: string;
  mac: string;
  count: number;
  receivedUs: number;
}

export interface Appender {
  /** Returns 1 when stored, 0 when an event with this id already exists. */
  event(row: EventRow): number;
  batch(row: BatchRow): void;
  batchMac(source: string, seq: number): string | undefined;
  maxBatchSeq(source: string): { seq: number; mac: string } | undefined;
  nextBatch(source: string, seq: number): { seq: number; prev: string } | undefined;
  integrity(source: string, seq: number | null, problem: string, detail: string, atUs: number): void;
}

export function appender(db: DB): Appender {
  const insEvent = db.prepare(
    `INSERT OR IGNORE INTO events (id, kind, ts, instance, function, invocation, source, batch_seq, body)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insBatch = db.prepare(
    `INSERT INTO batches (source, seq, prev, mac, count, received_us) VALUES (?, ?, ?, ?, ?, ?)`,
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
    event: (r) =>
      insEvent.run(r.id, r.kind, r.ts, r.instance, r.function, r.invocation, r.source, r.batchSeq, r.body).changes,
    batch: (b) => {
      insBatch.run(b.source, b.seq, b.prev, b.mac, b.count, b.receivedUs);
    },
    batchMac: (source, seq) => getMac.get(source, seq)?.mac,
    maxBatchSeq: (source) => getMax.get(source),
    nextBatch: (source, seq) => getNext.get(source, seq),
    integrity: (source, seq, problem, detail, atUs) => {
      insIntegrity.run(source, seq, problem, detail, atUs);
    },
  };
}
