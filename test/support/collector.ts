// Runs the real collector (dist/alastor.js collector) for tests, on a temp SQLite file (or the
// PostgreSQL URL given as `db`).
//
//   const c = await startCollector({ token: 'secret' });   // c.url = http://127.0.0.1:<port>
//   ... point watchdogs at it: ALASTOR_COLLECTOR_URL=c.url, ALASTOR_TOKEN='secret' ...
//   const rows = c.query('SELECT count(*) AS n FROM events');  // read-only, while it runs
//   await c.kill();                 // SIGKILL (a crash); c.restart() starts it again, same db and port
//   await c.stop();                 // SIGTERM, then SIGKILL after a grace period; removes the temp dir
//
// The port is chosen by the kernel on the first start (--port 0) and reused on restart, so
// producers keep the same URL across a crash. The db lives in a private temp dir unless `db` is given.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../collector/store/open';

export const ALASTOR = join(__dirname, '..', '..', 'dist', 'alastor.js');

export interface CollectorStartOptions {
  /** ALASTOR_TOKEN for the collector; undefined = none (accepts empty-key chains). */
  token?: string;
  /** SQLite file or postgres:// URL; default <tmpdir>/store.db in a private temp dir. */
  db?: string;
  /** Fixed port; default 0 (the kernel picks one; restarts reuse it). */
  port?: number;
  /** Extra environment. */
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

export interface CollectorHandle {
  readonly url: string;
  readonly port: number;
  readonly db: string;
  readonly dir: string;
  pid(): number;
  logs(): string;
  /** Runs a read-only query against the store (a fresh connection each time; WAL lets it run alongside). */
  query<T = Record<string, unknown>>(sql: string, ...params: unknown[]): T[];
  /** Runs the alastor CLI (e.g. ['events', '--json']) with --db appended; resolves with code and output. */
  cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** SIGKILL: the crash case. */
  kill(): Promise<void>;
  /** Starts again on the same db and port (after kill or stop). */
  restart(): Promise<void>;
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<CollectorHandle>();

export async function stopAllCollectors(): Promise<void> {
  await Promise.all([...live].map((c) => c.kill()));
}

function runAlastor(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [ALASTOR, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export async function startCollector(opts: CollectorStartOptions = {}): Promise<CollectorHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'alastor-collector-'));
  const db = opts.db ?? join(dir, 'store.db');
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  delete env.ALASTOR_TOKEN;
  if (opts.token !== undefined) env.ALASTOR_TOKEN = opts.token;
  let port = opts.port ?? 0;
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let all = '';

  const launch = async () => {
    const p = spawn(process.execPath, [ALASTOR, 'collector', '--db', db, '--port', String(port), '--host', '127.0.0.1'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc = p;
    let gone = false;
    exited = new Promise((resolve) => p.once('exit', () => {
      gone = true;
      resolve();
    }));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        p.kill('SIGKILL');
        reject(new Error(`collector not listening within ${opts.timeoutMs ?? 15000} ms:\n${all}`));
      }, opts.timeoutMs ?? 15000);
      const onData = (b: Buffer) => {
        all += b.toString();
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(all.slice(-2000));
        if (m) {
          port = Number(m[1]);
          clearTimeout(timer);
          resolve();
        }
      };
      p.stdout!.on('data', onData);
      p.stderr!.on('data', (b: Buffer) => (all += b.toString()));
      p.once('exit', (code, sig) => {
        if (gone) return;
        clearTimeout(timer);
        reject(new Error(`collector exited (code ${code}, signal ${sig}) before listening:\n${all}`));
      });
      exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`collector exited before listening:\n${all}`));
      });
    });
  };

  const isRunning = () => proc !== undefined && proc.exitCode === null && proc.signalCode === null;

  await launch();
  const handle: CollectorHandle = {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    db,
    dir,
    pid: () => proc?.pid ?? 0,
    logs: () => all,
    query<T>(sql: string, ...params: unknown[]): T[] {
      const conn = openStore(db, { readonly: true });
      try {
        return conn.prepare(sql).all(...params) as T[];
      } finally {
        conn.close();
      }
    },
    cli: (args) => runAlastor([...args, '--db', db], env),
    async kill() {
      if (isRunning()) {
        proc!.kill('SIGKILL');
        await exited;
      }
    },
    async restart() {
      if (isRunning()) throw new Error('collector is still running; kill() or stop() it first');
      await launch();
    },
    async stop(graceMs = 10000) {
      if (isRunning()) {
        proc!.kill('SIGTERM');
        const t = setTimeout(() => proc?.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(t);
      }
      live.delete(handle);
      if (!opts.db) rmSync(dir, { recursive: true, force: true });
    },
  };
  live.add(handle);
  return handle;
}
