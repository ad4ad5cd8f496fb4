// Log output that never blocks the request path. On Linux, process.stdout/stderr writes to a pipe
// are synchronous, so lines are collected and written together by one asynchronous fs.write at
// most every FLUSH_MS (one write per burst instead of one per request line); past a high-water
// mark the writer falls back to a synchronous write, which is the back-pressure that keeps memory
// bounded when the reader is slower than the producers. Pending lines are written at exit.
import { write, writeSync } from 'node:fs';

const HIGH_WATER = 1 << 20;
const FLUSH_MS = 15;

class LineWriter {
  private pending = '';
  private writing = false;
  private scheduled = false;

  constructor(private readonly fd: number) {}

  push(text: string): void {
    this.pending += text;
    if (this.pending.length > HIGH_WATER) {
      this.flushSync();
      return;
    }
    if (!this.scheduled && !this.writing) {
      this.scheduled = true;
      setTimeout(this.flush, FLUSH_MS).unref();
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.writing || this.pending === '') return;
    const buf = Buffer.from(this.pending);
    this.pending = '';
    this.writing = true;
    this.writeAll(buf, 0);
  };

  private writeAll(buf: Buffer, off: number): void {
    write(this.fd, buf, off, buf.length - off, null, (err, n) => {
      if (!err && off + n < buf.length) return this.writeAll(buf, off + n);
      // EAGAIN on a non-blocking pipe: retry shortly rather than lose the lines.
      if (err && (err as NodeJS.ErrnoException).code === 'EAGAIN') {
        setTimeout(() => this.writeAll(buf, off), 5);
        return;
      }
      this.writing = false;
      if (this.pending !== '') this.flush();
    });
  }

  /** Writes everything pending now (at exit, or past the high-water mark). */
  flushSync(): void {
    if (this.pending === '') return;
    const buf = Buffer.from(this.pending);
    this.pending = '';
    let off = 0;
    while (off < buf.length) {
      try {
        off += writeSync(this.fd, buf, off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      }
    }
  }
}

export const stdoutWriter = new LineWriter(1);
export const stderrWriter = new LineWriter(2);

const pad = (n: number) => (n < 10 ? '0' + n : String(n));
let stampSecond = -1;
let stamp = '';

/** Go's log default prefix, "2006/01/02 15:04:05 ", cached per second. */
export function timestamp(): string {
  const now = Date.now();
  const sec = Math.floor(now / 1000);
  if (sec !== stampSecond) {
    stampSecond = sec;
    const d = new Date(now);
    stamp = `${d.getFullYear()}/${pad(d.getMonth() + 1)}/${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} `;
  }
  return stamp;
}

/** The watchdog's own log line, to stderr as Go's log package does. */
export function log(message: string): void {
  stderrWriter.push(timestamp() + message + '\n');
}

export function flushLogs(): void {
  stdoutWriter.flushSync();
  stderrWriter.flushSync();
}

/** docker/go-units HumanSize: decimal units, 4 significant digits ("12B", "1.5kB"). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${+v.toPrecision(4)}${units[i]}`;
}
