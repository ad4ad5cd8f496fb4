// Helpers for provenance tests: an fwatchdog running the test upstream with provenance on, and
// waiting for events to reach the collector's store.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { freePort, startWatchdog, type WatchdogHandle } from './watchdog';

export const FIXTURES = join(__dirname, '..', 'provenance', 'fixtures');

export interface ProvOptions {
  collectorUrl: string;
  token?: string;
  mode?: 'http' | 'streaming' | 'serializing';
  env?: Record<string, string | undefined>;
  spoolDir?: string;
}

/** fwatchdog in http mode over test/provenance/fixtures/upstream.js (or forked.js for fork modes). */
export async function startProvWatchdog(o: ProvOptions): Promise<WatchdogHandle & { spoolDir: string }> {
  const mode = o.mode ?? 'http';
  const spoolDir = o.spoolDir ?? mkdtempSync(join(tmpdir(), 'alastor-spool-'));
  const env: Record<string, string | undefined> = {
    mode,
    ALASTOR_COLLECTOR_URL: o.collectorUrl,
    ALASTOR_TOKEN: o.token,
    ALASTOR_FUNCTION: 'prov-test',
    ALASTOR_SPOOL_DIR: spoolDir,
    suppress_lock: 'true',
    ...o.env,
  };
  if (mode === 'http') {
    const up = await freePort();
    env.fprocess = `${process.execPath} ${join(FIXTURES, 'upstream.js')}`;
    env.upstream_url = `http://127.0.0.1:${up}`;
    env.UPSTREAM_PORT = String(up);
  } else {
    env.fprocess = `${process.execPath} ${join(FIXTURES, 'forked.js')}`;
  }
  const wd = await startWatchdog({ env });
  return Object.assign(wd, { spoolDir });
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json(): any;
}

export function call(url: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? (opts.body ? 'POST' : 'GET'), headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString()) });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Polls until check() returns a truthy value (returned), or throws with the last value after timeoutMs. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 15000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    try {
      last = await check();
      if (last) return last as NonNullable<T>;
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Sends n GET requests with `concurrency` keep-alive connections; resolves with the status counts. */
export async function load(url: string | ((i: number) => string), n: number, concurrency: number, headers: Record<string, string> = {}): Promise<Map<number, number>> {
  const { Agent } = await import('node:http');
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const counts = new Map<number, number>();
  let next = 0;
  const one = (u: string) =>
    new Promise<number>((resolve) => {
      const req = request(u, { agent, headers }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end();
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const s = await one(typeof url === 'string' ? url : url(i));
        counts.set(s, (counts.get(s) ?? 0) + 1);
      }
    }),
  );
  agent.destroy();
  return counts;
}

/** Resident set size of a process in bytes (Linux). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(require('node:fs').readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Total size of the files in a directory (the spool). */
export function dirBytes(dir: string): number {
  const fs = require('node:fs') as typeof import('node:fs');
  let n = 0;
  for (const f of fs.readdirSync(dir)) {
    try {
      n += fs.statSync(join(dir, f)).size;
    } catch {
      /* delivered meanwhile */
    }
  }
  return n;
}
