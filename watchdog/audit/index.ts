// Entry point of the audit tailer as the provenance layer uses it (ALASTOR_AUDIT=on). The tailer
// runs as a child process (fwatchdog --alastor-audit-child) so parsing never competes with
// requests on the watchdog's event loop; this side only forwards invocation windows and receives
// finished events. If the child dies, its rules are removed from here.
import { spawn, type ChildProcess } from 'node:child_process';
import type { AlastorEvent } from '../../events';
import type { Claim } from '../../events/claims';
import type { Birth } from './births';
import { safeSend, type FromChild, type ToChild } from './ipc';
import { makeKey, removeRules } from './rules';

export type { Birth } from './births';

/** Births kept for bornIn(): enough for every process a busy function keeps alive. */
const MAX_BIRTHS = 4096;

export interface AuditTailerOptions {
  /** Events of this process's descendants are kept (the watchdog's own pid). */
  rootPid: number;
  instance: string;
  function: string;
  /** Each assembled, attributed syscall event; the caller ships it. */
  emit(ev: AlastorEvent): void;
  log(line: string): void;
  /** How to start the child (default: this script with --alastor-audit-child). */
  childArgv?: string[];
  /** Audit log to follow (default: ALASTOR_AUDIT_LOG, else auditd.conf's log_file). */
  logPath?: string;
  /** Directories whose read-only opens are audited (default: ALASTOR_AUDIT_READ_DIRS, else /tmp,/dev/shm,/var/tmp). */
  readDirs?: string[];
  /** Report the root's own syscalls too (default false: only its descendants). */
  includeRoot?: boolean;
  /** Start-up timeout (default 15000 ms). */
  timeoutMs?: number;
}

export interface AuditTailer {
  /** `pid`: the process serving every request (the http upstream), if any. */
  invocationStart(w: { invocation: string; tsUs: number; pid?: number }): void;
  /**
   * The process serving an invocation, known after the start. In fork modes it was forked for the
   * invocation: it and everything it starts are born in it (exact), whenever they act. The http
   * upstream (also reported here, but named at the start too) serves every request: no birth.
   */
  invocationPid?(w: { invocation: string; pid: number }): void;
  invocationEnd(w: { invocation: string; tsUs: number }): void;
  /** A claim of the function's instrumentation (events/claims.ts), checked against the kernel's events. */
  claim(c: Claim): void;
  /**
   * The invocation process `pid` was born in, as the tailer attributed its creation; undefined
   * when its creation was not seen (yet). A birth without `invocation`: born outside every invocation.
   */
  bornIn(pid: number): Birth | undefined;
  stop(): Promise<void>;
}

export const AUDIT_CHILD_FLAG = '--alastor-audit-child';

function readDirsFromEnv(): string[] | undefined {
  const v = process.env.ALASTOR_AUDIT_READ_DIRS;
  if (v === undefined) return undefined;
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

export async function startAuditTailer(opts: AuditTailerOptions): Promise<AuditTailer> {
  const key = makeKey();
  const argv = opts.childArgv ?? [process.argv[1], AUDIT_CHILD_FLAG];
  const child: ChildProcess = spawn(process.execPath, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let stopped = false;
  let cleanExit = false;
  let cleanup: Promise<unknown> = Promise.resolve();
  const send = (m: ToChild) => safeSend(child, m);
  const births = new Map<number, Birth>();
  const born = (b: Birth) => {
    births.delete(b.pid);
    births.set(b.pid, b);
    if (births.size > MAX_BIRTHS) births.delete(births.keys().next().value!);
  };

  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`audit tailer did not start within ${opts.timeoutMs ?? 15000} ms`)), opts.timeoutMs ?? 15000);
    child.on('message', (m: FromChild) => {
      if (m.t === 'events') for (const ev of m.events) opts.emit(ev);
      else if (m.t === 'births') for (const b of m.births) born(b);
      else if (m.t === 'log') opts.log(m.line);
      else if (m.t === 'ready') {
        clearTimeout(timer);
        opts.log(`audit: tailer ${m.pid} following ${m.logPath} (rules key ${key})`);
        resolve();
      } else if (m.t === 'error') {
        clearTimeout(timer);
        reject(new Error(`ALASTOR_AUDIT=on: ${m.message}`));
      } else if (m.t === 'stopped') cleanExit = true;
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`audit tailer: cannot start ${argv.join(' ')}: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`audit tailer exited during start-up (code ${code}, signal ${signal})`));
      if (!cleanExit) {
        if (!stopped) opts.log(`audit: tailer exited unexpectedly (code ${code}, signal ${signal}); removing its rules`);
        cleanup = removeRules(key).catch((err: Error) => opts.log(`audit: ${err.message}`));
      }
    });
  });
  send({
    t: 'config',
    rootPid: opts.rootPid,
    instance: opts.instance,
    function: opts.function,
    key,
    logPath: opts.logPath ?? process.env.ALASTOR_AUDIT_LOG,
    readDirs: opts.readDirs ?? readDirsFromEnv(),
    includeRoot: opts.includeRoot,
  });
  try {
    await ready;
  } catch (err) {
    if (child.exitCode === null) child.kill('SIGKILL');
    throw err;
  }

  return {
    invocationStart: (w) => send({ t: 'start', invocation: w.invocation, tsUs: w.tsUs, pid: w.pid }),
    invocationPid: (w) => send({ t: 'pid', invocation: w.invocation, pid: w.pid }),
    invocationEnd: (w) => send({ t: 'end', invocation: w.invocation, tsUs: w.tsUs }),
    claim: (c) => send({ t: 'claim', claim: c }),
    bornIn: (pid) => births.get(pid),
    async stop() {
      if (!stopped) {
        stopped = true;
        send({ t: 'stop' });
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      await exited;
      await cleanup;
    },
  };
}
