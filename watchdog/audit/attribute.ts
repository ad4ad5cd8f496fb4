// Which audited processes belong to the function, and which invocation each event belongs to.
//
// The tree: the root (the watchdog) and every process descending from it, learned from the
// events themselves: a successful clone/fork/vfork names the child's pid in its exit value, and
// every SYSCALL record carries ppid, so a child whose clone event was not seen (or is still being
// assembled) is adopted from its first event. exit_group retires a pid (after a grace period, so
// late records of the same process still count) so a reused pid is not mistaken for ours.
// Excluded subtrees (the tailer itself and the auditctl it runs) are never reported.
//
// Windows: each invocation is open from its start to its end on the instance. An event belongs to
// the invocation whose window contains its time and, when the window names a pid (the forked
// process, or the http upstream), whose pid is the event's process or an ancestor of it. Audit
// stamps events with a coarse clock (one scheduler tick behind), so a window's start is widened by
// a few ms, but a window that contains the time exactly is preferred. An event in no window stays
// with the instance, flagged outsideInvocation: that is where a process planted by an earlier
// invocation shows up.
//
// When several windows fit equally well (http mode with requests in flight together: one upstream
// pid serves them all), time cannot tell them apart. The latest-started one is named, as before,
// and the others are listed in alsoIn, so nobody mistakes the choice for evidence. max_inflight=1
// makes every attribution exact.
import { readdirSync, readFileSync } from 'node:fs';
import type { AuditEvent } from './event';
import { CLONE_LIKE } from './syscalls';

const CLONE_THREAD = 0x10000;
const RETIRE_AFTER_MS = 10000;

export class ProcessTree {
  /** member pid -> its parent pid (the root maps to 0). */
  readonly parent = new Map<number, number>();
  private readonly excluded = new Set<number>();
  private readonly retiring = new Map<number, number>();

  constructor(
    readonly rootPid: number,
    opts: { exclude?: number[]; includeRoot?: boolean } = {},
  ) {
    this.parent.set(rootPid, 0);
    for (const p of opts.exclude ?? []) this.excluded.add(p);
    this.includeRoot = opts.includeRoot === true;
  }

  private readonly includeRoot: boolean;

  has(pid: number): boolean {
    return this.parent.has(pid);
  }

  /** Adds the root's current descendants from /proc (processes started before the tailer). */
  seedFromProc(procDir = '/proc'): void {
    const ppidOf = new Map<number, number>();
    let entries: string[] = [];
    try {
      entries = readdirSync(procDir);
    } catch {
      return;
    }
    for (const name of entries) {
      const pid = Number(name);
      if (!(pid > 0)) continue;
      try {
        const stat = readFileSync(`${procDir}/${pid}/stat`, 'latin1');
        // pid (comm) state ppid ...: comm may hold spaces and parens, so split after the last ')'.
        const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ppidOf.set(pid, Number(rest[1]));
      } catch {
        /* exited meanwhile */
      }
    }
    let grew = true;
    while (grew) {
      grew = false;
      for (const [pid, ppid] of ppidOf) {
        if (this.parent.has(pid) || this.excluded.has(pid)) continue;
        if (this.excluded.has(ppid)) {
          this.excluded.add(pid);
          grew = true;
        } else if (this.parent.has(ppid)) {
          this.parent.set(pid, ppid);
          grew = true;
        }
      }
    }
  }

  /**
   * Updates the tree with one event (from its SYSCALL record alone) and says whether to report it.
   * `nowMs` is the event's audit time in ms.
   */
  observe(ev: AuditEvent): boolean {
    const pid = ev.pid;
    if (this.excluded.has(pid)) return false;
    if (this.excluded.has(ev.ppid) && !this.parent.has(pid)) {
      this.excluded.add(pid);
      return false;
    }
    let member = this.parent.has(pid);
    if (!member && this.parent.has(ev.ppid)) {
      this.parent.set(pid, ev.ppid);
      member = true;
    }
    if (!member) return false;
    const evMs = ev.ts / 1000;
    if (CLONE_LIKE.has(ev.syscall) && ev.success && ev.exit > 0) {
      const thread = ev.syscall === 'clone' && ev.a0 !== undefined && (parseInt(ev.a0, 16) & CLONE_THREAD) !== 0;
      if (!thread) {
        this.parent.set(ev.exit, pid);
        this.retiring.delete(ev.exit);
      }
    } else if (ev.syscall === 'exit_group' && pid !== this.rootPid) {
      this.retiring.set(pid, evMs);
    }
    this.retire(evMs);
    return pid !== this.rootPid || this.includeRoot;
  }

  /** Excludes a pid and everything it starts (the tailer child). */
  exclude(pid: number): void {
    this.excluded.add(pid);
    this.parent.delete(pid);
  }

  /** True when `ancestor` is pid itself or one of its ancestors in the tree. */
  descends(pid: number, ancestor: number): boolean {
    for (let p = pid, hops = 0; p > 0 && hops < 4096; hops++) {
      if (p === ancestor) return true;
      const up = this.parent.get(p);
      if (up === undefined) return false;
      p = up;
    }
    return false;
  }

  private retire(nowMs: number): void {
    if (this.retiring.size === 0) return;
    for (const [pid, at] of this.retiring) {
      if (nowMs - at < RETIRE_AFTER_MS) continue;
      this.retiring.delete(pid);
      this.parent.delete(pid);
    }
  }
}

export interface Window {
  invocation: string;
  startUs: number;
  endUs?: number;
  pid?: number;
}

/** Audit's clock is coarse: one tick (4 ms at HZ=250, 10 ms at HZ=100) behind the real time. */
export const START_SLACK_US = 10000;
/** Ended windows are kept this long for late events (audit lags by well under a second). */
const KEEP_ENDED_US = 60e6;

export interface Attribution {
  invocation?: string;
  outsideInvocation: boolean;
  /** Other invocations whose windows fit the event as well as the one named (a guess between them). */
  alsoIn?: string[];
}

/**
 * The invocation windows of one instance. Ended windows are scanned newest first and the scan
 * stops once windows start too early to contain the event (the longest window seen bounds it), so
 * the cost per event stays small at thousands of requests per second; open ones are few (in flight).
 */
export class Windows {
  private readonly byId = new Map<string, Window>();
  private readonly open = new Set<Window>();
  /** Ended windows, by start time. */
  private ended: Window[] = [];
  private longestUs = 0;

  start(w: { invocation: string; tsUs: number; pid?: number }): void {
    const win: Window = { invocation: w.invocation, startUs: w.tsUs, pid: w.pid };
    this.byId.set(w.invocation, win);
    this.open.add(win);
  }

  setPid(invocation: string, pid: number): void {
    const w = this.byId.get(invocation);
    if (w) w.pid = pid;
  }

  end(w: { invocation: string; tsUs: number }): void {
    const win = this.byId.get(w.invocation);
    if (!win || !this.open.delete(win)) return;
    win.endUs = w.tsUs;
    this.longestUs = Math.max(this.longestUs, win.endUs - win.startUs);
    // Keep `ended` sorted by start; windows end roughly in start order, so this is near the end.
    let i = this.ended.length;
    while (i > 0 && this.ended[i - 1].startUs > win.startUs) i--;
    this.ended.splice(i, 0, win);
  }

  get size(): number {
    return this.open.size + this.ended.length;
  }

  /** Drops windows that ended long before `nowUs`. */
  prune(nowUs: number): void {
    let drop = 0;
    while (drop < this.ended.length && nowUs - this.ended[drop].endUs! > KEEP_ENDED_US) {
      this.byId.delete(this.ended[drop].invocation);
      drop++;
    }
    if (drop > 0) this.ended = this.ended.slice(drop);
  }

  attribute(ev: { ts: number; pid: number }, tree: ProcessTree): Attribution {
    // Rank: a window bound to the event's process (or an ancestor) beats one without a pid, exact
    // containment beats containment thanks to the slack, and then the latest start wins.
    let best: Window | undefined;
    let bestScore = -1;
    let ties: Window[] = [];
    const ts = ev.ts;
    const consider = (w: Window) => {
      if (w.endUs !== undefined && ts > w.endUs) return;
      if (ts < w.startUs - START_SLACK_US) return;
      let score = ts >= w.startUs ? 1 : 0;
      if (w.pid !== undefined) {
        if (!tree.descends(ev.pid, w.pid)) return;
        score += 2;
      }
      if (score > bestScore) ties = [];
      if (score >= bestScore) ties.push(w);
      if (score > bestScore || (score === bestScore && w.startUs >= best!.startUs)) {
        best = w;
        bestScore = score;
      }
    };
    for (const w of this.open) consider(w);
    const earliest = ts - this.longestUs - START_SLACK_US;
    for (let i = this.ended.length - 1; i >= 0; i--) {
      const w = this.ended[i];
      if (w.startUs < earliest) break;
      consider(w);
    }
    if (!best) return { outsideInvocation: true };
    const named = (best as Window).invocation;
    if (ties.length < 2) return { invocation: named, outsideInvocation: false };
    return { invocation: named, outsideInvocation: false, alsoIn: ties.filter((w) => w.invocation !== named).map((w) => w.invocation) };
  }
}
