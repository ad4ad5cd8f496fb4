// Ships events to the collector in chained batches, off the request path. push() only serialises
// and appends the bytes; sealing (MAC) and sending happen when a batch is full or on a timer.
// Memory is bounded: sealed batches wait in memory up to maxMemoryBytes, beyond that (or as soon
// as the collector fails) they go to the disk spool; if even the spool is full a sealed batch is
// dropped, which the collector sees as a gap in the chain (never a silent loss). Batches are
// delivered strictly in sequence order, one at a time, with exponential backoff and jitter between
// failed attempts. Spools left by earlier processes (their source is not ours, their owner is
// gone) are delivered too, unchanged.
import { Agent, request } from 'undici';
import { API, GENESIS } from '../../events';
import { BatchBuffer } from './batch';
import { Spool } from './spool';

export interface ShipperOptions {
  collectorUrl: string;
  /** HMAC key; '' still chains (order, completeness) but authenticates nothing. */
  token: string;
  source: string;
  spoolDir: string;
  log: (line: string) => void;
  batchMaxEvents?: number;
  /** Bytes of event JSON per batch. */
  batchMaxBytes?: number;
  flushMs?: number;
  maxMemoryBytes?: number;
  maxSpoolBytes?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

interface Entry {
  seq: number;
  events: number;
  bytes: number;
  /** In memory until it is on disk (or delivered). */
  wire: Buffer | null;
  file: string | null;
  writing: boolean;
  delivered: boolean;
}

export interface ShipperStats {
  pushed: number;
  delivered: number;
  spooledBatches: number;
  droppedBatches: number;
  droppedEvents: number;
  memoryBytes: number;
  queuedBatches: number;
  spoolBytes: number;
  failures: number;
}

export class Shipper {
  private readonly batch: BatchBuffer;
  private seq = 0;
  private prev = GENESIS;
  private entries: Entry[] = [];
  private memBytes = 0;
  private sealTimer: NodeJS.Timeout | undefined;
  private sending = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private down = false;
  private closed = false;
  private sweeping = false;
  private readonly spool: Spool;
  private readonly agent: Agent;
  private readonly url: string;
  private readonly o: Required<ShipperOptions>;
  private lastLogged = '';
  private readonly idleWaiters: Array<() => void> = [];
  readonly stats: ShipperStats = {
    pushed: 0, delivered: 0, spooledBatches: 0, droppedBatches: 0, droppedEvents: 0,
    memoryBytes: 0, queuedBatches: 0, spoolBytes: 0, failures: 0,
  };

  constructor(opts: ShipperOptions) {
    this.o = {
      batchMaxEvents: 1000,
      // ~250 invocation events. Larger batches save the watchdog a little (256 KiB took
      // provenance-on from 0.67 to 0.73 of off) but cost the collector more: its ingest per CPU
      // second fell from ~75k to ~55k events at 650 events per batch. The collector is shared by
      // every watchdog, so it gets the size it handles best.
      batchMaxBytes: 96 * 1024,
      flushMs: 50,
      maxMemoryBytes: 8 * 1024 * 1024,
      maxSpoolBytes: 512 * 1024 * 1024,
      backoffBaseMs: 100,
      backoffMaxMs: 5000,
      ...opts,
    };
    this.url = new URL(API.batches, opts.collectorUrl).toString();
    this.agent = new Agent({ connections: 2, headersTimeout: 15_000, bodyTimeout: 15_000, keepAliveTimeout: 10_000 });
    this.batch = new BatchBuffer(this.o.batchMaxBytes + 32 * 1024);
    this.spool = new Spool(opts.spoolDir);
    this.spool.claim(opts.source);
    // Spools of earlier processes go first: they are older.
    setImmediate(() => void this.sweep());
  }

  /** Serialises the event now (so later mutation cannot change what is shipped) and queues it. */
  push(ev: object): void {
    this.pushText(JSON.stringify(ev));
  }

  pushText(text: string): void {
    if (this.closed) return;
    this.stats.pushed++;
    if (!this.batch.add(text)) {
      this.seal();
      this.batch.add(text);
    }
    if (this.batch.count >= this.o.batchMaxEvents || this.batch.bytes >= this.o.batchMaxBytes) this.seal();
    else if (!this.sealTimer) {
      this.sealTimer = setTimeout(() => this.seal(), this.o.flushMs);
      this.sealTimer.unref();
    }
  }

  private seal(): void {
    if (this.sealTimer) {
      clearTimeout(this.sealTimer);
      this.sealTimer = undefined;
    }
    if (this.batch.count === 0) return;
    const b = this.batch.seal(this.o.token, this.o.source, ++this.seq, this.prev);
    this.prev = b.mac;
    const e: Entry = { seq: b.seq, events: b.events, bytes: b.wire.length, wire: b.wire, file: null, writing: false, delivered: false };
    this.entries.push(e);
    this.memBytes += e.bytes;
    if (this.down || this.memBytes > this.o.maxMemoryBytes) this.spill(e);
    this.pump();
  }

  /** Moves a sealed batch to disk; its memory is released once the write completes. */
  private spill(e: Entry): void {
    if (e.writing || e.file || e.delivered || e.wire === null) return;
    if (this.spool.bytes + e.bytes > this.o.maxSpoolBytes || this.memBytes > 4 * this.o.maxMemoryBytes) {
      this.drop(e, 'spool full');
      return;
    }
    e.writing = true;
    this.spool.write(this.o.source, e.seq, e.wire).then(
      (file) => {
        e.writing = false;
        e.file = file;
        this.stats.spooledBatches++;
        if (e.delivered) void this.spool.remove(file);
        else this.release(e);
      },
      (err: Error) => {
        e.writing = false;
        this.logOnce(`ship: spool write failed (${err.message}); batch ${e.seq} stays in memory`);
      },
    );
  }

  private release(e: Entry): void {
    if (e.wire !== null) {
      this.memBytes -= e.bytes;
      e.wire = null;
    }
  }

  private drop(e: Entry, why: string): void {
    const i = this.entries.indexOf(e);
    if (i >= 0) this.entries.splice(i, 1);
    this.release(e);
    this.stats.droppedBatches++;
    this.stats.droppedEvents += e.events;
    this.logOnce(`ship: ${why}: dropped batch ${e.seq} (${e.events} events); the collector will record the gap`);
  }

  private logOnce(line: string): void {
    if (line !== this.lastLogged) this.o.log(line);
    this.lastLogged = line;
  }

  private backoff(): number {
    const ceiling = Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** Math.min(this.attempt, 16));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  private async post(wire: Buffer): Promise<number> {
    const res = await request(this.url, {
      method: 'POST',
      body: wire,
      headers: { 'content-type': 'application/json' },
      dispatcher: this.agent,
    });
    const text = await res.body.text();
    if (res.statusCode >= 400 && res.statusCode !== 401 && res.statusCode < 500) {
      this.o.log(`ship: collector refused a batch (${res.statusCode}): ${text.slice(0, 200)}`);
    }
    return res.statusCode;
  }

  private failed(why: string): void {
    this.stats.failures++;
    this.attempt++;
    if (!this.down) {
      this.down = true;
      this.logOnce(`ship: collector unavailable (${why}); spooling to ${this.spool.dir}`);
      for (const e of this.entries) this.spill(e);
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.pump();
      void this.sweep();
    }, this.backoff());
    this.retryTimer.unref();
  }

  private ok(): void {
    if (this.down) this.o.log(`ship: collector reachable again; delivering the spool`);
    this.down = false;
    this.attempt = 0;
    this.lastLogged = '';
  }

  private pump(): void {
    if (this.sending || this.retryTimer) return;
    const e = this.entries[0];
    if (!e) {
      this.notifyIdle();
      return;
    }
    this.sending = true;
    void (async () => {
      let status = 0;
      let why = '';
      try {
        const wire = e.wire ?? (await this.spool.read(e.file!));
        status = await this.post(wire);
      } catch (err) {
        why = (err as Error).message;
      }
      this.sending = false;
      if (status === 200 || (status >= 400 && status < 500 && status !== 401 && status !== 408 && status !== 429)) {
        // 200: stored (or already stored). Other 4xx: this batch will never be accepted; keeping
        // it would block every later one. The collector records the resulting gap.
        if (status !== 200) {
          this.stats.droppedBatches++;
          this.stats.droppedEvents += e.events;
        } else this.stats.delivered += e.events;
        this.entries.shift();
        e.delivered = true;
        this.release(e);
        if (e.file) void this.spool.remove(e.file);
        this.ok();
        this.pump();
        return;
      }
      this.failed(why || `HTTP ${status}`);
    })();
  }

  /** Delivers batches spooled by earlier processes whose sources are not ours, oldest first. */
  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      for (const f of this.spool.list()) {
        if (f.source === this.o.source || this.spool.ownedByOther(f.source)) continue;
        let wire: Buffer;
        try {
          wire = await this.spool.read(f.file);
        } catch {
          continue; // delivered by another process meanwhile
        }
        let status = 0;
        try {
          status = await this.post(wire);
        } catch {
          return; // collector down: the next retry sweeps again
        }
        if (status === 401 || status === 408 || status === 429 || status >= 500) return;
        await this.spool.remove(f.file);
        if (this.closed) return;
      }
      // Owner files of delivered, dead sources.
    } finally {
      this.sweeping = false;
    }
  }

  private notifyIdle(): void {
    const w = this.idleWaiters.splice(0);
    for (const r of w) r();
  }

  snapshot(): ShipperStats {
    this.stats.memoryBytes = this.memBytes + this.batch.bytes;
    this.stats.queuedBatches = this.entries.length;
    this.stats.spoolBytes = this.spool.bytes;
    return { ...this.stats };
  }

  /**
   * Seals what is buffered and tries to deliver everything within timeoutMs; what is left is
   * written to the spool for the next process to deliver.
   */
  async close(timeoutMs = 3000): Promise<void> {
    this.seal();
    this.closed = true;
    const deadline = Date.now() + timeoutMs;
    while (this.entries.length > 0 && Date.now() < deadline && !this.down) {
      await new Promise<void>((r) => {
        this.idleWaiters.push(r);
        setTimeout(r, 50).unref();
      });
    }
    if (this.retryTimer) clearTimeout(this.retryTimer);
    // Wait for async spool writes in progress, then write the rest synchronously.
    const t0 = Date.now();
    while (this.entries.some((e) => e.writing) && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 10));
    for (const e of this.entries) {
      if (e.file || e.delivered || e.wire === null) continue;
      try {
        e.file = this.spool.writeSync(this.o.source, e.seq, e.wire);
        this.stats.spooledBatches++;
      } catch (err) {
        this.o.log(`ship: could not spool batch ${e.seq} at shutdown: ${(err as Error).message}`);
      }
    }
    if (this.entries.length > 0) this.o.log(`ship: ${this.entries.length} batch(es) left in ${this.spool.dir} for the next start`);
    this.spool.release(this.o.source);
    await this.agent.close().catch(() => undefined);
  }
}
