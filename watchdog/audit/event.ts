// The records of one assembled event (same serial) -> one decoded syscall event.
import { ArgvCollector, decodeProctitle, decodeSockaddr, type SockAddr } from './decode';
import { Cursor, intValue, keyIs, nextField, rawValue, stringValue, type AuditRecord } from './parse';
import { syscallName } from './syscalls';

export interface AuditPath {
  name: string;
  nametype: string;
  inode?: number;
  mode?: string;
}

export interface AuditEvent {
  serial: number;
  /** Audit timestamp in microseconds since the epoch (audit itself has milliseconds). */
  ts: number;
  arch?: string;
  syscall: string;
  nr: number;
  success: boolean;
  exit: number;
  pid: number;
  ppid: number;
  uid?: number;
  auid?: number;
  comm: string;
  exe: string;
  key?: string;
  cwd?: string;
  argv?: string[];
  proctitle?: string;
  paths: AuditPath[];
  sockaddr?: SockAddr;
  /** First syscall argument (hex), kept for clone: its flags tell a thread from a process. */
  a0?: string;
  /** Second and third arguments (hex): the flags of open (a1) and openat (a2) tell a read from a write. */
  a1?: string;
  a2?: string;
  /**
   * Set by the process tree on a successful clone/fork/vfork/clone3 that created a process
   * ('process'), or that may have (a clone3 whose child was gone before it could be looked at:
   * 'unsure', settled when the event is attributed). Thread creations are dropped before.
   */
  creates?: 'process' | 'unsure';
  node?: string;
}

const cur = new Cursor();

// Short values that repeat on almost every PATH record: shared strings instead of new copies.
const NAMETYPES = ['NORMAL', 'PARENT', 'CREATE', 'DELETE', 'UNKNOWN'];
const MODES = ['0100644', '0100755', '040755', '041777', '020666', '0100600', '040700', '0120777'];

function interned(line: string, c: Cursor, known: string[]): string {
  const n = c.vE - c.vS;
  for (let i = 0; i < known.length; i++) {
    const k = known[i];
    if (k.length === n && line.startsWith(k, c.vS)) return k;
  }
  return line.slice(c.vS, c.vE);
}

/** The SYSCALL record's fields; returns false when the record lacks what every event needs. */
function readSyscall(rec: AuditRecord, ev: AuditEvent): boolean {
  const line = rec.line;
  const c = cur;
  let seen = 0;
  for (let i = nextField(line, rec.from, rec.to, c); i >= 0; i = nextField(line, i, rec.to, c)) {
    const k = c.kS;
    switch (c.kE - k) {
      case 2:
        if (line.startsWith('a0', k)) ev.a0 = rawValue(line, c);
        else if (line.startsWith('a1', k)) ev.a1 = rawValue(line, c);
        else if (line.startsWith('a2', k)) ev.a2 = rawValue(line, c);
        break;
      case 3:
        if (line.startsWith('pid', k)) {
          ev.pid = intValue(line, c);
          seen |= 1;
        } else if (line.startsWith('uid', k)) ev.uid = intValue(line, c);
        else if (line.startsWith('exe', k)) ev.exe = stringValue(line, c) ?? '';
        else if (line.startsWith('key', k)) {
          const v = c.q !== 0 ? stringValue(line, c) : undefined;
          if (v !== undefined) ev.key = v;
        }
        break;
      case 4:
        if (line.startsWith('ppid', k)) ev.ppid = intValue(line, c);
        else if (line.startsWith('exit', k)) ev.exit = intValue(line, c);
        else if (line.startsWith('comm', k)) ev.comm = stringValue(line, c) ?? '';
        else if (line.startsWith('arch', k)) ev.arch = rawValue(line, c);
        else if (line.startsWith('auid', k)) ev.auid = intValue(line, c);
        break;
      case 7:
        if (line.startsWith('syscall', k)) {
          ev.nr = intValue(line, c);
          seen |= 2;
        } else if (line.startsWith('success', k)) ev.success = line.startsWith('yes', c.vS);
        break;
    }
  }
  if (seen !== 3 || !(ev.pid >= 0) || !(ev.nr >= 0)) return false;
  ev.syscall = syscallName(ev.nr, ev.arch);
  // ENRICHED logs name the syscall themselves; use that for numbers outside our table.
  if (ev.syscall.startsWith('syscall_') && rec.to < line.length) {
    for (let i = nextField(line, rec.to + 1, line.length, c); i >= 0; i = nextField(line, i, line.length, c)) {
      if (keyIs(line, c, 'SYSCALL')) {
        ev.syscall = rawValue(line, c);
        break;
      }
    }
  }
  if (Number.isNaN(ev.ppid)) ev.ppid = 0;
  if (Number.isNaN(ev.exit)) ev.exit = 0;
  return true;
}

function readPath(rec: AuditRecord, paths: AuditPath[], items: number[]): void {
  const line = rec.line;
  const c = cur;
  let item = paths.length;
  const p: AuditPath = { name: '', nametype: '' };
  for (let i = nextField(line, rec.from, rec.to, c); i >= 0; i = nextField(line, i, rec.to, c)) {
    const k = c.kS;
    switch (c.kE - k) {
      case 4:
        if (line.startsWith('item', k)) item = intValue(line, c);
        else if (line.startsWith('name', k)) p.name = stringValue(line, c) ?? '';
        else if (line.startsWith('mode', k)) p.mode = interned(line, c, MODES);
        break;
      case 5:
        if (line.startsWith('inode', k)) {
          const n = intValue(line, c);
          if (n >= 0) p.inode = n;
        }
        break;
      case 8:
        if (line.startsWith('nametype', k)) p.nametype = interned(line, c, NAMETYPES);
        break;
    }
  }
  // Keep item order even if PATH records arrive shuffled.
  let at = items.length;
  while (at > 0 && items[at - 1] > item) at--;
  items.splice(at, 0, item);
  paths.splice(at, 0, p);
}

function readOne(rec: AuditRecord, key: string): string | undefined {
  const line = rec.line;
  const c = cur;
  for (let i = nextField(line, rec.from, rec.to, c); i >= 0; i = nextField(line, i, rec.to, c)) {
    if (keyIs(line, c, key)) return c.q === 0 && key === 'saddr' ? rawValue(line, c) : stringValue(line, c);
  }
  return undefined;
}

/** Decides from the SYSCALL record alone whether the rest is worth decoding (agent/tree filters). */
export type EarlyFilter = (ev: AuditEvent) => boolean;

/**
 * Builds the event from its records: null when there is no usable SYSCALL record (a non-syscall
 * event such as a login or a daemon record, or one cut short), undefined when `keep` refused it.
 */
export function buildEvent(recs: AuditRecord[], keep?: EarlyFilter): AuditEvent | null | undefined {
  let sys: AuditRecord | undefined;
  for (let i = 0; i < recs.length; i++) {
    if (recs[i].type === 'SYSCALL') {
      sys = recs[i];
      break;
    }
  }
  if (!sys) return null;
  const ev: AuditEvent = {
    serial: sys.serial,
    ts: sys.sec * 1e6 + sys.ms * 1000,
    syscall: '',
    nr: -1,
    success: true,
    exit: 0,
    pid: -1,
    ppid: 0,
    comm: '',
    exe: '',
    paths: [],
  };
  if (sys.node !== undefined) ev.node = sys.node;
  if (!readSyscall(sys, ev)) return null;
  if (keep && !keep(ev)) return undefined;
  let argv: ArgvCollector | undefined;
  let items: number[] | undefined;
  for (let i = 0; i < recs.length; i++) {
    const r = recs[i];
    switch (r.type) {
      case 'PATH':
        readPath(r, ev.paths, (items ??= []));
        break;
      case 'CWD': {
        const v = readOne(r, 'cwd');
        if (v !== undefined) ev.cwd = v;
        break;
      }
      case 'EXECVE':
        (argv ??= new ArgvCollector()).add(r, cur);
        break;
      case 'SOCKADDR': {
        const hex = readOne(r, 'saddr');
        const sa = hex ? decodeSockaddr(hex) : undefined;
        if (sa) ev.sockaddr = sa;
        break;
      }
      case 'PROCTITLE': {
        const t = decodeProctitle(r, cur);
        if (t !== undefined) ev.proctitle = t;
        break;
      }
    }
  }
  if (argv) ev.argv = argv.result();
  return ev;
}
