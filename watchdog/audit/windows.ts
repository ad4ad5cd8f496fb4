// The invocation windows of one instance, and which of them fit an event's time.
//
// Each invocation is open from its start to its end on the instance. A window may name a pid: in
// http mode the upstream that serves every request (given with the start), in fork modes the
// process forked for it (given later, through setPid; that process is born in the invocation, see
// births.ts). A window fits an event when its time lies in [start - START_SLACK_US, end] and, if
// the window names a pid, the event's process is that pid or descends from it.
//
// Audit stamps events with a coarse clock (up to one scheduler tick behind), so an act done just
// after a request started can carry a time just before its start: a window fitting only within the
// slack is a candidate like any other. Which candidate is right, time cannot say; attribute.ts
// decides how sure the answer is.
import type { ProcessTree } from './tree';
import { judge, type Attribution } from './verdict';

export interface Window {
  invocation: string;
  startUs: number;
  endUs?: number;
  pid?: number;
  /** The pid was given with the start: a process that was there before the request (the http upstream). */
  pidAtStart?: boolean;
}

export interface Candidate {
  window: Window;
  /** False when the window fits only thanks to the start slack. */
  inside: boolean;
}

/** Audit's clock is coarse: one tick (4 ms at HZ=250, 10 ms at HZ=100) behind the real time. */
export const START_SLACK_US = 10000;
/** Ended windows are kept this long for late events (audit lags by well under a second). */
const KEEP_ENDED_US = 60e6;

/**
 * Ended windows are scanned newest first and the scan stops once windows start too early to
 * contain the event (the longest window seen bounds it), so the cost per event stays small at
 * thousands of requests per second; open ones are few (in flight).
 */
export class Windows {
  private readonly byId = new Map<string, Window>();
  private readonly open = new Set<Window>();
  /** Ended windows, by start time. */
  private ended: Window[] = [];
  private longestUs = 0;
  /** How many kept windows name each pid. */
  private readonly pidUses = new Map<number, number>();

  private use(pid: number | undefined, by: number): void {
    if (pid === undefined) return;
    const n = (this.pidUses.get(pid) ?? 0) + by;
    if (n > 0) this.pidUses.set(pid, n);
    else this.pidUses.delete(pid);
  }

  start(w: { invocation: string; tsUs: number; pid?: number }): void {
    const win: Window = { invocation: w.invocation, startUs: w.tsUs, pid: w.pid };
    if (w.pid !== undefined) win.pidAtStart = true;
    this.byId.set(w.invocation, win);
    this.use(w.pid, 1);
    this.open.add(win);
  }

  setPid(invocation: string, pid: number): void {
    const w = this.byId.get(invocation);
    if (!w || w.pid === pid) return;
    this.use(w.pid, -1);
    w.pid = pid;
    this.use(pid, 1);
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

  get(invocation: string): Window | undefined {
    return this.byId.get(invocation);
  }

  /** Whether a window other than `invocation`'s names `pid` (a process serving several requests). */
  sharedPid(pid: number, invocation: string): boolean {
    const mine = this.byId.get(invocation)?.pid === pid ? 1 : 0;
    return (this.pidUses.get(pid) ?? 0) - mine > 0;
  }

  get size(): number {
    return this.open.size + this.ended.length;
  }

  /** Drops windows that ended long before `nowUs`. */
  prune(nowUs: number): void {
    let drop = 0;
    while (drop < this.ended.length && nowUs - this.ended[drop].endUs! > KEEP_ENDED_US) {
      this.byId.delete(this.ended[drop].invocation);
      this.use(this.ended[drop].pid, -1);
      drop++;
    }
    if (drop > 0) this.ended = this.ended.slice(drop);
  }

  /** The verdict by time alone (no births, no claims): what the windows can say about an act. */
  attribute(ev: { ts: number; pid: number }, tree: ProcessTree): Attribution {
    return judge(this.candidates(ev.ts, ev.pid, tree), []);
  }

  /**
   * Every window that fits (time `ts` of process `pid`), best first: windows containing the time
   * before those fitting only within the slack, then the latest start (the order a guess names them in).
   */
  candidates(ts: number, pid: number, tree: ProcessTree): Candidate[] {
    const out: Candidate[] = [];
    const consider = (w: Window) => {
      if (w.endUs !== undefined && ts > w.endUs) return;
      if (ts < w.startUs - START_SLACK_US) return;
      if (w.pid !== undefined && !tree.descends(pid, w.pid)) return;
      out.push({ window: w, inside: ts >= w.startUs });
    };
    for (const w of this.open) consider(w);
    const earliest = ts - this.longestUs - START_SLACK_US;
    for (let i = this.ended.length - 1; i >= 0; i--) {
      const w = this.ended[i];
      if (w.startUs < earliest) break;
      consider(w);
    }
    if (out.length > 1) out.sort((a, b) => (a.inside === b.inside ? b.window.startUs - a.window.startUs : a.inside ? -1 : 1));
    return out;
  }
}
