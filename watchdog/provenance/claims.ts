// The http upstream's claim pipe (events/claims.ts): one JSON line per act its instrumentation saw,
// naming the invocation whose async context did it. The lines go to the audit tailer, which matches
// them with what the kernel saw, and spawn claims are kept here so the egress proxy can place a
// call made by a spawned process when audit is off.
import type { Readable } from 'node:stream';
import { parseClaim, type Claim } from '../../events';

/** A line longer than this is not a claim; it is dropped up to its newline so memory stays bounded. */
const MAX_LINE = 8192;
/** Spawn claims kept for the proxy: enough for every process a busy function keeps alive. */
const MAX_SPAWNS = 4096;

export class ClaimLog {
  received = 0;
  malformed = 0;
  private readonly spawns = new Map<number, Claim>();

  constructor(private readonly sink: (c: Claim) => void) {}

  read(stream: Readable): void {
    let buf = '';
    let skipping = false;
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      let start = 0;
      for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', start)) {
        const piece = chunk.slice(start, nl);
        start = nl + 1;
        if (skipping) {
          skipping = false;
          buf = '';
          continue;
        }
        this.line(buf + piece);
        buf = '';
      }
      if (skipping) return;
      buf += chunk.slice(start);
      if (buf.length > MAX_LINE) {
        this.malformed++;
        buf = '';
        skipping = true;
      }
    });
    // The pipe closes when the upstream exits; nothing to do but stop reading.
    stream.on('error', () => undefined);
  }

  add(c: Claim): void {
    this.received++;
    if (c.op === 'spawn') {
      this.spawns.delete(c.child!);
      this.spawns.set(c.child!, c);
      if (this.spawns.size > MAX_SPAWNS) this.spawns.delete(this.spawns.keys().next().value!);
    }
    this.sink(c);
  }

  /** The claim that named `pid` as a child it spawned, if any. */
  spawnOf(pid: number): Claim | undefined {
    return this.spawns.get(pid);
  }

  private line(text: string): void {
    if (text.length === 0) return;
    const c = parseClaim(text);
    if (c) this.add(c);
    else this.malformed++;
  }
}
