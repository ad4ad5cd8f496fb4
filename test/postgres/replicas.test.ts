// Two collectors on one PostgreSQL database behind a round-robin front (what a Service does):
// fwatchdogs ship to both, consecutive batches of one source land on different collectors, and
// one collector is SIGKILLed under load, so batches it had in flight are retried through the
// other. Every event must be stored exactly once, `verify --require-closed` must be clean, the
// graph must be finished by the surviving collector (the builder's lock passes over), and
// `trace back` must answer as it does on SQLite from the same events.
import { spawnSync } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALASTOR, startCollector, stopAllCollectors, type CollectorHandle } from '../support/collector';
import { stopAllWatchdogs } from '../support/watchdog';
import { load, startProvWatchdog, waitFor } from '../support/provenance';
import { postgresSkip, sharedPostgres, stopSharedPostgres } from '../support/postgres';
import { openStore } from '../../collector/store/open';
import { appender, type EventRow } from '../../collector/store/append';

const TOKEN = 'replicas-secret';
const skip = postgresSkip('two collectors on PostgreSQL');

afterAll(async () => {
  await stopAllWatchdogs();
  await stopAllCollectors();
  await stopSharedPostgres();
});

/** Round-robin HTTP front; a backend that refuses the connection is skipped for the next one. */
function front(backends: () => string[]): Promise<Server & { url: string }> {
  let i = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const list = backends();
      const attempt = (left: number) => {
        const target = new URL(req.url ?? '/', list[i++ % list.length]);
        const out = request(target, { method: req.method, headers: req.headers }, (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        });
        out.on('error', (e: NodeJS.ErrnoException) => {
          if (e.code === 'ECONNREFUSED' && left > 1) attempt(left - 1);
          else if (!res.headersSent) res.writeHead(502).end();
          else res.destroy();
        });
        out.end(body);
      };
      attempt(list.length);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(Object.assign(server, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }))));
}

const N = 400;

(skip ? test.skip : test)('two collectors share one database; one is SIGKILLed under load; every event once, verify clean, trace as on SQLite', async () => {
  const pg = await sharedPostgres();
  const url = pg.createDatabase('replicas');
  const a = await startCollector({ token: TOKEN, db: url });
  // a starts first and becomes the graph builder (its lock is seen in pg_locks) before b starts.
  const builder = () => pg.psql('replicas', `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 7311004 AND granted`);
  await waitFor(() => builder() === '1' || undefined, 15000, 'a builds the graph');
  const b = await startCollector({ token: TOKEN, db: url });
  let live: CollectorHandle[] = [a, b];
  const lb = await front(() => live.map((c) => c.url));
  const dir = mkdtempSync(join(tmpdir(), 'alastor-replicas-'));
  try {
    const fns = ['fa', 'fb', 'fc'];
    const wds = await Promise.all(fns.map((f) => startProvWatchdog({ collectorUrl: lb.url, token: TOKEN, env: { ALASTOR_FUNCTION: f } })));
    const loads = wds.map((w) => load(`${w.url}/`, N, 4));
    await waitFor(() => Number(pg.psql('replicas', 'SELECT count(*) FROM events')) > 200 || undefined, 20000, 'ingest under way');
    await a.kill();
    live = [b];
    for (const l of await Promise.all(loads)) expect([...l]).toEqual([[200, N]]);
    // A clean stop ships the rest and closes each chain with its counted stats.
    await Promise.all(wds.map((w) => w.stop()));
    const perFn = () => Object.fromEntries(b.query<{ function: string; n: number }>(`SELECT function, count(*) AS n FROM events GROUP BY function`).map((r) => [r.function, r.n]));
    await waitFor(() => fns.every((f) => perFn()[f] === 2 * N + 3) || undefined, 30000, 'every event stored');
    // instance.start, a start and an end per request, source.stats, instance.stop: exactly once each.
    expect(perFn()).toEqual({ fa: 2 * N + 3, fb: 2 * N + 3, fc: 2 * N + 3 });

    const v = await b.cli(['verify', '--require-closed', '--json']);
    const report = JSON.parse(v.stdout) as { ok: boolean; problems: unknown[]; ends: Array<{ state: string; counted?: number; storedToStats?: number }> };
    expect(report.problems).toEqual([]);
    expect(report.ends).toHaveLength(3);
    for (const e of report.ends) expect(e).toMatchObject({ state: 'closed', counted: 2 * N + 2, storedToStats: 2 * N + 2 });
    expect([v.code, (report as unknown as { recorded: unknown[] }).recorded.filter((r) => (r as { problem: string }).problem !== 'gap')]).toEqual([0, []]);

    // The graph: a held the builder's lock and died; b must take over and reach the last event.
    const behind = () => Number(pg.psql('replicas', `SELECT count(*) FROM events
      WHERE (xid, seq) > ((SELECT v FROM graph_state WHERE k = 'xid')::text::xid8, (SELECT v FROM graph_state WHERE k = 'seq'))`));
    await waitFor(() => behind() === 0 || undefined, 30000, 'the graph built to the end by b').catch((e: Error) => {
      throw new Error(`${e.message}\n${b.logs()}`);
    });
    expect(builder()).toBe('1');

    // The same events, in the order the PostgreSQL graph applied them, in a SQLite store.
    const sqliteFile = join(dir, 'same.db');
    const lite = openStore(sqliteFile);
    const rows = b.query<EventRow & { batch_seq: number | null }>(`SELECT id, kind, ts, instance, function, invocation, source, batch_seq, body FROM events ORDER BY xid, seq`);
    appender(lite).events(rows.map((r) => ({ ...r, batchSeq: r.batch_seq })));
    lite.close();
    const inv = b.query<{ invocation: string }>(`SELECT invocation FROM events WHERE function = 'fb' AND kind = 'invocation.end' ORDER BY ts DESC LIMIT 1`)[0].invocation;
    const onPg = await b.cli(['trace', 'back', inv, '--json']);
    const onLite = spawnSync(process.execPath, [ALASTOR, 'trace', 'back', inv, '--json', '--db', sqliteFile], { encoding: 'utf8' });
    expect(onPg.code).toBe(0);
    expect(onLite.status).toBe(0);
    expect(JSON.parse(onPg.stdout)).toEqual(JSON.parse(onLite.stdout));
  } finally {
    lb.close();
    await b.stop();
    await a.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 180000);
