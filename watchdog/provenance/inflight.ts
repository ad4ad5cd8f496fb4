// The invocations of this instance that an outgoing call can belong to: those in flight, and the
// recent ones a late call (background work after the response) or a lineage can still name.
// call-owner.ts decides between them.
//
// Plain arrays rather than a Set and a Map: this runs twice per request, and with the hash tables
// the watchdog promoted ~300 KB of young objects per scavenge under load, against ~40 KB with the
// arrays (--trace-gc-nvp); the tables kept ended invocations reachable for longer than their
// entries did, by a mechanism not pinned down.
import type { Invocation } from './invocation';

/** Ended invocations a late call (background work after the response) can still be matched to. */
const RECENT = 256;

export class Inflight {
  readonly live: Invocation[] = [];
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

  /** Every invocation still known: in flight or among the recent. */
  all(): Invocation[] {
    return this.recent.filter((w): w is Invocation => w !== undefined);
  }

  byId(id: string): Invocation | undefined {
    return this.find((inv) => inv.id === id);
  }

  bySpan(spanId: string): Invocation | undefined {
    return this.find((inv) => inv.spanId === spanId);
  }

  /** The fork-mode invocation whose own process is `pid`. */
  byPid(pid: number): Invocation | undefined {
    return this.find((inv) => inv.forked && inv.pid === pid);
  }

  /** Live ones first: a long request may have left the recent ring. */
  private find(test: (inv: Invocation) => boolean): Invocation | undefined {
    for (const inv of this.live) if (test(inv)) return inv;
    for (const inv of this.recent) if (inv !== undefined && test(inv)) return inv;
    return undefined;
  }
}
