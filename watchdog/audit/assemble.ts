// Groups records into events by serial. The kernel ends each syscall event with an EOE record,
// but records of concurrent events interleave, some producers never write EOE, and a filtered or
// cut log may lack it: an event without EOE is completed once the log has moved on (audit time
// or serial far past it), once it has waited long enough in wall-clock time (live tailing), or at
// flush (end of an offline file).
import type { AuditRecord } from './parse';

interface Pending {
  serial: number;
  sec: number;
  ms: number;
  recs: AuditRecord[];
  /** Wall-clock ms when its first record arrived (live tailing). */
  seen: number;
  hasSyscall: boolean;
  done: boolean;
}

export interface AssemblerOptions {
  /** Receives each complete event's records, in arrival order. */
  onEvent(recs: AuditRecord[]): void;
  /** Complete an event once a record this much later in audit time arrives (default 2000 ms). */
  ageMs?: number;
  /** ... or once the serial has moved this far past it (default 5000). */
  serialGap?: number;
  /** Bound on events held open at once (default 20000); the oldest completes first. */
  maxPending?: number;
}

export class Assembler {
  /** Wall clock (ms) stamped on new events; the live tailer sets it once per read. */
  now = 0;
  private readonly open = new Map<number, Pending>();
  private queue: Pending[] = [];
  private head = 0;
  private lastMs = 0;
  private lastSerial = 0;
  private readonly ageMs: number;
  private readonly gap: number;
  private readonly max: number;
  private readonly onEvent: (recs: AuditRecord[]) => void;

  constructor(opts: AssemblerOptions) {
    this.onEvent = opts.onEvent;
    this.ageMs = opts.ageMs ?? 2000;
    this.gap = opts.serialGap ?? 5000;
    this.max = opts.maxPending ?? 20000;
  }

  get pending(): number {
    return this.open.size;
  }

  push(rec: AuditRecord): void {
    if (rec.type.startsWith('DAEMON_')) {
      // auditd's own records (DAEMON_ROTATE heads every new file) carry auditd's serial counter,
      // not the kernel's: taken as the log moving on, it completed the event cut by the rotation
      // before its PATH and EOE records (at the start of the new file) were read.
      this.onEvent([rec]);
      return;
    }
    const t = rec.sec * 1000 + rec.ms;
    let p = this.open.get(rec.serial);
    if (p !== undefined && (p.sec !== rec.sec || p.ms !== rec.ms) && Math.abs(p.sec * 1000 + p.ms - t) > 1000) {
      // Same serial, another time: the serial counter restarted; the old event is over.
      this.complete(p);
      p = undefined;
    } else if (p !== undefined && rec.type === 'SYSCALL' && p.hasSyscall) {
      // A second SYSCALL record under one serial: the input repeats itself (a log read twice,
      // concatenated copies). Keep the events apart rather than growing one without bound.
      this.complete(p);
      p = undefined;
    }
    if (rec.type === 'EOE') {
      if (p !== undefined) this.complete(p);
      return;
    }
    if (p === undefined) {
      p = { serial: rec.serial, sec: rec.sec, ms: rec.ms, recs: [rec], seen: this.now, done: false, hasSyscall: rec.type === 'SYSCALL' };
      this.open.set(rec.serial, p);
      this.queue.push(p);
    } else {
      p.recs.push(rec);
      if (rec.type === 'SYSCALL') p.hasSyscall = true;
    }
    if (t > this.lastMs) this.lastMs = t;
    this.lastSerial = rec.serial;
    this.expire();
  }

  /** Completes every event whose first record arrived before wall-clock `before` (ms). */
  flushSeenBefore(before: number): void {
    for (;;) {
      const p = this.oldest();
      if (p === undefined || p.seen >= before) break;
      this.complete(p);
    }
  }

  /** Completes everything still open, oldest first (end of input). */
  flush(): void {
    for (let p = this.oldest(); p !== undefined; p = this.oldest()) this.complete(p);
  }

  private oldest(): Pending | undefined {
    const q = this.queue;
    while (this.head < q.length && q[this.head].done) this.head++;
    if (this.head > 1024 && this.head * 2 > q.length) {
      this.queue = q.slice(this.head);
      this.head = 0;
    }
    return this.head < this.queue.length ? this.queue[this.head] : undefined;
  }

  private expire(): void {
    for (;;) {
      const p = this.oldest();
      if (p === undefined) return;
      const old =
        this.lastMs - (p.sec * 1000 + p.ms) > this.ageMs ||
        Math.abs(this.lastSerial - p.serial) > this.gap ||
        this.open.size > this.max;
      if (!old) return;
      this.complete(p);
    }
  }

  private complete(p: Pending): void {
    if (p.done) return;
    p.done = true;
    if (this.open.get(p.serial) === p) this.open.delete(p.serial);
    this.onEvent(p.recs);
  }
}
