// Reads a whole audit log file through an AuditReader (offline parse, ingest, benchmark).
import { closeSync, openSync, readSync } from 'node:fs';
import { AuditReader, type ReaderOptions, type ReaderStats } from './reader';

// 64 KiB: measured fastest (the decoded string stays in V8's young generation; 1 MiB chunks cost
// ~40% more CPU here).
const CHUNK = 1 << 16;

export function readAuditFile(file: string, opts: ReaderOptions): ReaderStats {
  const reader = new AuditReader({ ...opts, ageMs: opts.ageMs, serialGap: opts.serialGap });
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n <= 0) break;
      // push() decodes the bytes to a string right away, so the buffer can be reused.
      reader.push(n === CHUNK ? buf : buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  reader.end();
  return reader.stats;
}
