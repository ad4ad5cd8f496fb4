// Node-level mode (`alastor audit agent`): in a cluster, audit is one per kernel and PIDs inside
// containers are not the host's, so one agent per node follows the host's audit log and maps each
// host pid to its container through /proc/PID/cgroup. From the process's environment it also reads
// what fwatchdog gave the function (ALASTOR_INSTANCE, ALASTOR_FUNCTION, and in fork modes
// ALASTOR_INVOCATION), so the collector can join these events with the watchdog's own.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { SyscallEvent } from '../../events/schema';
import { toSyscallEvent } from './emit';
import type { AuditEvent } from './event';
import { LiveAudit } from './live';
import { makeKey } from './rules';
import { CLONE_LIKE } from './syscalls';

export interface ProcInfo {
  containerId?: string;
  instance?: string;
  function?: string;
  invocation?: string;
}

const HEX64 = /([0-9a-f]{64})/g;

/**
 * The container id in a /proc/PID/cgroup text: the last 64-hex-digit path component, the way
 * Docker (docker-ID.scope, /docker/ID), containerd (cri-containerd-ID.scope), CRI-O (crio-ID.scope),
 * Podman (libpod-ID.scope) and kubepods (/kubepods/.../podUID/ID) all name it. undefined: a host process.
 */
export function containerIdFromCgroup(text: string): string | undefined {
  let found: string | undefined;
  for (const line of text.split('\n')) {
    const path = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
    for (const m of path.matchAll(HEX64)) found = m[1];
    if (found) return found;
  }
  return undefined;
}

function envOf(text: string, names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of text.split('\0')) {
    const eq = kv.indexOf('=');
    if (eq > 0 && names.includes(kv.slice(0, eq))) out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

/** pid -> container and function identity, read once per process and inherited over clone. */
export class ProcMap {
  private readonly cache = new Map<number, ProcInfo>();
  constructor(private readonly procDir = '/proc') {}

  lookup(pid: number, ppid: number): ProcInfo {
    let info = this.cache.get(pid);
    if (info) return info;
    info = this.read(pid) ?? this.cache.get(ppid) ?? this.read(ppid) ?? {};
    if (this.cache.size > 100000) this.cache.clear();
    this.cache.set(pid, info);
    return info;
  }

  /** A clone's child starts in its parent's container (its environment is re-read at execve). */
  inherit(child: number, parent: number): void {
    const p = this.cache.get(parent);
    if (p) this.cache.set(child, p);
  }

  /**
   * After an execve: read the process again (its environment is the new program's), but if it has
   * exited by the time the agent gets to the event (a loaded machine delays audit by seconds), keep
   * what the tree knew: exec does not move a process to another cgroup, and dropping the entry
   * would hand the event to the parent's (often a host process's) identity and lose it.
   */
  refresh(pid: number): void {
    const info = this.read(pid);
    if (info) this.cache.set(pid, info);
  }

  private read(pid: number): ProcInfo | undefined {
    if (!(pid > 0)) return undefined;
    let cg: string;
    try {
      cg = readFileSync(`${this.procDir}/${pid}/cgroup`, 'latin1');
    } catch {
      return undefined; // exited before we looked
    }
    const info: ProcInfo = {};
    const id = containerIdFromCgroup(cg);
    if (id) info.containerId = id;
    try {
      const env = envOf(readFileSync(`${this.procDir}/${pid}/environ`, 'utf8'), ['ALASTOR_INSTANCE', 'ALASTOR_FUNCTION', 'ALASTOR_INVOCATION']);
      if (env.ALASTOR_INSTANCE) info.instance = env.ALASTOR_INSTANCE;
      if (env.ALASTOR_FUNCTION) info.function = env.ALASTOR_FUNCTION;
      if (env.ALASTOR_INVOCATION) info.invocation = env.ALASTOR_INVOCATION;
    } catch {
      /* environ unreadable: keep the container id */
    }
    return info;
  }
}

export interface AgentOptions {
  emit(ev: SyscallEvent): void;
  log(line: string): void;
  /** Host processes too, not only containers' (default false). */
  all?: boolean;
  logPath?: string;
  readDirs?: string[];
  procDir?: string;
}

export interface AuditAgent {
  readonly key: string;
  counters(): Record<string, number>;
  stop(): Promise<void>;
}

export async function startAuditAgent(o: AgentOptions): Promise<AuditAgent> {
  const procs = new ProcMap(o.procDir);
  const host = hostname();
  const self = new Set<number>([process.pid]);
  const infoOf = new Map<AuditEvent, ProcInfo>();
  let kept = 0;
  const key = makeKey();

  const live = new LiveAudit({
    key,
    logPath: o.logPath,
    readDirs: o.readDirs,
    log: o.log,
    keep(ev) {
      // Our own subtree (auditctl) would otherwise report itself.
      if (self.has(ev.pid) || self.has(ev.ppid)) {
        self.add(ev.pid);
        return false;
      }
      if ((ev.syscall === 'execve' || ev.syscall === 'execveat') && ev.success) procs.refresh(ev.pid);
      const info = procs.lookup(ev.pid, ev.ppid);
      if (CLONE_LIKE.has(ev.syscall) && ev.success && ev.exit > 0) procs.inherit(ev.exit, ev.pid);
      if (!o.all && info.containerId === undefined) return false;
      infoOf.set(ev, info);
      return true;
    },
    onEvent(ev) {
      const info = infoOf.get(ev) ?? {};
      infoOf.delete(ev);
      kept++;
      const instance = info.instance ?? (info.containerId ? `container-${info.containerId.slice(0, 12)}` : `host-${host}`);
      o.emit(toSyscallEvent(ev, { instance, function: info.function ?? 'unknown' }, { containerId: info.containerId, invocation: info.invocation }));
    },
  });
  await live.start();
  const timer = setInterval(() => {
    try {
      live.tick();
    } catch (err) {
      o.log(`audit agent: ${(err as Error).message}`);
    }
  }, 100);
  o.log(`audit agent: following ${live.logPath} (rules key ${key}), ${o.all ? 'all processes' : 'container processes only'}`);
  return {
    key,
    counters: () => ({ ...live.counters(), kept }),
    async stop() {
      clearInterval(timer);
      await live.stop();
    },
  };
}
