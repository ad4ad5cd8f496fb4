// What in-function instrumentation tells the watchdog about its own acts, so the watchdog and the
// audit tailer can tell concurrent requests apart in http mode (one process serves them all).
//
// fwatchdog gives the http-mode upstream a pipe on fd ALASTOR_CLAIM_FD (3) and reads one JSON
// object per line from it. A line names the invocation whose async context performed the act
// (the template knows it), the acting pid, the time, and what the kernel should see:
//   {"i":"<invocation>","p":<pid>,"t":<us since epoch>,"o":"file","path":"/abs/path","m":"r"|"w"}
//   {"i":"<invocation>","p":<pid>,"t":<us>,"o":"spawn","child":<child pid>}
//   {"i":"<invocation>","p":<pid>,"t":<us>,"o":"connect","addr":"<ip>","port":<port>}
// A file claim's "m" says whether the act reads ("r": a read, a module load) or changes the file
// ("w": a create, write, rename, removal); without it the claim matches either. Two requests that
// touch one file close together (one plants a module, the next loads it) are told apart by it.
// Claims are untrusted (planted code can write them too): a claim only ever raises an
// attribution to `corroborated` when a kernel event with the same pid and object matches it.
export const CLAIM_FD = 3;
export const CLAIM_OPS = ['file', 'spawn', 'connect'] as const;
export type ClaimOp = (typeof CLAIM_OPS)[number];
export type FileMode = 'r' | 'w';

export interface Claim {
  invocation: string;
  pid: number;
  tsUs: number;
  op: ClaimOp;
  path?: string;
  mode?: FileMode;
  child?: number;
  addr?: string;
  port?: number;
}

const MAX_LINE = 8192;

/** One claim line, or undefined when it is not a well-formed claim (counted by the caller, never fatal). */
export function parseClaim(line: string): Claim | undefined {
  if (line.length === 0 || line.length > MAX_LINE) return undefined;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!o || typeof o !== 'object') return undefined;
  const { i, p, t, o: op } = o;
  if (typeof i !== 'string' || i.length === 0 || i.length > 128) return undefined;
  if (!Number.isSafeInteger(p) || (p as number) <= 0 || !Number.isSafeInteger(t) || (t as number) <= 0) return undefined;
  const c: Claim = { invocation: i, pid: p as number, tsUs: t as number, op: op as ClaimOp };
  if (op === 'file') {
    if (typeof o.path !== 'string' || !o.path.startsWith('/')) return undefined;
    c.path = o.path;
    if (o.m === 'r' || o.m === 'w') c.mode = o.m;
    else if (o.m !== undefined) return undefined;
  } else if (op === 'spawn') {
    if (!Number.isSafeInteger(o.child) || (o.child as number) <= 0) return undefined;
    c.child = o.child as number;
  } else if (op === 'connect') {
    if (typeof o.addr !== 'string' || !Number.isSafeInteger(o.port)) return undefined;
    c.addr = o.addr;
    c.port = o.port as number;
  } else return undefined;
  return c;
}
