// How a source's log ends, as `alastor verify` reports it: a watchdog stopped with SIGTERM closes
// its chain and every event it counted is in the store; one SIGKILLed leaves it open; a tail cut
// from the store afterwards (which the chain alone cannot show) turns a closed source open; and a
// closed source holding fewer events than its producer counted fails.
import Database from 'better-sqlite3';
import { startCollector, stopAllCollectors } from '../support/collector';
import { stopAllWatchdogs } from '../support/watchdog';
import { load, startProvWatchdog, waitFor } from '../support/provenance';
import { Chain, post, stopEvent } from '../support/batches';
import { SCHEMA_VERSION, nowUs, uuidv7 } from '../../events';
import { backends, freshStore, stopSharedPostgres } from '../support/postgres';

const TOKEN = 'closure-secret';

afterAll(async () => {
  await stopAllWatchdogs();
  await stopAllCollectors();
  await stopSharedPostgres();
});

interface End { source: string; state: string; lastBatch: number; events: number; counted?: number; storedToStats?: number }
interface Report { ok: boolean; problems: Array<{ source: string; problem: string; detail: string }>; ends: End[] }

test('a clean stop closes the chain with every counted event stored; SIGKILL and a cut tail leave it open', async () => {
  const c = await startCollector({ token: TOKEN });
  try {
    const clean = await startProvWatchdog({ collectorUrl: c.url, token: TOKEN, env: { ALASTOR_FUNCTION: 'clean-fn' } });
    const killed = await startProvWatchdog({ collectorUrl: c.url, token: TOKEN, env: { ALASTOR_FUNCTION: 'killed-fn' } });
    const N = 300;
    expect([...(await load(`${clean.url}/`, N, 4))]).toEqual([[200, N]]);
    expect([...(await load(`${killed.url}/`, N, 4))]).toEqual([[200, N]]);
    const sourceOf = (fn: string) => waitFor(() => c.query<{ source: string }>(`SELECT DISTINCT source FROM events WHERE function = ?`, fn)[0]?.source, 15000, `${fn}'s events stored`);
    const cleanSource = await sourceOf('clean-fn');
    const killedSource = await sourceOf('killed-fn');
    await clean.stop();
    await killed.stop('SIGKILL', 0);
    await waitFor(() => c.query(`SELECT 1 FROM events WHERE source = ? AND kind = 'instance.stop'`, cleanSource)[0], 15000, 'the clean stop stored');

    const v = await c.cli(['verify', '--json']);
    expect(v.code).toBe(0);
    const r = JSON.parse(v.stdout) as Report;
    const end = (s: string) => r.ends.find((e) => e.source === s)!;
    // instance.start, a start and an end per request, source.stats: all counted and all stored.
    expect(end(cleanSource)).toMatchObject({ state: 'closed', counted: 2 * N + 2, storedToStats: 2 * N + 2, events: 2 * N + 3 });
    expect(end(killedSource).state).toBe('open');
    expect(end(killedSource).counted).toBeUndefined();

    const text = await c.cli(['verify']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`open: ${killedSource}: no instance.stop`);
    expect(text.stdout).not.toContain(`open: ${cleanSource}`);

    const strict = await c.cli(['verify', '--require-closed', '--json']);
    expect(strict.code).toBe(1);
    expect((JSON.parse(strict.stdout) as Report).problems).toEqual([
      expect.objectContaining({ source: killedSource, problem: 'open' }),
    ]);

    // Cut the clean source's last batch (the one holding its stop) out of the store: the rest of
    // its chain still verifies, so only the missing stop tells.
    await c.kill();
    const db = new Database(c.db);
    const last = db.prepare(`SELECT max(seq) AS s FROM batches WHERE source = ?`).get(cleanSource) as { s: number };
    db.prepare(`DELETE FROM events WHERE source = ? AND batch_seq = ?`).run(cleanSource, last.s);
    db.prepare(`DELETE FROM batches WHERE source = ? AND seq = ?`).run(cleanSource, last.s);
    db.close();
    const cut = JSON.parse((await c.cli(['verify', '--json'])).stdout) as Report;
    expect(cut.problems).toEqual([]);
    expect(cut.ends.find((e) => e.source === cleanSource)!.state).toBe('open');
    const cutStrict = await c.cli(['verify', '--require-closed']);
    expect(cutStrict.code).toBe(1);
    expect(cutStrict.stdout).toContain(`open: ${cleanSource} seq ${last.s - 1}`);
  } finally {
    await c.stop();
  }
});

test.each(backends('closure on PostgreSQL'))('a closed source holding fewer events than its producer counted fails verify, with no gap in its chain (%s)', async (backend) => {
  const c = await startCollector({ token: TOKEN, db: await freshStore(backend) });
  try {
    const chain = new Chain(`src-${uuidv7()}`, TOKEN);
    const stats = (events: number) => ({ v: SCHEMA_VERSION, id: uuidv7(), ts: nowUs(), instance: 'i9', function: 'fn', kind: 'source.stats', counters: { events, droppedEvents: 1 } });
    // Three events before the stats, the stats itself: 4 counted, 1 of them reported dropped.
    expect((await post(`${c.url}/v1/batches`, chain.next([stopEvent('i9', { kind: 'source.stats', counters: { lines: 7 } }), stats(4), stopEvent('i9')]).body)).status).toBe(200);
    const v = await c.cli(['verify', '--json']);
    const r = JSON.parse(v.stdout) as Report;
    expect(v.code).toBe(1);
    expect(r.problems).toEqual([{ source: chain.source, seq: null, problem: 'missing', detail: 'it counted 3 event(s) up to its stop; the store holds 2' }]);

    const honest = new Chain(`src-${uuidv7()}`, TOKEN);
    expect((await post(`${c.url}/v1/batches`, honest.next([stopEvent('i10', { kind: 'source.stats', counters: { lines: 7 } })]).body)).status).toBe(200);
    expect((await post(`${c.url}/v1/batches`, honest.next([stats(3), stopEvent('i10')]).body)).status).toBe(200);
    const h = JSON.parse((await c.cli(['verify', '--json'])).stdout) as Report;
    expect(h.ends.find((e) => e.source === honest.source)).toMatchObject({ state: 'closed', counted: 2, storedToStats: 2 });
    expect(h.problems.filter((p) => p.source === honest.source)).toEqual([]);
  } finally {
    await c.stop();
  }
});
