// How sure an attribution of an act (a syscall, an outgoing call, a process, a file version) to an
// invocation is. The level travels on the wire with the act, so `events`, `trace`, `graph` and the
// HTML page all read the same verdict instead of each re-deriving it.
//
//   exact         the watchdog or the kernel shows it: the forked process of a fork-mode
//                 invocation, process lineage (a process born in an invocation keeps it), the only
//                 invocation in flight, the proxy's own view of who connected.
//   corroborated  the function's own instrumentation claimed it (its async context) and the
//                 kernel agrees: same pid, same path, address or child pid, same moment.
//   claimed       only the function says so. Code planted in the function can lie.
//   guess         time alone: several invocations fit; every candidate is listed in alsoIn.
//
// A wrong invocation may appear at the guess level (with the right one among its candidates),
// never above it: that is the invariant bench:attribution and the tests check.
export const LEVELS = ['exact', 'corroborated', 'claimed', 'guess'] as const;
export type Level = (typeof LEVELS)[number];

/** What the level rests on. */
export const BASES = ['fork', 'lineage', 'window', 'claim', 'trace', 'time'] as const;
export type Basis = (typeof BASES)[number];

/** The weaker of two levels (a path is as strong as its weakest step). */
export function weaker(a: Level, b: Level): Level {
  return LEVELS.indexOf(a) >= LEVELS.indexOf(b) ? a : b;
}

export interface Attributed {
  invocation?: string;
  attribution?: Level;
  basis?: Basis;
  alsoIn?: string[];
  /** A claim that the kernel or the watchdog contradicts: what was claimed, and why it was not taken. */
  contradiction?: string;
}
