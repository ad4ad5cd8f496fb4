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
