// Runs a stack locally: the collector, then every function under fwatchdog on its own ports (laid
// out from its template, configured as its image would be), then the gateway in front. Each
// function gets a line as it becomes ready; stop() shuts everything down in the order that loses
// nothing: functions first (their watchdogs flush to the collector), then gateway, then collector.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { ENV } from '../../events/names';
import { decideAudit, type AuditDecision, type AuditMode } from './audit';
import { startGateway, type Gateway } from './gateway';
import { stackKey, type StackKey } from './key';
import { layoutFunction } from './layout';
import { parseStackFile, type Stack } from './parse';
import { concurrencyWarning } from './exactness';
import { findTemplate, templateNote } from './template';

export interface StackOptions {
  stackFile: string;
  /** Repository root (dist/, node_modules/, function-templates/); found from this file by default. */
  root?: string;
  /** Build and state folder; default <stack dir>/.alastor. */
  stateDir?: string;
  /** The collector's SQLite store; default <stateDir>/alastor.db. */
  db?: string;
  /** Gateway port: default the provider.gateway port, else 8080; 0 = any free port. */
  gatewayPort?: number;
  collectorPort?: number;
  /** Provenance in every watchdog (default true). Off = plain fwatchdog, no collector. */
  provenance?: boolean;
  audit?: AuditMode;
  /** The batch chain key; default ALASTOR_TOKEN / ALASTOR_TOKEN_FILE, else the store's own key file (key.ts). */
  token?: string;
  /** Variables for ${VAR} substitution in the stack file (default process.env). */
  env?: Record<string, string | undefined>;
  /** Extra environment for every watchdog. */
  functionEnv?: Record<string, string>;
  log?: (line: string) => void;
  /** A line a function (or its watchdog) printed. Default: log it prefixed with the name. */
  functionLog?: (name: string, line: string) => void;
  readyTimeoutMs?: number;
}

export interface RunningFunction {
  name: string;
  lang: string;
  dir: string;
  port: number;
  metricsPort: number;
  upstreamPort: number;
  /** The function's private TMPDIR: the container's /tmp. */
  tmpdir: string;
  pid: number;
  url: string;
}

export interface RunningStack {
  stack: Stack;
  stateDir: string;
  db?: string;
  /** The batch chain key ('' with provenance off: nothing is signed). */
  token: string;
  /** Where the key is kept when it is the stack's own (key.ts); undefined when the user configured it. */
  keyFile?: string;
  gatewayUrl: string;
  collectorUrl?: string;
  audit: AuditDecision;
  functions: RunningFunction[];
  /** Resolves when any part exits on its own (not through stop()). */
  failed: Promise<string>;
  stop(): Promise<void>;
}

/** The repository root: the nearest folder up from here whose package.json is this project's. */
export function findRoot(from = __dirname): string {
  for (let d = resolve(from); ; d = dirname(d)) {
    const pkg = join(d, 'package.json');
    if (existsSync(pkg) && existsSync(join(d, 'function-templates')) && /"alastor-openfaas"/.test(readFileSync(pkg, 'utf8'))) return d;
    if (dirname(d) === d) throw new Error('cannot find the alastor repository root (dist/ and function-templates/)');
  }
}

// Ports handed out by this process: a port closed after probing can be handed out again by the
// next listen(0), and two functions given the same port made `alastor up` fail at random.
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  for (;;) {
    const port = await probePort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/**
 * Ports are chosen below the kernel's ephemeral range. A port from that range, free when probed,
 * can be taken before its user binds it by anything that binds port 0 or connects out meanwhile:
 * a watchdog's egress proxy took a function's upstream port that way, and the function died with
 * EADDRINUSE. Nothing takes a port below the range unless asked for it.
 */
const BELOW_EPHEMERAL_FROM = 15000;

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return low > 0 ? low : 32768;
  } catch {
    return 32768;
  }
}

function listenOnce(port: number): Promise<number | undefined> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' || e.code === 'EACCES' ? resolvePort(undefined) : reject(e)));
    srv.listen(port, '127.0.0.1', () => {
      const got = (srv.address() as { port: number }).port;
      srv.close(() => resolvePort(got));
    });
  });
}

async function probePort(): Promise<number> {
  const low = ephemeralLow();
  if (low - BELOW_EPHEMERAL_FROM >= 1000) {
    for (let i = 0; i < 64; i++) {
      const port = await listenOnce(BELOW_EPHEMERAL_FROM + Math.floor(Math.random() * (low - BELOW_EPHEMERAL_FROM)));
      if (port !== undefined) return port;
    }
  }
  // No room below the range (an unusual ip_local_port_range), or all tries taken: let the kernel pick.
  for (;;) {
    const port = await listenOnce(0);
    if (port !== undefined) return port;
  }
}

function status(port: number, path: string): Promise<number> {
  return new Promise((done) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(0));
    req.end();
  });
}

// If `alastor up` itself exits without stop() (an uncaught error), take the children with it:
// each whole process group, so a watchdog's function process goes too.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) {
    try {
      process.kill(-p.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

interface Child {
  name: string;
  proc: ChildProcess;
  exited: Promise<void>;
  done: boolean;
}

function startChild(name: string, cmd: string, args: string[], opts: { cwd?: string; env: NodeJS.ProcessEnv }, onLine: (line: string) => void): Child {
  // Each child in its own process group: a Ctrl-C in the terminal reaches only `alastor up`, which
  // then stops the parts in order (functions flush to the collector before it stops).
  const proc = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  const child: Child = { name, proc, done: false, exited: Promise.resolve() };
  child.exited = new Promise<void>((res) => {
    proc.once('exit', () => {
      child.done = true;
      res();
    });
    proc.once('error', (e) => {
      onLine(`cannot start: ${e.message}`);
      child.done = true;
      res();
    });
  });
  for (const s of [proc.stdout!, proc.stderr!]) createInterface({ input: s }).on('line', onLine);
  return child;
}

async function stopChild(c: Child, graceMs: number): Promise<void> {
  if (c.done) return;
  try {
    process.kill(c.proc.pid!, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-c.proc.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, graceMs);
  await c.exited;
  clearTimeout(timer);
}

export async function startStack(opts: StackOptions): Promise<RunningStack> {
  const log = opts.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const fnLog = opts.functionLog ?? ((name: string, line: string) => log(`[${name}] ${line}`));
  const root = opts.root ?? findRoot();
  const stack = parseStackFile(opts.stackFile, opts.env ?? process.env);
  const stateDir = resolve(opts.stateDir ?? join(stack.dir, '.alastor'));
  const provenance = opts.provenance ?? true;
  const audit = provenance ? decideAudit(opts.audit ?? 'auto', log) : { on: false, reason: 'provenance off' };
  const db = provenance ? resolve(opts.db ?? join(stateDir, 'alastor.db')) : undefined;
  const fwatchdog = join(root, 'dist', 'fwatchdog.js');
  const alastor = join(root, 'dist', 'alastor.js');
  for (const f of [fwatchdog, alastor]) if (!existsSync(f)) throw new Error(`${f} is missing: run npm run build first`);

  // Lay everything out before starting anything, so a bad handler fails fast.
  const templates = stack.functions.map((fn) => findTemplate(fn.lang, stack.dir, root));
  for (const t of new Map(templates.map((t) => [t.lang, t])).values()) {
    const note = templateNote(t);
    if (note) log(note);
  }
  const laid = stack.functions.map((fn, i) => layoutFunction(fn, templates[i], join(stateDir, 'build'), root, log));
  if (provenance) {
    for (const [i, fn] of stack.functions.entries()) {
      const warning = concurrencyWarning(fn, templates[i]);
      if (warning) log(`warning: ${warning}`);
    }
  }

  // Each function's TMPDIR (its container's /tmp) lives under the system temp folder, where the
  // audit layer also records reads: a planted file is a file in /tmp.
  const tmpRoot = mkdtempSync(join(tmpdir(), 'alastor-fn-'));
  const children: Child[] = [];
  let key: StackKey | undefined;
  let token = '';
  let stopping = false;
  let gateway: Gateway | undefined;
  let failedResolve: (why: string) => void = () => {};
  const failed = new Promise<string>((r) => (failedResolve = r));
  const watch = (c: Child) =>
    void c.exited.then(() => {
      if (!stopping) failedResolve(`${c.name} exited (code ${c.proc.exitCode}, signal ${c.proc.signalCode})`);
    });

  const stopAll = async () => {
    if (stopping) return;
    stopping = true;
    const fns = children.filter((c) => c.name !== 'collector');
    await Promise.all(fns.map((c) => stopChild(c, 15000)));
    if (gateway) await gateway.close();
    const col = children.find((c) => c.name === 'collector');
    if (col) await stopChild(col, 10000);
    rmSync(tmpRoot, { recursive: true, force: true });
  };

  try {
    let collectorUrl: string | undefined;
    if (provenance) {
      mkdirSync(dirname(db!), { recursive: true });
      // Only once everything is laid out: a stack that cannot start should leave no key behind.
      key = stackKey({ token: opts.token, db, env: process.env, log });
      token = key.token;
      const port = opts.collectorPort ?? 0;
      const col = startChild('collector', process.execPath, [alastor, 'collector', '--db', db!, '--port', String(port)], { env: { ...process.env, [ENV.token]: token } }, (line) => {
        const m = /listening on (\S+)/.exec(line);
        if (m) collectorUrl = m[1];
        else fnLog('collector', line);
      });
      children.push(col);
      const deadline = Date.now() + 15000;
      while (!collectorUrl) {
        if (col.done) throw new Error('the collector exited before it was ready (see its lines above)');
        if (Date.now() > deadline) throw new Error('the collector did not start within 15 s');
        await new Promise((r) => setTimeout(r, 20));
      }
      watch(col);
      log(`collector ready at ${collectorUrl} (db ${db})`);
      log(key.note);
    }

    const gatewayPort = opts.gatewayPort ?? (stack.provider.gateway ? Number(new URL(stack.provider.gateway).port || 8080) : 8080);
    // The gateway's port must be known before the functions start (they call it), so bind it now;
    // each route gets its port as its function becomes ready (502 until then).
    const routes = stack.functions.map((fn) => ({ name: fn.name, port: 0, image: fn.image }));
    gateway = await startGateway({ port: gatewayPort, routes, log });
    const gatewayUrl = gateway.url;

    const started = await Promise.all(
      stack.functions.map(async (fn, i) => {
        const t = templates[i];
        const tmp = join(tmpRoot, fn.name);
        mkdirSync(tmp, { recursive: true });
        // A probed port can still be taken before the watchdog binds it (an outgoing connection's
        // ephemeral port, say); a start that fails with EADDRINUSE is retried on fresh ports.
        for (let attempt = 1; ; attempt++) {
          const [port, metricsPort, upstreamPort] = [await freePort(), await freePort(), await freePort()];
          const upstream = t.env.upstream_url ? new URL(t.env.upstream_url) : undefined;
          if (upstream) upstream.port = String(upstreamPort);
          const env: NodeJS.ProcessEnv = {
            ...process.env,
            ...t.env,
            // After SIGTERM a watchdog waits healthcheck_interval for a load balancer to notice; the
            // local gateway needs no such wait (a stack file can still set it).
            healthcheck_interval: '1s',
            ...laid[i].env,
            ...fn.environment,
            ...(upstream ? { upstream_url: upstream.toString().replace(/\/$/, '') } : {}),
            http_port: String(upstreamPort),
            port: String(port),
            metrics_port: String(metricsPort),
            TMPDIR: tmp,
            gateway_url: gatewayUrl,
            [ENV.gatewayUrl]: gatewayUrl,
            [ENV.functionName]: fn.name,
            [ENV.provenance]: provenance ? 'on' : 'off',
            [ENV.audit]: audit.on ? 'on' : 'off',
            [ENV.spoolDir]: join(stateDir, 'spool', fn.name),
            ...(collectorUrl ? { [ENV.collectorUrl]: collectorUrl, [ENV.token]: token } : {}),
            ...opts.functionEnv,
          };
          // Single-threaded GC from the command line (the watchdog's heap is small; V8's helper
          // threads only compete with the function for CPU). It cannot be set safely at run time.
          const lastLines: string[] = [];
          const child = startChild(fn.name, process.execPath, ['--single-threaded-gc', fwatchdog], { cwd: laid[i].dir, env }, (line) => {
            lastLines.push(line);
            if (lastLines.length > 20) lastLines.shift();
            fnLog(fn.name, line);
          });
          children.push(child);
          const deadline = Date.now() + (opts.readyTimeoutMs ?? 120000);
          let exitedEarly = false;
          while ((await status(port, '/_/health')) !== 200) {
            if (child.done) {
              exitedEarly = true;
              break;
            }
            if (Date.now() > deadline) throw new Error(`function "${fn.name}" was not ready within ${(opts.readyTimeoutMs ?? 120000) / 1000} s`);
            await new Promise((r) => setTimeout(r, 50));
          }
          if (exitedEarly) {
            await child.exited;
            children.splice(children.indexOf(child), 1);
            if (attempt < 3 && lastLines.some((l) => l.includes('EADDRINUSE'))) {
              log(`  ${fn.name}: a port was taken before it could bind it; starting it again on other ports`);
              continue;
            }
            throw new Error(`function "${fn.name}" exited before it was ready (code ${child.proc.exitCode}, signal ${child.proc.signalCode}); its last lines:\n${lastLines.map((l) => `    ${l}`).join('\n')}`);
          }
          routes[i].port = port;
          watch(child);
          log(`  ${fn.name.padEnd(18)} ready  ${gatewayUrl}/function/${fn.name}  (${fn.lang}, watchdog :${port}, pid ${child.proc.pid})`);
          return {
            name: fn.name,
            lang: fn.lang,
            dir: laid[i].dir,
            port,
            metricsPort,
            upstreamPort,
            tmpdir: tmp,
            pid: child.proc.pid!,
            url: `http://127.0.0.1:${port}`,
          } satisfies RunningFunction;
        }
      }),
    );

    return {
      stack,
      stateDir,
      db,
      token,
      keyFile: key?.file,
      gatewayUrl,
      collectorUrl,
      audit,
      functions: started,
      failed,
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
