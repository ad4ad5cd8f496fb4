// Shipping through real processes: the collector crashes under load, is down for a long time,
// or the watchdog restarts with a spool; requests never fail and no event is lost or doubled.
import { startCollector, stopAllCollectors } from '../support/collector';
import { freePort, stopAllWatchdogs } from '../support/watchdog';
import { dirBytes, load, rssBytes, startProvWatchdog, waitFor } from '../support/provenance';

const TOKEN = 'shipping-secret';

afterAll(async () => {
  await stopAllWatchdogs();
  await stopAllCollectors();
});

test('the collector SIGKILLed and restarted under load: every request succeeds, every event is stored once', async () => {
  const c = await startCollector({ token: TOKEN });
  const wd = await startProvWatchdog({ collectorUrl: c.url, token: TOKEN, env: { ALASTOR_FUNCTION: 'crash-fn' } });
  try {
    const N = 1500;
    const running = load(`${wd.url}/`, N, 8);
    await new Promise((r) => setTimeout(r, 300));
    await c.kill();
    await new Promise((r) => setTimeout(r, 700));
    await c.restart();
    const statuses = await running;
    expect([...statuses]).toEqual([[200, N]]);
    const counts = () => c.query<{ kind: string; n: number; d: number }>(
      `SELECT kind, count(*) AS n, count(DISTINCT id) AS d FROM events WHERE function = 'crash-fn' GROUP BY kind ORDER BY kind`);
    const got = await waitFor(() => {
      const k = counts();
      return k.find((x) => x.kind === 'invocation.end')?.n === N ? k : undefined;
    }, 30000, `${N} invocation.end events stored`);
    expect(got).toEqual([
      { kind: 'instance.start', n: 1, d: 1 },
      { kind: 'invocation.end', n: N, d: N },
      { kind: 'invocation.start', n: N, d: N },
    ]);
    const seqs = c.query<{ s: number }>(`SELECT DISTINCT json_extract(body, '$.seq') AS s FROM events WHERE function = 'crash-fn' AND kind = 'invocation.start'`);
    expect(seqs).toHaveLength(N);
    const v = await c.cli(['verify']);
    expect(v.code).toBe(0);
  } finally {
    await wd.stop();
    await c.stop();
  }
});

test('memory stays bounded while the collector is down; the spool is delivered when it comes up', async () => {
  const port = await freePort();
  // A 40 MB old-space limit: if the watchdog kept what it could not deliver in memory, the
  // ~75 MB of events below would kill it with an out-of-memory error.
  const wd = await startProvWatchdog({ collectorUrl: `http://127.0.0.1:${port}`, token: TOKEN, env: { ALASTOR_FUNCTION: 'down-fn', NODE_OPTIONS: '--max-old-space-size=40' } });
  try {
    // ~14 KB per invocation.start event (path and X-Forwarded-For are recorded), under Node's 16 KB header limit.
    const pad = 'p'.repeat(8000);
    const fwd = { 'x-forwarded-for': 'f'.repeat(6000) };
    // Warm up first, so the heap has reached its working size before the measurement.
    const W = 1500;
    expect([...(await load((i) => `${wd.url}/warm/${i}?${pad}`, W, 8, fwd))]).toEqual([[200, W]]);
    const before = rssBytes(wd.pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(wd.pid))), 50);
    const N = 4000;
    const statuses = await load((i) => `${wd.url}/r/${i}?${pad}`, N, 8, fwd);
    clearInterval(sampler);
    expect([...statuses]).toEqual([[200, N]]);
    const produced = (W + N) * (pad.length + fwd['x-forwarded-for'].length);
    const spooled = await waitFor(() => (dirBytes(wd.spoolDir) > produced * 0.9 ? dirBytes(wd.spoolDir) : 0), 15000, 'events spooled to disk');
    // ~56 MB of events went by during the measurement; memory did not follow (the queue holds at
    // most 8 MB, and with the collector down every sealed batch goes straight to disk; the rest is
    // heap slack and spool writes in progress), and the watchdog is still alive.
    expect(wd.proc.exitCode).toBeNull();
    expect(peak - before).toBeLessThan(N * (pad.length + fwd['x-forwarded-for'].length) * 0.75);
    expect(spooled).toBeGreaterThan(produced * 0.9);

    const c = await startCollector({ token: TOKEN, port });
    try {
      await waitFor(() => c.query<{ n: number }>(`SELECT count(*) AS n FROM events WHERE function = 'down-fn' AND kind = 'invocation.end'`)[0].n === W + N, 120000, 'spool delivered');
      expect(c.query<{ n: number; d: number }>(`SELECT count(*) AS n, count(DISTINCT id) AS d FROM events WHERE function = 'down-fn'`)[0]).toEqual({ n: 2 * (W + N) + 1, d: 2 * (W + N) + 1 });
      await waitFor(() => dirBytes(wd.spoolDir) < 100, 10000, 'spool emptied');
      expect((await c.cli(['verify'])).code).toBe(0);
    } finally {
      await c.stop();
    }
  } finally {
    await wd.stop();
  }
}, 300000);

test('a spool left by a stopped watchdog is delivered by the next one, batches unchanged', async () => {
  const port = await freePort();
  const first = await startProvWatchdog({ collectorUrl: `http://127.0.0.1:${port}`, token: TOKEN, env: { ALASTOR_FUNCTION: 'respawn-fn' } });
  expect([...(await load(`${first.url}/`, 50, 4))]).toEqual([[200, 50]]);
  await first.stop(); // SIGTERM: what could not be delivered is spooled
  expect(first.logs()).toMatch(/batch\(es\) left in/);
  expect(dirBytes(first.spoolDir)).toBeGreaterThan(0);

  const c = await startCollector({ token: TOKEN, port });
  const second = await startProvWatchdog({ collectorUrl: c.url, token: TOKEN, spoolDir: first.spoolDir, env: { ALASTOR_FUNCTION: 'respawn-fn' } });
  try {
    const instances = await waitFor(() => {
      const rows = c.query<{ instance: string; n: number }>(`SELECT instance, count(*) AS n FROM events WHERE function = 'respawn-fn' AND kind = 'invocation.start' GROUP BY instance`);
      return rows.length === 1 && rows[0].n === 50 ? rows : undefined;
    }, 20000, 'the first instance\'s 50 invocations');
    // The first instance's own source, chain from seq 1, ends with its instance.stop.
    const src = c.query<{ source: string; n: number; min: number }>(`SELECT source, count(*) AS n, min(seq) AS min FROM batches GROUP BY source`);
    expect(src.map((s) => s.source)).toContain(instances[0].instance);
    expect(src.find((s) => s.source === instances[0].instance)!.min).toBe(1);
    await waitFor(() => c.query(`SELECT 1 FROM events WHERE kind = 'instance.stop' AND instance = ?`, instances[0].instance).length === 1);
    expect((await c.cli(['verify'])).code).toBe(0);
  } finally {
    await second.stop();
    await c.stop();
  }
});
