// The disk spool: one file per sealed batch, named so a directory listing sorts them by source
// and sequence. Files are written to a temporary name and renamed, so a crash never leaves half a
// batch under a real name. An `<source>.owner` file holds the pid of the process that owns a
// source, so a watchdog that starts later delivers only the spools of processes that are gone.
import { promises as fsp, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const EXT = '.batch';
const SEP = '~';

export interface SpooledFile {
  source: string;
  seq: number;
  file: string;
}

export class Spool {
  bytes = 0;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const f of this.list()) {
      try {
        this.bytes += statSync(f.file).size;
      } catch {
        /* delivered by someone else meanwhile */
      }
    }
  }

  fileFor(source: string, seq: number): string {
    return join(this.dir, `${encodeURIComponent(source)}${SEP}${String(seq).padStart(12, '0')}${EXT}`);
  }

  async write(source: string, seq: number, wire: Uint8Array): Promise<string> {
    const file = this.fileFor(source, seq);
    const tmp = `${file}.${process.pid}.tmp`;
    await fsp.writeFile(tmp, wire, { mode: 0o600 });
    await fsp.rename(tmp, file);
    this.bytes += wire.length;
    return file;
  }

  /** Only at shutdown, when there is no request path left to block. */
  writeSync(source: string, seq: number, wire: Uint8Array): string {
    const file = this.fileFor(source, seq);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, wire, { mode: 0o600 });
    renameSync(tmp, file);
    this.bytes += wire.length;
    return file;
  }

  read(file: string): Promise<Buffer> {
    return fsp.readFile(file);
  }

  async remove(file: string): Promise<void> {
    try {
      const { size } = await fsp.stat(file);
      await fsp.unlink(file);
      this.bytes = Math.max(0, this.bytes - size);
    } catch {
      /* already gone (another process delivered it) */
    }
  }

  /** Every spooled batch, sorted by source then sequence. */
  list(): SpooledFile[] {
    const out: SpooledFile[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith(EXT)) continue;
      const i = name.lastIndexOf(SEP);
      if (i < 0) continue;
      out.push({ source: decodeURIComponent(name.slice(0, i)), seq: Number(name.slice(i + 1, -EXT.length)), file: join(this.dir, name) });
    }
    return out.sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : a.seq - b.seq));
  }

  claim(source: string): void {
    writeFileSync(join(this.dir, `${encodeURIComponent(source)}.owner`), String(process.pid));
  }

  release(source: string): void {
    try {
      unlinkSync(join(this.dir, `${encodeURIComponent(source)}.owner`));
    } catch {
      /* never claimed */
    }
  }

  /** True when another live process owns the source (its spool is not ours to deliver). */
  ownedByOther(source: string): boolean {
    let pid: number;
    try {
      pid = Number(readFileSync(join(this.dir, `${encodeURIComponent(source)}.owner`), 'utf8'));
    } catch {
      return false;
    }
    if (!pid || pid === process.pid) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}
