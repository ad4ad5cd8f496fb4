// Which invocation an outgoing call belongs to. With one invocation in flight (always the case
// with max_inflight=1) it is that one: the watchdog knows it. With several, the function's own
// traceparent decides if it names an invocation span this instance issued (a claim, but the only
// one available); otherwise the call is the instance's, with no invocation.
import type { Invocation } from './invocation';

const RECENT = 256;

export class Inflight {
  private readonly live = new Set<Invocation>();
  private readonly bySpan = new Map<string, Invocation>();

  add(inv: Invocation): void {
    this.live.add(inv);
    this.bySpan.set(inv.spanId, inv);
    if (this.bySpan.size > RECENT + this.live.size) {
      // Forget the oldest ended invocations (Map iterates in insertion order).
      for (const [span, i] of this.bySpan) {
        if (this.bySpan.size <= RECENT + this.live.size) break;
        if (!this.live.has(i)) this.bySpan.delete(span);
      }
    }
  }

  remove(inv: Invocation): void {
    this.live.delete(inv);
  }

  get size(): number {
    return this.live.size;
  }

  /** traceparentSpan: the parent span id in the traceparent the function sent, if any. */
  current(traceparentSpan?: string): Invocation | undefined {
    if (this.live.size === 1) return this.live.values().next().value;
    if (traceparentSpan) return this.bySpan.get(traceparentSpan);
    return undefined;
  }
}
