// Decoded audit event -> the wire's `syscall` event.
import { SCHEMA_VERSION, type SourceStatsEvent, type SyscallEvent } from '../../events/schema';
import { uuidv7 } from '../../events/ids';
import { nowUs } from '../../events/time';
import type { Attributed } from '../../events/attribution';
import type { AuditEvent } from './event';

// open/openat flags that mean a write: O_WRONLY|O_RDWR|O_CREAT|O_TRUNC (the write rules' mask).
const WRITE_FLAGS = 0x243;

/**
 * Whether an open asked to write, from its flags (a1 for open, a2 for openat): outside the read
 * directories both kinds are recorded (rules.ts), and the collector must tell them apart.
 * undefined for other syscalls (openat2 keeps its flags in a struct).
 */
export function openWrites(ev: AuditEvent): boolean | undefined {
  const raw = ev.syscall === 'open' ? ev.a1 : ev.syscall === 'openat' ? ev.a2 : undefined;
  if (raw === undefined) return undefined;
  const flags = parseInt(raw, 16);
  return Number.isNaN(flags) ? undefined : (flags & WRITE_FLAGS) !== 0;
}

export interface Origin {
  instance: string;
  function: string;
}

export function toSyscallEvent(
  ev: AuditEvent,
  origin: Origin,
  extra: Attributed & { outsideInvocation?: boolean; containerId?: string } = {},
): SyscallEvent {
  const out: SyscallEvent = {
    v: SCHEMA_VERSION,
    id: uuidv7(),
    kind: 'syscall',
    ts: ev.ts,
    instance: origin.instance,
    function: origin.function,
    serial: ev.serial,
    syscall: ev.syscall,
    success: ev.success,
    exit: ev.exit,
    pid: ev.pid,
    ppid: ev.ppid,
    comm: ev.comm,
    exe: ev.exe,
    paths: ev.paths,
  };
  if (extra.invocation !== undefined) out.invocation = extra.invocation;
  if (ev.uid !== undefined && ev.uid >= 0) out.uid = ev.uid;
  if (ev.cwd !== undefined) out.cwd = ev.cwd;
  if (ev.argv) out.argv = ev.argv;
  if (ev.sockaddr) out.sockaddr = ev.sockaddr;
  if (extra.containerId !== undefined) out.containerId = extra.containerId;
  if (extra.outsideInvocation) out.outsideInvocation = true;
  if (extra.attribution !== undefined) out.attribution = extra.attribution;
  if (extra.basis !== undefined) out.basis = extra.basis;
  if (extra.alsoIn?.length) out.alsoIn = extra.alsoIn;
  if (extra.contradiction !== undefined) out.contradiction = extra.contradiction;
  const write = openWrites(ev);
  if (write !== undefined) out.write = write;
  // Not in the schema's required set; extra properties are allowed and the investigator wants them.
  const more = out as SyscallEvent & { proctitle?: string; auditKey?: string };
  if (ev.proctitle !== undefined) more.proctitle = ev.proctitle;
  return out;
}

export function statsEvent(origin: Origin, counters: Record<string, number>): SourceStatsEvent {
  return { v: SCHEMA_VERSION, id: uuidv7(), kind: 'source.stats', ts: nowUs(), instance: origin.instance, function: origin.function, counters: { ...counters } };
}
