// Read rules for files the function wrote outside the read directories.
//
// Reads are audited only under /tmp, /dev/shm and /var/tmp (rules.ts): everywhere else a Node
// process opens hundreds of immutable files, and each audited open costs ~10x an unaudited one.
// But a request can plant a file anywhere it may write, the function's own folder included
// (/home/app/function/x.js), and a later request can load it. So once a process of the function
// has written, created or renamed-to a file outside those directories, its opens are audited too:
// one `-F path=` rule for exactly that file, under our key (removed with the others).
//
// Rules are added in batches (one auditctl per batch, never on the event's path), so a read in
// the first ~100-200 ms after the write can still be missed. Their number is capped: the kernel
// walks the rule list on every open of every process, so each rule costs the whole machine a
// little; what is over the cap, or cannot go through auditctl's line format, is counted.
import { posix } from 'node:path';
import type { AuditEvent } from './event';
import { openWrites } from './emit';
import { SAFE_PATH } from './rules';

export const MAX_WATCHED_FILES = 512;

/** Where nothing planted can be read back as a file: devices, kernel interfaces. */
const NEVER = ['/dev/', '/proc/', '/sys/'];
const CREATES = new Set(['creat', 'rename', 'renameat', 'renameat2', 'link', 'linkat', 'symlink', 'symlinkat']);
const OPENS = new Set(['open', 'openat', 'openat2']);

export interface WatchCounters {
  /** Files whose opens are audited by a rule of their own. */
  watchedFiles: number;
  /** Writes to files left unwatched because the cap was reached. */
  watchOverCap: number;
  /** Writes to files whose names a rule line cannot carry (spaces, control characters). */
  watchUnsafePath: number;
  /** Rules auditctl refused. */
  watchFailed: number;
}

/** The files an event wrote (absolute paths): new names of creates and renames, write-opens. */
export function writtenPaths(ev: AuditEvent): string[] {
  if (!ev.success) return [];
  const out: string[] = [];
  const add = (name: string) => {
    const abs = name.startsWith('/') ? posix.normalize(name) : ev.cwd ? posix.resolve(ev.cwd, name) : undefined;
    if (abs && !out.includes(abs)) out.push(abs);
  };
  if (OPENS.has(ev.syscall)) {
    const create = ev.paths.find((p) => p.nametype === 'CREATE');
    if (create) add(create.name);
    else if (openWrites(ev)) {
      const p = ev.paths.find((q) => q.nametype !== 'PARENT' && q.name);
      if (p) add(p.name);
    }
  } else if (CREATES.has(ev.syscall) || ev.syscall === 'truncate') {
    for (const p of ev.paths) if (p.nametype === 'CREATE' || (ev.syscall === 'truncate' && p.nametype === 'NORMAL')) add(p.name);
  }
  return out;
}

export class WrittenFileWatches {
  readonly counters: WatchCounters = { watchedFiles: 0, watchOverCap: 0, watchUnsafePath: 0, watchFailed: 0 };
  /** Files given a rule (or queued for one): at most the cap, so this stays bounded too. */
  private readonly seen = new Set<string>();
  private queue: string[] = [];
  private busy = false;

  constructor(
    private readonly o: {
      readDirs: string[];
      /** Installs the rules for these files; resolves to how many failed. */
      install(paths: string[]): Promise<number>;
      log(line: string): void;
      max?: number;
    },
  ) {}

  /** Looks at one of the function's events as it is read. */
  note(ev: AuditEvent): void {
    if (this.o.readDirs.length === 0) return; // reads are off altogether
    for (const path of writtenPaths(ev)) {
      if (this.seen.has(path) || this.covered(path)) continue;
      if (!SAFE_PATH.test(path)) {
        this.counters.watchUnsafePath++;
        continue;
      }
      if (this.seen.size >= (this.o.max ?? MAX_WATCHED_FILES)) {
        this.counters.watchOverCap++;
        continue;
      }
      this.seen.add(path);
      this.queue.push(path);
    }
    if (this.queue.length > 0 && !this.busy) void this.flush();
  }

  private covered(path: string): boolean {
    for (const d of this.o.readDirs) if (path === d || path.startsWith(d.endsWith('/') ? d : `${d}/`)) return true;
    for (const d of NEVER) if (path.startsWith(d)) return true;
    return false;
  }

  /** One batch at a time: what is noted meanwhile goes in the next. */
  private async flush(): Promise<void> {
    this.busy = true;
    try {
      // Let the rest of this read's events join the batch.
      await new Promise((r) => setImmediate(r));
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        let failed = batch.length;
        try {
          failed = await this.o.install(batch);
        } catch (err) {
          this.o.log(`audit: watching written files: ${(err as Error).message}`);
        }
        this.counters.watchFailed += failed;
        this.counters.watchedFiles += batch.length - failed;
      }
    } finally {
      this.busy = false;
    }
  }
}
