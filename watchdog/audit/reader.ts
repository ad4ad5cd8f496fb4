// Bytes of an audit log -> assembled, decoded syscall events, with counters for everything that
// was skipped. Used by the live tailer (chunks as the log grows), the offline `alastor audit parse`
// and the benchmark. Nothing in the input is fatal: bad lines are counted and skipped.
import { Assembler } from './assemble';
import { buildEvent, type AuditEvent, type EarlyFilter } from './event';
import { parseRecord, type AuditRecord } from './parse';

/** Longest line accepted; audit records are at most ~9 KB (MAX_AUDIT_MESSAGE_LENGTH) plus ENRICHED text. */
export const MAX_LINE = 256 * 1024;

export interface ReaderStats {
  bytes: number;
  lines: number;
  records: number;
  /** Lines that are not audit records: garbage, binary noise, a header cut short. */
  garbageLines: number;
  /** Lines longer than MAX_LINE, dropped. */
  oversizeLines: number;
  /** Assembled events (any kind). */
  events: number;
  /** Syscall events decoded and delivered. */
  syscallEvents: number;
  /** Events without a SYSCALL record (logins, daemon records, config changes from user space). */
  otherEvents: number;
  /** Events whose SYSCALL record lacked pid or syscall (a truncated line). */
  incompleteEvents: number;
  /** Syscall events the filter refused (outside the process tree). */
  filteredEvents: number;
}

export interface ReaderOptions {
  onEvent(ev: AuditEvent): void;
  /** Looks at the SYSCALL record first; refused events are not decoded further. */
  keep?: EarlyFilter;
  ageMs?: number;
  serialGap?: number;
}

export function emptyStats(): ReaderStats {
  return {
    bytes: 0, lines: 0, records: 0, garbageLines: 0, oversizeLines: 0, events: 0,
    syscallEvents: 0, otherEvents: 0, incompleteEvents: 0, filteredEvents: 0,
  };
}

export class AuditReader {
  readonly stats: ReaderStats = emptyStats();
  readonly assembler: Assembler;
  private carry = '';
  private skipping = false;
  /**
   * Set when a file ended (rotation, truncation) and cleared by the next bytes: the writer is
   * between files, and an event cut there has its remaining records at the start of the next one.
   */
  private betweenFiles = false;
  private readonly onEvent: (ev: AuditEvent) => void;
  private readonly keep?: EarlyFilter;

  constructor(opts: ReaderOptions) {
    this.onEvent = opts.onEvent;
    this.keep = opts.keep;
    this.assembler = new Assembler({
      onEvent: (recs) => this.assembled(recs),
      ageMs: opts.ageMs,
      serialGap: opts.serialGap,
    });
  }

  /**
   * Feeds raw bytes; complete lines are parsed now, a trailing partial line waits for more.
   * Live tailing passes the wall clock of the read: events it opens wait `idleMs` from then, not
   * from the last tick (a stale stamp completed events before their remaining records were read).
   */
  push(chunk: Buffer, nowMs?: number): void {
    if (nowMs !== undefined) this.assembler.now = nowMs;
    if (chunk.length > 0) this.betweenFiles = false;
    this.stats.bytes += chunk.length;
    // latin1 maps bytes 1:1, so a chunk boundary never splits a character and binary noise
    // cannot throw; audit writes its values as ASCII or hex anyway.
    const text = chunk.toString('latin1');
    let start = 0;
    if (this.carry.length > 0 || this.skipping) {
      // Finish the line left over from the last chunk without gluing whole chunks together.
      const nl = text.indexOf('\n');
      if (nl < 0) {
        if (!this.skipping) this.holdPartial(this.carry + text);
        return;
      }
      if (this.skipping) this.skipping = false;
      else {
        const line = this.carry + text.slice(0, nl);
        this.carry = '';
        this.line(line, 0, line.length);
      }
      start = nl + 1;
    }
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      this.line(text, start, nl);
      start = nl + 1;
    }
    if (start < text.length) this.holdPartial(start === 0 ? text : text.slice(start));
  }

  /** Holds an unterminated line for the next chunk, unless it is already too long to be a record. */
  private holdPartial(rest: string): void {
    if (rest.length > MAX_LINE) {
      this.stats.oversizeLines++;
      this.stats.lines++;
      this.carry = '';
      this.skipping = true;
      return;
    }
    this.carry = rest;
  }

  /** End of input: the last unterminated line counts, then every open event completes. */
  end(): void {
    if (this.carry.length > 0 && !this.skipping) this.line(this.carry, 0, this.carry.length);
    this.carry = '';
    this.skipping = false;
    this.assembler.flush();
  }

  /** One file ended (log rotated or truncated): its unterminated last line is a line of its own. */
  fileEnd(): void {
    if (this.carry.length > 0 && !this.skipping) this.line(this.carry, 0, this.carry.length);
    this.carry = '';
    this.skipping = false;
    this.betweenFiles = true;
  }

  /**
   * Live tailing: completes events that have waited `idleMs` without their EOE. Not while the
   * writer is between files: auditd rotates between two records of one event (SYSCALL in the old
   * file, PATH and EOE in the new) and its fsync/rename/create can take seconds on a loaded disk;
   * completing then would emit the event without its paths and count the rest as another event.
   * `writerRotating`: the tail saw the log path absent (renamed, new file not created yet).
   */
  tick(nowMs: number, idleMs: number, writerRotating = false): void {
    this.assembler.now = nowMs;
    if (this.betweenFiles || writerRotating) return;
    this.assembler.flushSeenBefore(nowMs - idleMs);
  }

  private line(data: string, s: number, e: number): void {
    this.stats.lines++;
    if (e > s && data.charCodeAt(e - 1) === 13) e--;
    if (e === s) return;
    if (e - s > MAX_LINE) {
      this.stats.oversizeLines++;
      return;
    }
    const rec = parseRecord(s === 0 && e === data.length ? data : data.slice(s, e));
    if (rec === null) {
      this.stats.garbageLines++;
      return;
    }
    this.stats.records++;
    this.assembler.push(rec);
  }

  private assembled(recs: AuditRecord[]): void {
    this.stats.events++;
    let hasSyscall = false;
    for (let i = 0; i < recs.length; i++) if (recs[i].type === 'SYSCALL') hasSyscall = true;
    if (!hasSyscall) {
      this.stats.otherEvents++;
      return;
    }
    const ev = buildEvent(recs, this.keep);
    if (ev === null) this.stats.incompleteEvents++;
    else if (ev === undefined) this.stats.filteredEvents++;
    else {
      this.stats.syscallEvents++;
      this.onEvent(ev);
    }
  }
}
