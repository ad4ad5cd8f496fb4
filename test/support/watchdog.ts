// Runs the real bundled fwatchdog (dist/fwatchdog.js, built by jest's globalSetup) for tests.
//
//   const port = await freePort();
//   const wd = await startWatchdog({ env: { mode: 'http', fprocess: 'node up.js', upstream_url: ... } });
//   await fetch(wd.url + '/');           // wd.url = http://127.0.0.1:<port>
//   await wd.stop();                     // SIGTERM, then SIGKILL after a grace period
//
// startWatchdog picks free `port` and `metrics_port` unless the env sets them, a private TMPDIR
// (so lock files never collide), `suppress_lock` untouched. It resolves once /_/health answers
// 200, and rejects (with the captured output) if the process exits first or the timeout passes.
// Use `{ waitHealthy: false }` to get the handle right away (e.g. to assert a start-up failure
// through `wd.exited`).
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../cli/stack/runner';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const FWATCHDOG = join(__dirname, '..', '..', 'dist', 'fwatchdog.js');

export interface StartOptions {
  /** Watchdog environment (mode, fprocess, upstream_url, ...). Merged over a minimal base env. */
  env?: Record<string, string | undefined>;
  /** Extra command-line arguments (e.g. ['--run-healthcheck']). */
  args?: string[];
  /** Wait until /_/health is 200 (default true). */
  waitHealthy?: boolean;
  /** Start-up timeout in ms (default 10000). */
  timeoutMs?: number;
  /** Working directory of the watchdog (default: the process cwd). */
  cwd?: string;
  /** Inherit the test process's environment too (default true; PATH is always passed). */
  inheritEnv?: boolean;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WatchdogHandle {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly metricsPort: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** http://127.0.0.1:<metricsPort> */
  readonly metricsUrl: string;
  /** The TMPDIR given to the watchdog (its lock file lives here); removed by stop(). */
  readonly tmpdir: string;
  /** Resolves when the process exits. */
  readonly exited: Promise<Exit>;
  stdout(): string;
  stderr(): string;
  /** stdout + stderr, in arrival order. */
  logs(): string;
  /** Resolves when `pattern` appears in the combined output (rejects after timeoutMs). */
  waitForLog(pattern: RegExp | string, timeoutMs?: number): Promise<void>;
  /** Sends `signal` (default SIGTERM); SIGKILLs after graceMs (default 10000), together with the
   * function processes' groups. Idempotent. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<Exit>;
}

/** A TCP port free a moment ago on 127.0.0.1, never handed out twice (cli/stack/runner.ts). */
export { freePort };

/** GET on 127.0.0.1; resolves with the status (or 0 when the connection fails). */
export function httpStatus(port: number, path: string, timeoutMs = 1000): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

const live = new Set<WatchdogHandle>();

/** Process groups of the watchdog's direct children (each function process leads its own). */
function childGroups(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function killHard(pid: number): void {
  // A SIGKILLed watchdog cannot stop its function processes: take their groups down with it.
  for (const child of childGroups(pid)) {
    try {
      process.kill(-child, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** Stops every watchdog still running (call from afterAll as a safety net). */
export async function stopAllWatchdogs(): Promise<void> {
  await Promise.all([...live].map((w) => w.stop('SIGKILL', 0)));
}

export async function startWatchdog(opts: StartOptions = {}): Promise<WatchdogHandle> {
  const env: Record<string, string> = {};
  const base = opts.inheritEnv === false ? { PATH: process.env.PATH } : process.env;
  for (const [k, v] of Object.entries({ ...base, ...opts.env })) if (v !== undefined) env[k] = v;
  const port = env.port ? Number(env.port) : await freePort();
  const metricsPort = env.metrics_port ? Number(env.metrics_port) : await freePort();
  env.port = String(port);
  env.metrics_port = String(metricsPort);
  const dir = env.TMPDIR ?? mkdtempSync(join(tmpdir(), 'fwd-test-'));
  const ownDir = env.TMPDIR === undefined;
  env.TMPDIR = dir;

  const proc = spawn(process.execPath, [FWATCHDOG, ...(opts.args ?? [])], {
    env,
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let all = '';
  const waiters: Array<() => void> = [];
  const onData = (which: 'out' | 'err') => (b: Buffer) => {
    const s = b.toString();
    if (which === 'out') out += s;
    else err += s;
    all += s;
    for (const w of waiters.slice()) w();
  };
  proc.stdout!.on('data', onData('out'));
  proc.stderr!.on('data', onData('err'));
  let exitInfo: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    proc.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      live.delete(handle);
      // Let the pipes drain so logs() is complete once `exited` resolves.
      let open = 2;
      const done = () => {
        if (--open === 0) resolve(exitInfo!);
      };
      if (proc.stdout!.readableEnded) done();
      else proc.stdout!.once('close', done);
      if (proc.stderr!.readableEnded) done();
      else proc.stderr!.once('close', done);
    });
  });

  let stopping: Promise<Exit> | undefined;
  const handle: WatchdogHandle = {
    proc,
    pid: proc.pid!,
    port,
    metricsPort,
    url: `http://127.0.0.1:${port}`,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    tmpdir: dir,
    exited,
    stdout: () => out,
    stderr: () => err,
    logs: () => all,
    waitForLog(pattern, timeoutMs = 5000) {
      const test = () => (typeof pattern === 'string' ? all.includes(pattern) : pattern.test(all));
      if (test()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!test()) return;
          cleanup();
          resolve();
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`log ${pattern} not seen within ${timeoutMs} ms; output:\n${all}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          const i = waiters.indexOf(check);
          if (i >= 0) waiters.splice(i, 1);
        };
        waiters.push(check);
      });
    },
    stop(signal = 'SIGTERM', graceMs = 10000) {
      if (!stopping) {
        stopping = (async () => {
          if (!exitInfo) {
            if (signal === 'SIGKILL') killHard(proc.pid!);
            else {
              try {
                process.kill(proc.pid!, signal);
              } catch {
                /* already gone */
              }
            }
            const timer = setTimeout(() => killHard(proc.pid!), graceMs);
            await exited;
            clearTimeout(timer);
          }
          if (ownDir) rmSync(dir, { recursive: true, force: true });
          return exited;
        })();
      }
      return stopping;
    },
  };
  live.add(handle);

  if (opts.waitHealthy === false) return handle;
  const deadline = Date.now() + (opts.timeoutMs ?? 10000);
  for (;;) {
    if (exitInfo) {
      await exited;
      throw new Error(`fwatchdog exited (code ${exitInfo.code}, signal ${exitInfo.signal}) before healthy:\n${all}`);
    }
    if ((await httpStatus(port, '/_/health', 500)) === 200) return handle;
    if (Date.now() > deadline) {
      await handle.stop('SIGKILL', 0);
      throw new Error(`fwatchdog not healthy within ${opts.timeoutMs ?? 10000} ms:\n${all}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
