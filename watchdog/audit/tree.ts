// Which audited processes belong to the function: the root (the watchdog) and every process
// descending from it, learned from the events themselves. A successful clone/fork/vfork names the
// child's pid in its exit value, and every SYSCALL record carries ppid, so a child whose clone
// event was not seen (or is still being assembled) is adopted from its first event. exit_group
// retires a pid (after a grace period, so late records of the same process still count) so a
// reused pid is not mistaken for ours. Excluded subtrees (the tailer itself and the auditctl it
// runs) are never reported.
//
// Threads are not processes. glibc's pthread_create uses clone3, whose flags sit behind a pointer
// audit does not follow, so a clone3 is judged by /proc when its event is read: the child is a
// thread of the caller when /proc/<pid>/task/<child> exists (libuv's pool threads and V8's workers
// live as long as the process, far longer than audit's delay). A child gone before that look is
// settled later: a process always shows up as `pid=` of a record (at least its exit_group), a
// thread never does (audit reports the thread group's id). Thread creations are dropped, counted.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { AuditEvent } from './event';
import { CLONE_LIKE } from './syscalls';

const CLONE_THREAD = 0x10000;
const RETIRE_AFTER_MS = 10000;

export class ProcessTree {
  /** member pid -> its parent pid (the root maps to 0). */
  readonly parent = new Map<number, number>();
  /** Thread creations dropped as they were read (not counted as syscall events by the reader). */
  threadClones = 0;
  /** clone3s whose child was gone when read and turned out a thread: dropped after being counted as syscall events. */
  lateThreadClones = 0;
  /** Members that were already running when the tailer started (their birth is unknown). */
  private readonly seeded = new Set<number>();
  private readonly excluded = new Set<number>();
  private readonly retiring = new Map<number, number>();
  private readonly includeRoot: boolean;
  private readonly procDir: string;
  /** Told when a retired pid leaves the tree (its birth goes with it). */
  onRetire?: (pid: number) => void;

  constructor(
    readonly rootPid: number,
    opts: { exclude?: number[]; includeRoot?: boolean; procDir?: string } = {},
  ) {
    this.parent.set(rootPid, 0);
    for (const p of opts.exclude ?? []) this.excluded.add(p);
    this.includeRoot = opts.includeRoot === true;
    this.procDir = opts.procDir ?? '/proc';
  }

  has(pid: number): boolean {
    return this.parent.has(pid);
  }

  /** True for the root and for processes found running at start-up: nobody saw them being created. */
  preexisting(pid: number): boolean {
    return pid === this.rootPid || this.seeded.has(pid);
  }

  /** Adds the root's current descendants from /proc (processes started before the tailer). */
  seedFromProc(): void {
    const ppidOf = new Map<number, number>();
    let entries: string[] = [];
    try {
      entries = readdirSync(this.procDir);
    } catch {
      return;
    }
    for (const name of entries) {
      const pid = Number(name);
      if (!(pid > 0)) continue;
      try {
        const stat = readFileSync(`${this.procDir}/${pid}/stat`, 'latin1');
        // pid (comm) state ppid ...: comm may hold spaces and parens, so split after the last ')'.
        const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ppidOf.set(pid, Number(rest[1]));
      } catch {
        /* exited meanwhile */
      }
    }
    let grew = true;
    while (grew) {
      grew = false;
      for (const [pid, ppid] of ppidOf) {
        if (this.parent.has(pid) || this.excluded.has(pid)) continue;
        if (this.excluded.has(ppid)) {
          this.excluded.add(pid);
          grew = true;
        } else if (this.parent.has(ppid)) {
          this.parent.set(pid, ppid);
          this.seeded.add(pid);
          grew = true;
        }
      }
    }
  }

  /**
   * Updates the tree with one event (from its SYSCALL record alone, as it is read) and says
   * whether to report it. Marks process creations on the event (`creates`).
   */
  observe(ev: AuditEvent): boolean {
    const pid = ev.pid;
    if (this.excluded.has(pid)) return false;
    if (this.excluded.has(ev.ppid) && !this.parent.has(pid)) {
      this.excluded.add(pid);
      return false;
    }
    let member = this.parent.has(pid);
    if (!member && this.parent.has(ev.ppid)) {
      this.parent.set(pid, ev.ppid);
      member = true;
    }
    if (!member) return false;
    const evMs = ev.ts / 1000;
    if (CLONE_LIKE.has(ev.syscall) && ev.success && ev.exit > 0) {
      const kind = this.childKind(ev);
      if (kind === 'thread') {
        this.threadClones++;
        return false;
      }
      ev.creates = kind;
      // An unsure child joins the tree only through its own records (a thread never has any).
      if (kind === 'process') {
        this.parent.set(ev.exit, pid);
        this.retiring.delete(ev.exit);
      }
    } else if (ev.syscall === 'exit_group' && pid !== this.rootPid) {
      this.retiring.set(pid, evMs);
    }
    this.retire(evMs);
    return pid !== this.rootPid || this.includeRoot;
  }

  /** Settles an 'unsure' creation when its event is attributed: a process has shown up by then. */
  settle(ev: AuditEvent): boolean {
    if (ev.creates !== 'unsure') return ev.creates === 'process';
    if (this.parent.get(ev.exit) === ev.pid) {
      ev.creates = 'process';
      return true;
    }
    this.lateThreadClones++;
    return false;
  }

  private childKind(ev: AuditEvent): 'process' | 'thread' | 'unsure' {
    if (ev.syscall === 'fork' || ev.syscall === 'vfork') return 'process';
    if (ev.syscall === 'clone') return ev.a0 !== undefined && (parseInt(ev.a0, 16) & CLONE_THREAD) !== 0 ? 'thread' : 'process';
    // clone3: its flags are in a struct in the caller's memory, so ask /proc.
    if (existsSync(`${this.procDir}/${ev.pid}/task/${ev.exit}`)) return 'thread';
    if (this.parent.has(ev.exit) || existsSync(`${this.procDir}/${ev.exit}`)) return 'process';
    return 'unsure';
  }

  /** Excludes a pid and everything it starts (the tailer child). */
  exclude(pid: number): void {
    this.excluded.add(pid);
    this.parent.delete(pid);
  }

  /** True when `ancestor` is pid itself or one of its ancestors in the tree. */
  descends(pid: number, ancestor: number): boolean {
    for (let p = pid, hops = 0; p > 0 && hops < 4096; hops++) {
      if (p === ancestor) return true;
      const up = this.parent.get(p);
      if (up === undefined) return false;
      p = up;
    }
    return false;
  }

  private retire(nowMs: number): void {
    if (this.retiring.size === 0) return;
    for (const [pid, at] of this.retiring) {
      if (nowMs - at < RETIRE_AFTER_MS) continue;
      this.retiring.delete(pid);
      this.parent.delete(pid);
      this.seeded.delete(pid);
      this.onRetire?.(pid);
    }
  }
}
