// Log keys: one short string per event of an invocation, the alphabet DeepLog models.
//
// A key keeps what is stable across normal runs of a function and drops what varies (pids, ids,
// ports picked by the kernel, temp-file names, timestamps), so normal invocations repeat the same
// keys and an attack's new behaviour shows up as a key never seen, or one seen out of place.
// The full vocabulary is documented in docs/detect.md; keep the two in step.
import { isIP } from 'node:net';
import { posix } from 'node:path';

/** The fields of stored events that keys read; anything else is ignored. */
export interface KeyedEvent {
  kind: string;
  [field: string]: unknown;
}

/**
 * Class of a file path:
 * `/tmp/*` (also /var/tmp, /dev/shm: world-writable scratch, where a planted file lives),
 * `node_modules`, `runtime` (/usr, /lib, /lib64, /bin, /sbin: the image's code), `/etc`, `/proc`,
 * `/sys`, `/dev`, `app` (/home/app, the OpenFaaS function directory), `cwd` (under the process's
 * working directory, i.e. the function's own files when run locally), `anon` (pipe:, socket:,
 * anon_inode:), `relative` (relative, cwd unknown), `other`.
 */
export function pathClass(path: string, cwd?: string): string {
  if (!path) return 'none';
  if (/^(pipe|socket|anon_inode):/.test(path)) return 'anon';
  let p = path;
  if (!p.startsWith('/')) {
    if (!cwd || !cwd.startsWith('/')) return 'relative';
    p = posix.join(cwd, p);
  } else {
    p = posix.normalize(p);
  }
  if (p.includes('/node_modules/') || p.endsWith('/node_modules')) return 'node_modules';
  if (/^\/(tmp|var\/tmp|dev\/shm)(\/|$)/.test(p)) return '/tmp/*';
  if (/^\/(usr|lib|lib32|lib64|bin|sbin)(\/|$)/.test(p)) return 'runtime';
  if (/^\/etc(\/|$)/.test(p)) return '/etc';
  if (/^\/proc(\/|$)/.test(p)) return '/proc';
  if (/^\/sys(\/|$)/.test(p)) return '/sys';
  if (/^\/dev(\/|$)/.test(p)) return '/dev';
  if (/^\/home\/app(\/|$)/.test(p)) return 'app';
  if (cwd && cwd.startsWith('/') && cwd !== '/' && (p === cwd || p.startsWith(cwd.endsWith('/') ? cwd : cwd + '/'))) return 'cwd';
  return 'other';
}

/** `loopback`, `private` (RFC 1918, CGNAT, link-local, ULA), `public`, `any` (0.0.0.0, ::), or `name` (a hostname we do not resolve). */
export function hostClass(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h === 'localhost' || h.endsWith('.localhost')) return 'loopback';
  const v = isIP(h);
  if (v === 0) return 'name';
  if (v === 6) {
    const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    if (m) return hostClass(m[1]);
    if (h === '::1') return 'loopback';
    if (h === '::') return 'any';
    if (/^f[cd]/.test(h) || /^fe[89ab]/.test(h)) return 'private';
    return 'public';
  }
  const [a, b] = h.split('.').map(Number);
  if (a === 127) return 'loopback';
  if (a === 0) return 'any';
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'private';
  if ((a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127)) return 'private';
  return 'public';
}

/** `dns`, `http`, `https` for 53/80/443; else `system` (<1024), `registered` (<49152), `dynamic`; `none` when absent or 0. */
export function portClass(port: unknown): string {
  const n = typeof port === 'string' ? Number(port) : port;
  if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) return 'none';
  if (n === 53) return 'dns';
  if (n === 80) return 'http';
  if (n === 443) return 'https';
  if (n < 1024) return 'system';
  if (n < 49152) return 'registered';
  return 'dynamic';
}

/** Remote endpoint of a socket syscall: `net:<host class>:<port class>`, `unix`, or the family. */
export function sockClass(sa: { family?: unknown; address?: unknown; port?: unknown; path?: unknown }): string {
  const fam = String(sa.family ?? '').toLowerCase().replace(/^(af|pf)_/, '');
  if (fam === 'inet' || fam === 'inet6' || fam === 'ipv4' || fam === 'ipv6') {
    return `net:${typeof sa.address === 'string' ? hostClass(sa.address) : 'none'}:${portClass(sa.port)}`;
  }
  if (fam === 'unix' || fam === 'local' || fam === 'file') return 'unix';
  return fam || 'none';
}

function statusClass(status: unknown): string {
  return typeof status === 'number' && status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'none';
}

function basename(cmd: string): string {
  const first = cmd.trim().split(/\s+/)[0] ?? '';
  return posix.basename(first) || 'none';
}

interface SysPath {
  name?: unknown;
  nametype?: unknown;
}

/** The object a syscall acted on: its remote endpoint, else its main path (not the PARENT entry). */
function syscallObject(e: KeyedEvent): string {
  const sa = e.sockaddr as Record<string, unknown> | undefined;
  if (sa && typeof sa === 'object') return sockClass(sa);
  const cwd = typeof e.cwd === 'string' ? e.cwd : undefined;
  const paths = Array.isArray(e.paths) ? (e.paths as SysPath[]) : [];
  const main = paths.find((p) => p && p.nametype !== 'PARENT' && typeof p.name === 'string') ?? paths.find((p) => p && typeof p.name === 'string');
  const syscall = String(e.syscall ?? '');
  if (/^execve/.test(syscall)) {
    // The program run matters more than where it lives: the image's own binaries are a small,
    // fixed set (kept by name); a program from anywhere else is classed by place only, so an
    // attacker cannot grow the vocabulary with names.
    const exe = typeof e.exe === 'string' && e.exe ? e.exe : typeof main?.name === 'string' ? main.name : '';
    const cls = pathClass(exe, cwd);
    return cls === 'runtime' ? `runtime:${posix.basename(exe)}` : cls;
  }
  if (main) return pathClass(main.name as string, cwd);
  return '-';
}

/**
 * The key of one event, or null for events that are not part of an invocation's behaviour
 * (instance lifecycle, producer counters).
 */
export function keyOf(e: KeyedEvent): string | null {
  switch (e.kind) {
    case 'invocation.start':
      return 'invocation.start';
    case 'invocation.end':
      return `invocation.end:${statusClass(e.status)}`;
    case 'http.out':
      if (typeof e.callee === 'string' && e.callee) return `invoke:${e.callee}`;
      return `http.out:${hostClass(String(e.host ?? ''))}:${portClass(e.port ?? defaultPort(e.url))}`;
    case 'app.module':
      return e.external === true ? `app.module:external:${pathClass(String(e.path ?? ''))}` : 'app.module:image';
    case 'app.file':
      return `app.file:${String(e.op)}:${pathClass(String(e.path ?? ''))}`;
    case 'app.spawn':
      return `app.spawn:${basename(String(e.command ?? ''))}`;
    case 'syscall':
      return `sys:${String(e.syscall)}:${syscallObject(e)}:${e.success === false ? 'fail' : 'ok'}`;
    case 'instance.start':
    case 'instance.stop':
    case 'source.stats':
      return null;
    default:
      // A kind added after this version: still a key, so new behaviour is not invisible.
      return typeof e.kind === 'string' ? `kind:${e.kind}` : null;
  }
}

function defaultPort(url: unknown): number | undefined {
  if (typeof url !== 'string') return undefined;
  try {
    const u = new URL(url);
    if (u.port) return Number(u.port);
    return u.protocol === 'https:' ? 443 : u.protocol === 'http:' ? 80 : undefined;
  } catch {
    return undefined;
  }
}

/** Stable order of an invocation's events: start first, end last, the rest by time then arrival. */
export function kindRank(kind: string): number {
  return kind === 'invocation.start' ? 0 : kind === 'invocation.end' ? 2 : 1;
}

export interface KeySequence {
  invocation: string;
  function: string;
  /** Start time of the invocation (us), for ordering and train/scan cut-offs. */
  ts: number;
  keys: string[];
  /** Id of the event each key came from, for handing an anomaly to the investigation. */
  events: string[];
}

/**
 * Keys of one invocation's events (already ordered). An outgoing call recorded twice (by the
 * egress proxy and by the in-function instrumentation, same span id) counts once, so the race
 * between the two recorders does not change the sequence.
 */
export function keysOf(events: readonly (KeyedEvent & { id: string })[]): { keys: string[]; events: string[] } {
  const keys: string[] = [];
  const ids: string[] = [];
  const spans = new Set<string>();
  for (const e of events) {
    if (e.kind === 'http.out' && typeof e.spanId === 'string') {
      if (spans.has(e.spanId)) continue;
      spans.add(e.spanId);
    }
    const k = keyOf(e);
    if (k === null) continue;
    keys.push(k);
    ids.push(e.id);
  }
  return { keys, events: ids };
}
