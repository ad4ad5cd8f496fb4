// A throwaway PostgreSQL cluster for tests: initdb in a fresh temp dir, listening only on
// 127.0.0.1 at a port below the ephemeral range, password auth (the password reaches the CLI as
// libpq users give it: PGPASSWORD), stopped by its postmaster's pid and its dir removed at the end.
// PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user.
//
//   const pg = await startPostgres();          // or undefined (skipped) outside CI without binaries
//   const url = pg.createDatabase('t1');        // postgres://alastor@127.0.0.1:PORT/t1
//   await pg.stop();
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './watchdog';

export const PG_PASSWORD = 'alastor-test-pw';
const USER = 'alastor';

export interface PostgresCluster {
  /** postgres://alastor@127.0.0.1:PORT/<db>; the password is in process.env.PGPASSWORD. */
  url(db: string): string;
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): string;
  /** Runs SQL with psql against a database; returns its unaligned output. */
  psql(db: string, sql: string): string;
  readonly port: number;
  stop(): Promise<void>;
}

function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0], 'bin') : undefined;
}

/**
 * Why PostgreSQL tests cannot run here, or undefined. With CI=true they always run: a machine
 * without the binaries must fail there (.ci/run installs them), not skip.
 */
export function postgresSkip(what: string): string | undefined {
  if (process.env.CI === 'true' || binDir()) return undefined;
  const reason = 'no PostgreSQL binaries under /usr/lib/postgresql (apt-get install postgresql)';
  console.log(`skipping ${what}: ${reason}`);
  return reason;
}

export async function startPostgres(): Promise<PostgresCluster> {
  const bin = binDir();
  if (!bin) throw new Error('no PostgreSQL binaries under /usr/lib/postgresql (apt-get install postgresql)');
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'alastor-pg-'));
  const data = join(dir, 'data');
  const pwfile = join(dir, 'pw');
  writeFileSync(pwfile, `${PG_PASSWORD}\n`);
  let uid = -1;
  if (asRoot) {
    uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
    chownSync(pwfile, uid, gid);
  }
  chmodSync(dir, 0o700);
  const run = (cmd: string, args: string[]) => {
    const full = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]] as const : [join(bin, cmd), args] as const;
    const r = spawnSync(full[0], full[1] as string[], { encoding: 'utf8', cwd: dir, env: { ...process.env, LC_ALL: 'C' } });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
    return r.stdout;
  };
  const port = await freePort();
  try {
    run('initdb', ['-D', data, '-U', USER, '-A', 'scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--no-sync']);
    // Loopback only, socket in the private dir, no durability work the tests do not need.
    run('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`, 'start']);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  process.env.PGPASSWORD = PG_PASSWORD;
  const url = (db: string) => `postgres://${USER}@127.0.0.1:${port}/${db}`;
  const psql = (db: string, sql: string) => {
    const r = spawnSync(join(bin, 'psql'), ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', url(db), '-c', sql], { encoding: 'utf8', env: { ...process.env, PGPASSWORD: PG_PASSWORD } });
    if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
    return r.stdout.trim();
  };
  return {
    port,
    url,
    psql,
    createDatabase(name: string) {
      psql('postgres', `CREATE DATABASE ${name}`);
      return url(name);
    },
    async stop() {
      const pidFile = join(data, 'postmaster.pid');
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : 0;
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGQUIT'); // immediate shutdown: the data is thrown away
        } catch {
          // already gone
        }
        const deadline = Date.now() + 15000;
        while (Date.now() < deadline) {
          try {
            process.kill(pid, 0);
          } catch {
            break;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type Backend = 'sqlite' | 'postgres';

/** The backends a store-level test runs against: both, or SQLite alone outside CI without PostgreSQL. */
export function backends(what: string): Backend[] {
  return postgresSkip(what) ? ['sqlite'] : ['sqlite', 'postgres'];
}

let shared: Promise<PostgresCluster> | undefined;
let made = 0;

/** One cluster per test file, started on first use; stop it in afterAll with stopSharedPostgres. */
export function sharedPostgres(): Promise<PostgresCluster> {
  shared ??= startPostgres();
  return shared;
}

/** A fresh store for one collector: undefined (its own temp SQLite file) or a new database. */
export async function freshStore(b: Backend): Promise<string | undefined> {
  if (b === 'sqlite') return undefined;
  return (await sharedPostgres()).createDatabase(`t${process.pid}_${++made}`);
}

export async function stopSharedPostgres(): Promise<void> {
  const s = shared;
  shared = undefined;
  if (s) await (await s).stop();
}
