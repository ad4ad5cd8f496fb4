// System and in-function events: processes, file versions and sockets, and who acted.
//
// Who acted: a process born inside an invocation (forked or spawned while it ran, or descended
// from one) acts for itself, even after the invocation ended: that is how a planted background
// process stays visible. The function's long-lived process (http mode) was born before any request,
// so what it does inside an invocation's window is the invocation's act; outside every window it
// acts as itself, attached to the instance.
import { posix } from 'node:path';
import type { AppFileEvent, AppModuleEvent, AppSpawnEvent, AuditPathT, SyscallEvent } from '../../events/schema';
import type { Context } from './context';
import { endpointName, nodeId, type Evidence, type Trust } from './model';
import type { Level } from '../../events/attribution';
import { egressProxyOf, onProxySocket } from './proxy-join';
import { onConnect } from './call-claims';

interface Base { instance: string; function: string; invocation?: string; ts: number; pid?: number; alsoIn?: string[]; attribution?: Level; basis?: string; contradiction?: string }

/**
 * Edge and node attributes that keep the level of an act's attribution visible (events/attribution.ts):
 * nothing for an exact one, else the level, its basis, the other candidates of a guess and any
 * contradiction. Edges without `level` are exact (or older producers' unlabelled attributions).
 */
export function levelAttrs(e: Base): Record<string, unknown> | undefined {
  const level = e.alsoIn?.length ? 'guess' : e.attribution;
  if ((!level || level === 'exact') && !e.contradiction) return undefined;
  return { level, basis: e.basis, alsoIn: e.alsoIn?.length ? e.alsoIn : undefined, contradiction: e.contradiction };
}

/**
 * The other invocations an act given to one by a guess may belong to. Each gets the act's edge
 * too (marked `alternative`), so a walk reaches every candidate rather than only the one named.
 * A process born in an invocation acts for itself: its acts have no alternatives.
 */
export function alternatives(c: Context, e: Base, actor: number): number[] {
  if (!e.alsoIn?.length || !e.invocation || actor !== c.w.lookup(nodeId.invocation(e.invocation))) return [];
  return e.alsoIn.map((id) => c.invocationNode(id, e.function, e.instance, e.ts));
}

export function actorOf(c: Context, e: Base & { ppid?: number; exe?: string; comm?: string }): number {
  const inst = c.instanceNode(e.instance, e.function, e.ts);
  if (e.pid != null) {
    const p = c.proc(e.instance, e.pid);
    if (p && p.born_in != null) return p.nid;
    if (!e.invocation) return p?.nid ?? newProcess(c, e, inst, null);
  }
  if (e.invocation) return c.invocationNode(e.invocation, e.function, e.instance, e.ts);
  return c.w.node({ id: `proc:${e.instance}:unattributed`, kind: 'process', label: `unattributed activity @ ${e.instance}`, instance: e.instance, time: e.ts, attrs: { instance: e.instance } });
}

function newProcess(c: Context, e: Base & { ppid?: number; exe?: string; comm?: string }, inst: number, bornIn: string | null): number {
  const nid = c.w.node({
    id: nodeId.process(e.instance, e.pid!, e.ts), kind: 'process', label: `${e.comm ?? e.exe ?? 'process'} [${e.pid}]`, time: e.ts, instance: e.instance,
    invocation: bornIn ?? undefined, attrs: { pid: e.pid, ppid: e.ppid, exe: e.exe, comm: e.comm, instance: e.instance, bornIn: bornIn ?? undefined },
  });
  c.w.edge({ src: nid, dst: inst, relation: 'wasAssociatedWith', time: e.ts, evidence: 'syscall' });
  c.setProc(e.instance, e.pid!, nid, bornIn, false);
  return nid;
}

/** The invocation whose process tree an acting process belongs to. */
function treeOf(c: Context, e: Base): string | null {
  if (e.pid != null) {
    const p = c.proc(e.instance, e.pid);
    if (p && p.born_in != null) return p.born_in;
  }
  return e.invocation ?? null;
}

const FORK = new Set(['clone', 'clone3', 'fork', 'vfork']);
const EXEC = new Set(['execve', 'execveat']);
const OPEN = new Set(['open', 'openat', 'openat2']);
const WRITE = new Set(['creat', 'truncate', 'ftruncate', 'chmod', 'fchmod', 'fchmodat', 'chown', 'fchown', 'fchownat', 'lchown', 'link', 'linkat', 'symlink', 'symlinkat', 'mknod', 'mknodat']);
const RENAME = new Set(['rename', 'renameat', 'renameat2']);
const UNLINK = new Set(['unlink', 'unlinkat', 'rmdir']);
const NET_OUT = new Set(['connect', 'sendto', 'sendmsg', 'recvfrom', 'recvmsg']);
const NET_IN = new Set(['accept', 'accept4']);
const EXIT = new Set(['exit', 'exit_group']);

export function onSyscall(c: Context, e: SyscallEvent): void {
  const s = e.syscall;
  if (FORK.has(s)) return onFork(c, e);
  if (EXEC.has(s)) return onExec(c, e);
  const actor = () => actorOf(c, e);
  if (OPEN.has(s)) {
    const item = mainPath(e.paths);
    if (!item || !e.success) return;
    const path = resolve(item.name, e.cwd);
    if (isWriteOpen(e, item, path)) return writeFile(c, e, actor(), path, item.inode ?? null, 'syscall', s);
    return readFile(c, e, actor(), path, item.inode ?? null, 'syscall', s);
  }
  if (WRITE.has(s)) {
    const item = mainPath(e.paths);
    if (!item || !e.success) return;
    return writeFile(c, e, actor(), resolve(item.name, e.cwd), item.inode ?? null, 'syscall', s);
  }
  if (RENAME.has(s)) {
    if (!e.success) return;
    const to = e.paths.find((p) => p.nametype === 'CREATE');
    const from = e.paths.find((p) => p.nametype === 'DELETE' && p.name !== to?.name);
    if (!to || !from) return;
    return renameFile(c, e, actor(), resolve(from.name, e.cwd), resolve(to.name, e.cwd), from.inode ?? to.inode ?? null, 'syscall');
  }
  if (UNLINK.has(s)) {
    const item = e.paths.find((p) => p.nametype === 'DELETE');
    if (!item || !e.success) return;
    return unlinkFile(c, e, resolve(item.name, e.cwd));
  }
  if (NET_OUT.has(s) || NET_IN.has(s) || s === 'bind') {
    // A non-blocking connect reports EINPROGRESS (-115) and still connects: keep failed ones, marked.
    const sa = e.sockaddr;
    if (!sa) return;
    const remote = sa.path ? `unix:${sa.path}` : sa.address ? endpointName(sa.address, sa.port) : undefined;
    if (!remote) return;
    return socket(c, e, actor(), s, remote, sa.family);
  }
  if (EXIT.has(s)) {
    const p = c.proc(e.instance, e.pid);
    if (p) c.w.mergeAttrs(p.nid, { exitedAt: e.ts, exitCode: e.exit });
  }
}

function onFork(c: Context, e: SyscallEvent): void {
  if (!e.success || e.exit <= 0) return;
  const starter = actorOf(c, e);
  const bornIn = treeOf(c, e);
  const child = c.w.node({
    id: nodeId.process(e.instance, e.exit, e.ts), kind: 'process', label: `${e.comm} [${e.exit}]`, time: e.ts, instance: e.instance,
    invocation: bornIn ?? undefined, attrs: { pid: e.exit, ppid: e.pid, exe: e.exe, comm: e.comm, instance: e.instance, bornIn: bornIn ?? undefined, outsideInvocation: e.outsideInvocation, ...levelAttrs(e) },
  });
  c.w.edge({ src: child, dst: starter, relation: 'wasStartedBy', time: e.ts, evidence: 'syscall', attrs: { syscall: e.syscall, ...levelAttrs(e) } });
  // Born by a guess: every candidate may have started it, and a walk must reach each.
  for (const alt of alternatives(c, e, starter)) c.w.edge({ src: child, dst: alt, relation: 'wasStartedBy', time: e.ts, evidence: 'syscall', attrs: { syscall: e.syscall, alternative: true } });
  c.w.edge({ src: child, dst: c.instanceNode(e.instance, e.function, e.ts), relation: 'wasAssociatedWith', time: e.ts, evidence: 'syscall' });
  c.setProc(e.instance, e.exit, child, bornIn, false);
}

function onExec(c: Context, e: SyscallEvent): void {
  if (!e.success) return;
  const proc = startProgram(c, e, { exe: e.exe, comm: e.comm, argv: e.argv, ppid: e.ppid }, 'syscall', undefined);
  for (const p of e.paths) {
    if (p.nametype === 'PARENT' || !p.name) continue;
    const path = resolve(p.name, e.cwd);
    c.w.edge({ src: proc, dst: c.currentFile(e.instance, path, p.inode ?? null, e.ts), relation: 'used', time: e.ts, evidence: 'syscall', attrs: { syscall: e.syscall, role: 'program' } });
  }
  linkArgv(c, e, proc, e.argv, e.cwd, 'syscall', undefined);
}

/**
 * The process that now runs a program. A process already forked or spawned in an invocation's tree
 * and not yet exec'd is the same process; a second exec replaces the image (a new node started by
 * the old); otherwise a new process started by its parent, or by the invocation it runs in.
 */
function startProgram(c: Context, e: Base, info: { exe?: string; comm?: string; argv?: string[]; ppid?: number; command?: string }, evidence: Evidence, trust: Trust | undefined): number {
  const label = `${info.argv?.length ? info.argv.join(' ') : (info.command ?? info.exe ?? info.comm ?? 'process')} [${e.pid ?? '?'}]`;
  const attrs = { exe: info.exe, comm: info.comm, argv: info.argv, command: info.command, pid: e.pid, ppid: info.ppid, execAt: e.ts };
  const inst = c.instanceNode(e.instance, e.function, e.ts);
  const p = e.pid != null ? c.proc(e.instance, e.pid) : undefined;
  // Instrumentation reports the spawn, not an exec: it names the same process the syscalls show.
  const observedExec = evidence === 'syscall';
  if (p && p.born_in != null && (!p.execed || !observedExec)) {
    if (observedExec || !p.execed) c.w.relabel(p.nid, label);
    c.w.mergeAttrs(p.nid, { ...(observedExec ? attrs : { command: info.command, spawnArgv: info.argv }), [`seenBy_${evidence}`]: true });
    if (e.pid != null) c.setProc(e.instance, e.pid, p.nid, p.born_in, p.execed === 1 || observedExec);
    return p.nid;
  }
  let starter: number;
  let bornIn: string | null;
  if (p && p.born_in != null) {
    starter = p.nid;
    bornIn = p.born_in;
  } else {
    const parent = info.ppid != null ? c.proc(e.instance, info.ppid) : undefined;
    if (parent && parent.born_in != null) {
      starter = parent.nid;
      bornIn = parent.born_in;
    } else if (e.invocation) {
      starter = c.invocationNode(e.invocation, e.function, e.instance, e.ts);
      bornIn = e.invocation;
    } else {
      starter = parent?.nid ?? inst;
      bornIn = null;
    }
  }
  const nid = c.w.node({
    id: nodeId.process(e.instance, e.pid ?? -1, e.ts), kind: 'process', label, time: e.ts, instance: e.instance, invocation: bornIn ?? undefined,
    attrs: { ...attrs, instance: e.instance, bornIn: bornIn ?? undefined, [`seenBy_${evidence}`]: true, ...levelAttrs(e) },
  });
  if (starter !== inst) c.w.edge({ src: nid, dst: starter, relation: 'wasStartedBy', time: e.ts, evidence, trust, attrs: levelAttrs(e) });
  for (const alt of alternatives(c, e, starter)) c.w.edge({ src: nid, dst: alt, relation: 'wasStartedBy', time: e.ts, evidence, trust, attrs: { alternative: true } });
  c.w.edge({ src: nid, dst: inst, relation: 'wasAssociatedWith', time: e.ts, evidence });
  if (e.pid != null) c.setProc(e.instance, e.pid, nid, bornIn, observedExec);
  return nid;
}

/** `node /tmp/x.js`: the script is an argument, read by the interpreter after exec; link known versions only. */
function linkArgv(c: Context, e: Base, proc: number, argv: string[] | undefined, cwd: string | undefined, evidence: Evidence, trust: Trust | undefined): void {
  // A shell command line arrives as one argument ("sh -c 'node /tmp/x.js &'"): look at its words too.
  const words = (argv ?? []).slice(1).flatMap((a) => [a, ...a.split(/[\s;&|'"()<>]+/)]);
  for (const a of new Set(words)) {
    if (!a || a.startsWith('-') || a.length > 4096) continue;
    if (!a.startsWith('/') && !cwd) continue;
    const f = c.knownFile(e.instance, resolve(a, cwd));
    if (f !== undefined) c.w.edge({ src: proc, dst: f, relation: 'used', time: e.ts, evidence, trust, attrs: { role: 'argument' } });
  }
}

function writeFile(c: Context, e: Base, actor: number, path: string, inode: number | null, evidence: Evidence, op: string, trust?: Trust): void {
  const v = c.newFileVersion(e.instance, path, inode, e.ts);
  c.w.edge({ src: v.nid, dst: actor, relation: 'wasGeneratedBy', time: e.ts, evidence, trust, attrs: { op, ...levelAttrs(e) } });
  for (const alt of alternatives(c, e, actor)) c.w.edge({ src: v.nid, dst: alt, relation: 'wasGeneratedBy', time: e.ts, evidence, trust, attrs: { op, alternative: true } });
  if (v.previous !== undefined) c.w.edge({ src: v.nid, dst: v.previous, relation: 'wasDerivedFrom', time: e.ts, evidence, trust });
}

function readFile(c: Context, e: Base, actor: number, path: string, inode: number | null, evidence: Evidence, op: string, trust?: Trust): void {
  const f = c.currentFile(e.instance, path, inode, e.ts);
  c.w.edge({ src: actor, dst: f, relation: 'used', time: e.ts, evidence, trust, attrs: { op, ...levelAttrs(e) } });
  for (const alt of alternatives(c, e, actor)) c.w.edge({ src: alt, dst: f, relation: 'used', time: e.ts, evidence, trust, attrs: { op, alternative: true } });
}

function renameFile(c: Context, e: Base, actor: number, from: string, to: string, inode: number | null, evidence: Evidence, trust?: Trust): void {
  const src = c.currentFile(e.instance, from, inode, e.ts);
  c.dropFile(e.instance, from);
  const v = c.newFileVersion(e.instance, to, inode, e.ts);
  c.w.edge({ src: v.nid, dst: actor, relation: 'wasGeneratedBy', time: e.ts, evidence, trust, attrs: { op: 'rename', from, ...levelAttrs(e) } });
  for (const alt of alternatives(c, e, actor)) c.w.edge({ src: v.nid, dst: alt, relation: 'wasGeneratedBy', time: e.ts, evidence, trust, attrs: { op: 'rename', from, alternative: true } });
  c.w.edge({ src: v.nid, dst: src, relation: 'wasDerivedFrom', time: e.ts, evidence, trust, attrs: { op: 'rename' } });
}

function unlinkFile(c: Context, e: Base, path: string): void {
  const cur = c.dropFile(e.instance, path);
  if (cur !== undefined) c.w.mergeAttrs(cur, { deletedAt: e.ts });
}

function socket(c: Context, e: SyscallEvent, actor: number, syscall: string, remote: string, family: string): void {
  const inbound = NET_IN.has(syscall);
  const sock = c.w.node({
    id: nodeId.socket(e.id), kind: 'socket', label: `${syscall} ${remote}`, time: e.ts, instance: e.instance, invocation: e.invocation,
    attrs: { syscall, remote, family, pid: e.pid, exe: e.exe, success: e.success, exit: e.exit, outsideInvocation: e.outsideInvocation, ...levelAttrs(e) },
  });
  c.w.edge({ src: sock, dst: actor, relation: 'wasGeneratedBy', time: e.ts, evidence: 'syscall', attrs: { syscall, ...levelAttrs(e) } });
  c.w.edge({ src: actor, dst: sock, relation: 'used', time: e.ts, evidence: 'syscall', attrs: { syscall, ...levelAttrs(e) } });
  for (const alt of alternatives(c, e, actor)) {
    c.w.edge({ src: sock, dst: alt, relation: 'wasGeneratedBy', time: e.ts, evidence: 'syscall', attrs: { syscall, alternative: true } });
    c.w.edge({ src: alt, dst: sock, relation: 'used', time: e.ts, evidence: 'syscall', attrs: { syscall, alternative: true } });
  }
  if (syscall === 'bind') return;
  // The function's own egress proxy is no outside endpoint: the call's message (joined here)
  // names where it really went.
  if (syscall === 'connect' && remote === egressProxyOf(c, e.instance)) {
    c.w.mergeAttrs(sock, { egressProxy: true });
    return onProxySocket(c, e.instance, e.pid, e.ts, sock);
  }
  // A direct call the function claimed around this connect may now be corroborated.
  if (syscall === 'connect' && !inbound) onConnect(c, e.instance, e.pid, e.ts);
  const r = c.w.node({ id: nodeId.remote(remote), kind: 'remote', label: remote, time: e.ts, attrs: { endpoint: remote, family } });
  c.w.edge({ src: sock, dst: r, relation: 'wasDerivedFrom', time: e.ts, evidence: 'syscall', attrs: { direction: inbound ? 'in' : 'out' } });
  c.w.edge({ src: r, dst: sock, relation: 'wasDerivedFrom', time: e.ts, evidence: 'syscall', attrs: { direction: inbound ? 'in' : 'out' } });
}

export function onAppModule(c: Context, e: AppModuleEvent): void {
  const actor = actorOf(c, e);
  c.w.edge({ src: actor, dst: c.currentFile(e.instance, e.path, null, e.ts), relation: 'used', time: e.ts, evidence: 'instrumentation', trust: 'claimed', attrs: { op: 'load', external: e.external } });
}

export function onAppFile(c: Context, e: AppFileEvent): void {
  const actor = actorOf(c, e);
  switch (e.op) {
    case 'read': return readFile(c, e, actor, e.path, null, 'instrumentation', 'read', 'claimed');
    case 'write':
    case 'create': return writeFile(c, e, actor, e.path, null, 'instrumentation', e.op, 'claimed');
    case 'rename': if (e.target) renameFile(c, e, actor, e.path, e.target, null, 'instrumentation', 'claimed'); return;
    case 'unlink': return unlinkFile(c, e, e.path);
  }
}

export function onAppSpawn(c: Context, e: AppSpawnEvent): void {
  // The spawning code runs in the invocation; the child's pid is the one reported.
  // A synchronous spawn reports no child pid and the mapping falls back to the spawner's own: never
  // let that name the spawner as the child.
  const pid = e.pid != null && e.pid !== e.ppid ? e.pid : undefined;
  const proc = startProgram(c, { ...e, pid }, { command: e.command, argv: e.argv, ppid: e.ppid }, 'instrumentation', 'claimed');
  linkArgv(c, e, proc, [e.command, ...e.argv], undefined, 'instrumentation', 'claimed');
}

function mainPath(paths: AuditPathT[]): AuditPathT | undefined {
  return paths.find((p) => p.nametype === 'CREATE') ?? paths.find((p) => p.nametype !== 'PARENT' && p.nametype !== 'DELETE');
}

/**
 * Whether an audited open wrote. A CREATE item, or the access mode when the producer sends it
 * (`write`, `flags`, or the raw `a1`/`a2` argument in hex), decide. Without them: the tailer audits
 * opens for writing everywhere, and every open (reads too) only under its read directories
 * (ALASTOR_AUDIT_READ_DIRS, default /tmp, /dev/shm, /var/tmp); there an open of an existing file is
 * taken as a read, elsewhere as a write.
 */
function isWriteOpen(e: SyscallEvent, item: AuditPathT, path: string): boolean {
  if (item.nametype === 'CREATE') return true;
  const x = e as unknown as Record<string, unknown>;
  if (typeof x.write === 'boolean') return x.write;
  let flags: number | undefined;
  if (typeof x.flags === 'number') flags = x.flags;
  else {
    const raw = e.syscall === 'open' ? x.a1 : x.a2;
    if (typeof raw === 'string' && /^[0-9a-f]+$/i.test(raw)) flags = parseInt(raw, 16);
  }
  // O_WRONLY | O_RDWR | O_CREAT | O_TRUNC
  if (flags !== undefined) return (flags & 0o3) !== 0 || (flags & 0o100) !== 0 || (flags & 0o1000) !== 0;
  return !readDirs().some((d) => path === d || path.startsWith(d.endsWith('/') ? d : `${d}/`));
}

let cachedReadDirs: string[] | undefined;
function readDirs(): string[] {
  return (cachedReadDirs ??= (process.env.ALASTOR_AUDIT_READ_DIRS ?? '/tmp,/dev/shm,/var/tmp').split(',').map((d) => d.trim()).filter(Boolean));
}

export function resolve(name: string, cwd?: string): string {
  if (name.startsWith('/')) return posix.normalize(name);
  return posix.normalize(posix.join(cwd ?? '/', name));
}
