// Helpers for fwatchdog's own tests: fixture paths and a raw HTTP client (node:http, no agent) that
// sends exactly the headers given and records when each body chunk arrived.
import { request } from 'node:http';
import { join } from 'node:path';

export const FIXTURES = join(__dirname, '..', 'watchdog', 'fixtures');
export const NODE = process.execPath;

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** ms after the request was sent, one per body chunk. */
  chunkTimes: number[];
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | string | AsyncIterable<Buffer>;
  timeoutMs?: number;
}

/** One request; rejects on a connection error or reset (e.g. a destroyed response). */
export function send(url: string, opts: SendOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false, timeout: opts.timeoutMs ?? 20000 }, (res) => {
      const chunks: Buffer[] = [];
      const chunkTimes: number[] = [];
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        chunkTimes.push(Date.now() - t0);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), chunkTimes }));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('response aborted')));
    });
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    const body = opts.body;
    if (body === undefined) req.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else {
      (async () => {
        for await (const c of body) if (!req.write(c)) await new Promise((r) => req.once('drain', r));
        req.end();
      })().catch((e) => req.destroy(e));
    }
  });
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
