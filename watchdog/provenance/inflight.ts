// Which invocation an outgoing call belongs to. With one invocation in flight (always the case
// with max_inflight=1) it is that one: the watchdog knows it. With several, the function's own
// traceparent decides if it names an invocation span this instance issued (a claim, but the only
// one available); otherwise the call is the instance's, with no invocation.
//
// Plain arrays rather than a Set and a Map: this runs twice per request, and with the hash tables
// the watchdog promoted ~300 KB of young objects per scavenge under load, against ~40 KB with the
// arrays (--trace-gc-nvp); the tables kept ended invocations reachable for longer than their
// entries did, by a mechanism not pinned down.
import type { Invocation } from './invocation';

/** Ended invocations a late call (background work after the response) can still be matched to. */
const RECENT = 256;

export class Inflight {
  private readonly live: Invocation[] = [];
  private readonly recent: Array<Invocation | undefined> = new Array(RECENT).fill(undefined);
  private next = 0;

  add(inv: Invocation): void {
    this.live.push(inv);
    this.recent[this.next] = inv;
    this.next = (this.next + 1) % RECENT;
  }

  remove(inv: Invocation): void {
    const i = this.live.indexOf(inv);
    if (i < 0) return;
    const last = this.live.pop()!;
    if (i < this.live.length) this.live[i] = last;
  }

  get size(): number {
    return this.live.length;
  }

  /** traceparentSpan: the parent span id in the traceparent the function sent, if any. */
  current(traceparentSpan?: string): Invocation | undefined {
    if (this.live.length === 1) return this.live[0];
    if (!traceparentSpan) return undefined;
    for (const inv of this.live) if (inv.spanId === traceparentSpan) return inv;
    for (const inv of this.recent) if (inv !== undefined && inv.spanId === traceparentSpan) return inv;
    return undefined;
  }
}
