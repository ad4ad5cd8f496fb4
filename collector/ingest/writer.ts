// Group commit: batches that arrive while a transaction is being written wait and go into the
// next one together, so many small POSTs cost one fsync-free WAL commit between them. A caller's
// promise resolves only after its transaction committed: that is when the HTTP answer is 200.
import { GENESIS, nowUs } from '../../events';
import { appender, type Appender, type EventRow } from '../store/append';
import { dialectOf, type DB } from '../store/db';
import type { PreparedBatch } from './batch';

export type BatchResult =
  | { status: 'stored'; stored: number }
  | { status: 'duplicate' }
  | { status: 'conflict'; detail: string };

type Item =
  | { t: 'batch'; b: PreparedBatch; done: (r: BatchResult) => void; fail: (e: Error) => void }
  | { t: 'rows'; rows: EventRow[]; done: (n: number) => void; fail: (e: Error) => void };

interface SourceState {
  maxSeq: number;
  maxMac: string;
}

/** What the HTTP side needs from a writer, in-thread (IngestWriter) or on the store thread. */
export interface BatchSink {
  submitBatch(b: PreparedBatch): Promise<BatchResult>;
  submitRows(rows: EventRow[]): Promise<number>;
  recordRefusal(source: string, seq: number | null, problem: string, detail: string): void;
  /** Resolves once everything submitted so far is committed. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/** Advisory lock class of a source's chain on PostgreSQL (the second key is the source's hash). */
const SOURCE_LOCK = 7_311_002;

/** Above this many events queued, a transaction is cut so one commit never stalls for long. */
const MAX_EVENTS_PER_TX = 50_000;

export class IngestWriter implements BatchSink {
  private queue: Item[] = [];
  private queuedEvents = 0;
  private scheduled = false;
  private readonly a: Appender;
  private readonly sources = new Map<string, SourceState>();
  private readonly runTx: { immediate(items: Item[]): unknown[] };
  private idle: Array<() => void> = [];

  constructor(
    private readonly db: DB,
    private readonly onCommit: (events: number) => void,
    /** Told before and after each transaction, so the graph worker steps aside (graph-driver.ts). */
    private readonly writing: { begin(): void; end(): void } = { begin() {}, end() {} },
  ) {
    this.a = appender(db);
    const shared = dialectOf(db) === 'postgres';
    const lock = shared ? db.prepare(`SELECT pg_advisory_xact_lock(${SOURCE_LOCK}, hashtext(?))`) : undefined;
    this.runTx = db.transaction((items: Item[]) => {
      if (lock) {
        // PostgreSQL may be shared by several collectors, and a producer's retry may reach another
        // one: each source's chain is checked and extended under a lock on that source, held to
        // the commit, and read afresh (another collector may have moved it). Locks are taken in
        // one order (by name) so two collectors' groups never wait on each other in a cycle.
        this.sources.clear();
        const names = [...new Set(items.flatMap((it) => (it.t === 'batch' ? [it.b.source] : [])))].sort();
        for (const s of names) lock.get(s);
      }
      return items.map((it) => (it.t === 'batch' ? this.storeBatch(it.b) : this.storeRows(it.rows)));
    });
  }

  submitBatch(b: PreparedBatch): Promise<BatchResult> {
    return new Promise((done, fail) => this.enqueue({ t: 'batch', b, done, fail }, b.count));
  }

  submitRows(rows: EventRow[]): Promise<number> {
    return new Promise((done, fail) => this.enqueue({ t: 'rows', rows, done, fail }, rows.length));
  }

  /** Records a refused batch (bad MAC) right away, outside any group. */
  recordRefusal(source: string, seq: number | null, problem: string, detail: string): void {
    this.a.integrity(source, seq, problem, detail, nowUs());
  }

  close(): Promise<void> {
    return this.drain();
  }

  /** Resolves once everything submitted so far is committed. */
  drain(): Promise<void> {
    if (this.queue.length === 0 && !this.scheduled) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  private enqueue(it: Item, n: number): void {
    this.queue.push(it);
    this.queuedEvents += n;
    if (!this.scheduled) {
      this.scheduled = true;
      // setImmediate lets the other requests already read from their sockets join this group.
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    let cut = this.queue.length;
    let n = 0;
    for (let i = 0; i < this.queue.length; i++) {
      const it = this.queue[i];
      n += it.t === 'batch' ? it.b.count : it.rows.length;
      if (n >= MAX_EVENTS_PER_TX) {
        cut = i + 1;
        break;
      }
    }
    const items = this.queue.slice(0, cut);
    this.queue = this.queue.slice(cut);
    this.queuedEvents = Math.max(0, this.queuedEvents - n);
    let results: unknown[];
    this.writing.begin();
    try {
      // IMMEDIATE: take the write lock first (waiting on busy_timeout). A deferred transaction that
      // read first would fail at once with SQLITE_BUSY when the graph worker committed meanwhile.
      results = this.runTx.immediate(items);
    } catch (e) {
      this.writing.end();
      // The transaction rolled back: cached chain state may describe rows that are not there.
      this.sources.clear();
      for (const it of items) it.fail(e as Error);
      this.after();
      return;
    }
    this.writing.end();
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (it.t === 'batch') it.done(results[i] as BatchResult);
      else it.done(results[i] as number);
    }
    this.onCommit(n);
    this.after();
  }

  private after(): void {
    if (this.queue.length > 0) {
      setImmediate(() => this.flush());
      return;
    }
    this.scheduled = false;
    const w = this.idle;
    this.idle = [];
    for (const r of w) r();
  }

  private state(source: string): SourceState {
    let s = this.sources.get(source);
    if (!s) {
      const m = this.a.maxBatchSeq(source);
      s = { maxSeq: m?.seq ?? 0, maxMac: m?.mac ?? GENESIS };
      this.sources.set(source, s);
    }
    return s;
  }

  private storeBatch(b: PreparedBatch): BatchResult {
    const s = this.state(b.source);
    const now = nowUs();
    if (b.seq <= s.maxSeq) {
      const have = this.a.batchMac(b.source, b.seq);
      if (have === b.mac) return { status: 'duplicate' };
      if (have !== undefined) {
        const detail = `seq ${b.seq} already stored with mac ${have.slice(0, 16)}..., this one has ${b.mac.slice(0, 16)}...`;
        this.a.integrity(b.source, b.seq, 'conflict', detail, now);
        return { status: 'conflict', detail };
      }
    }
    // Chain checks against what is stored around this seq.
    if (b.seq === s.maxSeq + 1) {
      const want = b.seq === 1 ? GENESIS : s.maxMac;
      if (b.prev !== want) this.a.integrity(b.source, b.seq, 'break', `prev ${b.prev.slice(0, 16)}... is not the mac of seq ${b.seq - 1}`, now);
    } else if (b.seq > s.maxSeq + 1) {
      const from = s.maxSeq + 1;
      const to = b.seq - 1;
      this.a.integrity(b.source, b.seq, 'gap', from === to ? `missing seq ${from}` : `missing seq ${from}..${to}`, now);
    } else {
      // Fills an earlier gap: check both neighbours when they are stored.
      const before = b.seq === 1 ? GENESIS : this.a.batchMac(b.source, b.seq - 1);
      if (before !== undefined && before !== b.prev) {
        this.a.integrity(b.source, b.seq, 'break', `prev ${b.prev.slice(0, 16)}... is not the mac of seq ${b.seq - 1}`, now);
      }
      const next = this.a.nextBatch(b.source, b.seq);
      if (next && next.seq === b.seq + 1 && next.prev !== b.mac) {
        this.a.integrity(b.source, next.seq, 'break', `prev of seq ${next.seq} is not the mac of late seq ${b.seq}`, now);
      }
    }
    const { stored, first, last } = this.a.eventColumns(b.source, b.seq, b.cols);
    this.a.batch({ source: b.source, seq: b.seq, prev: b.prev, mac: b.mac, count: b.count, receivedUs: now, firstEvent: first, lastEvent: last });
    if (stored < b.count) {
      this.a.integrity(b.source, b.seq, 'duplicate-event', `${b.count - stored} event id(s) already stored by another batch`, now);
    }
    if (b.seq > s.maxSeq) {
      s.maxSeq = b.seq;
      s.maxMac = b.mac;
    }
    return { status: 'stored', stored };
  }

  private storeRows(rows: EventRow[]): number {
    return this.a.events(rows);
  }
}
