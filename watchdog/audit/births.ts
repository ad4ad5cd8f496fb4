// The invocation each process of the function was born in. A process keeps its birth after that
// invocation ended and another one is in flight: that is how a background process planted by one
// request shows up as that request's, not as whichever request happens to be in flight when it acts.
//
//  - the process forked for a fork-mode invocation is born in it (exact, basis fork);
//  - a process created by a parent that has a birth inherits it (basis lineage, same level and
//    candidates);
//  - a process created by an unborn member (the http upstream, which serves every request) is born
//    in the invocation its creation is attributed to (attribute.ts), with that level;
//  - created outside every invocation: a birth without an invocation, and its acts are judged by
//    their own time, like the upstream's (the upstream itself is born so, at the instance's start).
// Births of exited processes are retired with their pid (ProcessTree.onRetire).
import type { Basis, Level } from '../../events/attribution';

export interface Birth {
  pid: number;
  /** Undefined: born outside every invocation. */
  invocation?: string;
  attribution: Level;
  basis: Basis;
  alsoIn?: string[];
  /** When the creation happened (audit time, us). */
  tsUs: number;
}

export class Births {
  private readonly byPid = new Map<number, Birth>();

  get(pid: number): Birth | undefined {
    return this.byPid.get(pid);
  }

  get size(): number {
    return this.byPid.size;
  }

  /** The forked process of a fork-mode invocation: the strongest birth there is, set whenever learned. */
  forked(pid: number, invocation: string, tsUs: number): Birth {
    const b: Birth = { pid, invocation, attribution: 'exact', basis: 'fork', tsUs };
    this.byPid.set(pid, b);
    return b;
  }

  /**
   * A creation seen in the log (or inferred from a new pid's first event). The first decision
   * stands: a fork birth is never overwritten, and a pid reused after retirement starts afresh.
   */
  created(b: Birth): Birth | undefined {
    if (this.byPid.has(b.pid)) return undefined;
    this.byPid.set(b.pid, b);
    return b;
  }

  retire(pid: number): void {
    this.byPid.delete(pid);
  }
}
