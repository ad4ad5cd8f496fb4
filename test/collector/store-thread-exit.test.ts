// The collector's store thread dies after a commit, before it answers that commit's batches (the
// test hook ALASTOR_FAULT_STORE_EXIT_AFTER). Those batches are answered 500 although stored; the
// watchdog retries them, the new store thread recognises them, and every event is stored once.
import { startCollector, stopAllCollectors } from '../support/collector';
import { stopAllWatchdogs } from '../support/watchdog';
import { load, startProvWatchdog, waitFor } from '../support/provenance';

const TOKEN = 'store-exit-secret';

afterAll(async () => {
  await stopAllWatchdogs();
  await stopAllCollectors();
});

test('a store thread that dies mid-work loses nothing and stores nothing twice', async () => {
  const c = await startCollector({ token: TOKEN, env: { ALASTOR_FAULT_STORE_EXIT_AFTER: '3' } });
  const wd = await startProvWatchdog({ collectorUrl: c.url, token: TOKEN, env: { ALASTOR_FUNCTION: 'store-exit-fn' } });
  try {
    const N = 600;
    expect([...(await load(`${wd.url}/`, N, 8))]).toEqual([[200, N]]);
    const counts = () => c.query<{ kind: string; n: number }>(
      `SELECT kind, count(*) AS n FROM events WHERE function = 'store-exit-fn' GROUP BY kind ORDER BY kind`);
    const got = await waitFor(() => {
      const k = counts();
      return k.find((x) => x.kind === 'invocation.end')?.n === N ? k : undefined;
    }, 30000, `${N} invocation.end events stored`);
    expect(got).toEqual([
      { kind: 'instance.start', n: 1 },
      { kind: 'invocation.end', n: N },
      { kind: 'invocation.start', n: N },
    ]);
    // The thread did die with answers owed, and the watchdog had to send again.
    expect(c.logs()).toMatch(/store thread exited \(70\); \d+ request\(s\) answered 500/);
    expect(wd.logs()).toMatch(/collector unavailable \(HTTP 500\)/);
    expect(c.query(`SELECT problem FROM integrity`)).toEqual([]);
    expect((await c.cli(['verify'])).code).toBe(0);
  } finally {
    await wd.stop();
    await c.stop();
  }
});
