// Recent claims of the function's instrumentation (events/claims.ts), and which of them match a
// kernel event. A claim only counts when the kernel shows the same act: the same pid, about the
// same time, the same object (a file path, a spawned child's pid, a connect's address and port).
//
// Claims are indexed by pid and object, so a match is a map lookup however many requests are in
// flight. They are kept a few seconds of audit time and capped in number (planted code could
// flood the pipe); what the cap pushes out is counted.
import { posix } from 'node:path';
import type { Claim, FileMode } from '../../events/claims';
import { openWrites } from './emit';
import type { AuditEvent } from './event';
import { CLONE_LIKE } from './syscalls';

/** Async fs work waits in libuv's thread pool: the syscall can come well after (or before) the claim. */
export const CLAIM_TOLERANCE_US = 2e6;
/** Claims older than this (audit time) cannot match anything still to be attributed. */
const KEEP_US = 5e6;
const MAX_CLAIMS = 20000;

/** Syscalls whose paths name the object of a file claim. */
const FILE_OPS = new Set([
  'open', 'openat', 'openat2', 'creat', 'truncate', 'rename', 'renameat', 'renameat2', 'unlink', 'unlinkat',
  'chmod', 'fchmodat', 'fchmodat2', 'link', 'linkat', 'symlink', 'symlinkat',
]);

interface Held {
  claim: Claim;
  key: string;
}

export interface ClaimCounters {
  claimsReceived: number;
  claimsMalformed: number;
  claimsDropped: number;
}

/** ::ffff:1.2.3.4 and 1.2.3.4 are one address to Node and to the kernel's sockaddr alike. */
function normAddr(a: string): string {
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

function claimKey(c: Claim): string | undefined {
  if (c.op === 'file' && c.path) return `f${c.pid}:${posix.normalize(c.path)}`;
  if (c.op === 'spawn' && c.child) return `s${c.pid}:${c.child}`;
  if (c.op === 'connect' && c.addr !== undefined && c.port !== undefined) return `c${c.pid}:${normAddr(c.addr)}:${c.port}`;
  return undefined;
}

/** Whether a file syscall read ('r') or changed ('w') its file; undefined when the kernel record does not say. */
export function fileMode(ev: AuditEvent): FileMode | undefined {
  if (!FILE_OPS.has(ev.syscall)) return undefined;
  if (ev.syscall === 'open' || ev.syscall === 'openat') {
    const w = openWrites(ev);
    return w === undefined ? undefined : w ? 'w' : 'r';
  }
  if (ev.syscall === 'openat2') return ev.paths.some((p) => p.nametype === 'CREATE') ? 'w' : undefined;
  return 'w'; // creat, truncate, rename, unlink, chmod, link, symlink
}

/** The objects an event acted on, as claim keys. */
export function eventKeys(ev: AuditEvent): string[] {
  const keys: string[] = [];
  if (FILE_OPS.has(ev.syscall)) {
    for (const p of ev.paths) {
      if (p.nametype === 'PARENT' || !p.name) continue;
      // A relative name is relative to the cwd (AT_FDCWD; Node always passes it); without a cwd, unknown.
      const abs = p.name.startsWith('/') ? posix.normalize(p.name) : ev.cwd ? posix.resolve(ev.cwd, p.name) : undefined;
      if (abs) keys.push(`f${ev.pid}:${abs}`);
    }
  } else if (CLONE_LIKE.has(ev.syscall)) {
    if (ev.success && ev.exit > 0) keys.push(`s${ev.pid}:${ev.exit}`);
  } else if (ev.syscall === 'connect' && ev.sockaddr?.address !== undefined && ev.sockaddr.port !== undefined) {
    keys.push(`c${ev.pid}:${normAddr(ev.sockaddr.address)}:${ev.sockaddr.port}`);
  }
  return keys;
}

export class ClaimIndex {
  readonly counters: ClaimCounters = { claimsReceived: 0, claimsMalformed: 0, claimsDropped: 0 };
  private readonly byKey = new Map<string, Claim[]>();
  /** Every held claim in arrival order (roughly time order): what expires or is pushed out first. */
  private queue: Held[] = [];
  private head = 0;

  get size(): number {
    return this.queue.length - this.head;
  }

  add(c: Claim): void {
    this.counters.claimsReceived++;
    const key = claimKey(c);
    if (!key) {
      this.counters.claimsMalformed++;
      return;
    }
    let list = this.byKey.get(key);
    if (!list) this.byKey.set(key, (list = []));
    list.push(c);
    this.queue.push({ claim: c, key });
    while (this.size > MAX_CLAIMS) {
      this.shift();
      this.counters.claimsDropped++;
    }
  }

  /** Forgets claims too old to match an event at audit time `nowUs` or later. */
  prune(nowUs: number): void {
    while (this.size > 0 && this.queue[this.head].claim.tsUs < nowUs - KEEP_US) this.shift();
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * The claims that name the same act as `ev`: same pid, same object, within the tolerance, and for
   * a file the same kind of act (a read claim never matches a write, nor the reverse) when both say.
   */
  matching(ev: AuditEvent): Claim[] {
    if (this.size === 0) return [];
    const out: Claim[] = [];
    const mode = fileMode(ev);
    for (const key of eventKeys(ev)) {
      const list = this.byKey.get(key);
      if (!list) continue;
      for (const c of list) {
        if (Math.abs(c.tsUs - ev.ts) > CLAIM_TOLERANCE_US || out.includes(c)) continue;
        if (c.mode !== undefined && mode !== undefined && c.mode !== mode) continue;
        out.push(c);
      }
    }
    return out;
  }

  private shift(): void {
    const { claim, key } = this.queue[this.head];
    this.queue[this.head++] = undefined as unknown as Held;
    const list = this.byKey.get(key);
    if (!list) return;
    const i = list.indexOf(claim);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byKey.delete(key);
  }
}
