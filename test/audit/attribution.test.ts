// Attribution levels end to end: the real fwatchdog (http mode, one upstream serving every request)
// with ALASTOR_AUDIT=on, real auditd, the real collector. What each act is attributed to, and how
// sure that is, as `alastor events` lists it: a background process keeps the request it was born
// in; time alone never passes for exact when two requests are in flight (slack included), but the
// function's claims, checked against the kernel, tell concurrent requests apart; threads
// of the thread pool are not processes; a file planted outside the read directories is watched,
// so the later read of it is recorded.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { START_SLACK_US } from '../../watchdog/audit/attribute';
import { ensureAuditd, rulesWithKeyPrefix } from '../support/audit-log';
import { startCollector, stopAllCollectors, type CollectorHandle } from '../support/collector';
import { call, waitFor } from '../support/provenance';
import { freePort, startWatchdog, stopAllWatchdogs, type WatchdogHandle } from '../support/watchdog';

// Real processes on a shared, often loaded machine: generous per-test time.
jest.setTimeout(120000);

const skip = ensureAuditd();
if (skip) console.log(`skipping the audit attribution tests: ${skip}`);
const maybe = skip ? describe.skip : describe;

const TOKEN = 'audit-attribution-secret';
const UPSTREAM = join(__dirname, 'fixtures', 'upstream.js');

interface Sys {
  kind: string;
  ts: number;
  syscall: string;
  success: boolean;
  exit: number;
  pid: number;
  ppid: number;
  invocation?: string;
  argv?: string[];
  paths: Array<{ name: string; nametype: string }>;
  outsideInvocation?: boolean;
  attribution?: string;
  basis?: string;
  alsoIn?: string[];
  write?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

maybe('attribution levels through a real fwatchdog', () => {
  let c: CollectorHandle;
  let dir: string;

  beforeAll(async () => {
    c = await startCollector({ token: TOKEN });
    dir = mkdtempSync(join(tmpdir(), 'alastor-attr-'));
  });
  afterAll(async () => {
    await stopAllWatchdogs();
    await c.stop();
    await stopAllCollectors();
    rmSync(dir, { recursive: true, force: true });
  });

  async function httpWatchdog(fn: string): Promise<WatchdogHandle> {
    const up = await freePort();
    const wd = await startWatchdog({
      env: {
        mode: 'http', fprocess: `${process.execPath} ${UPSTREAM}`, upstream_url: `http://127.0.0.1:${up}`, UPSTREAM_PORT: String(up),
        ALASTOR_COLLECTOR_URL: c.url, ALASTOR_TOKEN: TOKEN, ALASTOR_FUNCTION: fn, ALASTOR_AUDIT: 'on',
        ALASTOR_SPOOL_DIR: mkdtempSync(join(tmpdir(), 'alastor-spool-')), suppress_lock: 'true',
      },
      timeoutMs: 20000,
    });
    await wd.waitForLog(/audit: tailer \d+ following/, 15000);
    return wd;
  }

  const request = async (wd: WatchdogHandle, ops: object[]) => {
    const r = await call(`${wd.url}/`, { method: 'POST', body: JSON.stringify(ops) });
    expect(r.status).toBe(200);
    const out = r.json() as { pid: number; spawned: number[]; error?: string };
    expect(out.error).toBeUndefined();
    return { id: r.headers['x-alastor-invocation'] as string, ...out };
  };

  const syscalls = async (fn: string): Promise<Sys[]> => {
    const r = await c.cli(['events', '--kind', 'syscall', '--json']);
    if (r.code !== 0) throw new Error(r.stderr);
    return (JSON.parse(r.stdout) as Array<Sys & { function: string }>).filter((e) => e.function === fn);
  };

  const startOf = async (id: string): Promise<number> => {
    const r = await c.cli(['events', '--invocation', id, '--kind', 'invocation.start', '--json']);
    return (JSON.parse(r.stdout) as Array<{ ts: number }>)[0].ts;
  };

  test('a background process spawned by request A acts while B is in flight: its acts are A\'s (lineage), never B\'s', async () => {
    const fn = 'attr-lineage';
    const wd = await httpWatchdog(fn);
    const planted = join(dir, `planted-${process.pid}-${Date.now()}`);
    // A plants `sleep 1; echo x > planted; cat planted` and answers at once.
    const a = await request(wd, [{ op: 'plant', file: planted, delay: 1 }]);
    await sleep(300);
    // B is in flight from ~0.3 s to ~2.3 s: the planted process acts inside B's window only.
    const b = await request(wd, [{ op: 'hold', ms: 2000 }]);
    const sh = a.spawned[0];
    const all = await waitFor(async () => {
      const evs = await syscalls(fn);
      const cat = evs.find((e) => e.syscall === 'execve' && e.argv?.[0] === 'cat' && e.ppid === sh);
      return cat && evs.some((e) => e.pid === cat.pid && e.syscall === 'openat' && e.paths.some((p) => p.name === planted)) ? evs : undefined;
    }, 20000, 'the planted process\'s acts in the store');
    const bStart = await startOf(b.id);
    // The subtree of the planted sh: sh itself, sleep, cat.
    const subtree = new Set([sh]);
    for (const e of all) if (e.syscall === 'execve' && subtree.has(e.ppid)) subtree.add(e.pid);
    const acts = all.filter((e) => subtree.has(e.pid));
    const create = acts.find((e) => e.paths.some((p) => p.name === planted && p.nametype === 'CREATE'))!;
    expect(create.ts).toBeGreaterThan(bStart); // it did act while B was in flight
    const read = acts.find((e) => e.syscall === 'openat' && e.pid !== sh && e.paths.some((p) => p.name === planted))!;
    const execs = acts.filter((e) => e.syscall === 'execve');
    expect(execs.map((e) => e.argv?.[0]).sort()).toEqual(['cat', 'sh', 'sleep']);
    for (const e of [create, read, ...execs]) {
      expect(e).toMatchObject({ invocation: a.id, attribution: 'exact', basis: 'lineage' });
      expect(e.alsoIn).toBeUndefined();
    }
    expect(acts.every((e) => e.invocation === a.id && !e.alsoIn?.includes(b.id))).toBe(true);
    // The upstream's own clone of sh happened in A alone: exact by its window.
    expect(all.find((e) => e.syscall === 'clone' && e.exit === sh)).toMatchObject({ invocation: a.id, attribution: 'exact', basis: 'window' });
    await wd.stop();
  });

  test('acts of the upstream within the start slack of a later request are guesses between both', async () => {
    const fn = 'attr-slack';
    const wd = await httpWatchdog(fn);
    const burst = join(dir, 'burst');
    mkdirSync(burst);
    // A blocks the upstream for 400 ms, creating a file about every millisecond; B arrives at the
    // watchdog 150 ms in (its window opens then, though the upstream serves it only after A).
    const pa = request(wd, [{ op: 'burst', dir: burst, ms: 400 }]);
    await sleep(150);
    const b = await request(wd, []);
    const a = await pa;
    const evs = await waitFor(async () => {
      const all = await syscalls(fn);
      const creates = all.filter((e) => e.paths.some((p) => p.nametype === 'CREATE' && p.name.startsWith(`${burst}/burst.`)));
      return creates.length > 0 && all.some((e) => e.syscall === 'accept4' && e.invocation === b.id) ? creates : undefined;
    }, 20000, 'the burst in the store');
    await sleep(1000); // the rest of the burst
    const creates = (await syscalls(fn)).filter((e) => e.paths.some((p) => p.nametype === 'CREATE' && p.name.startsWith(`${burst}/burst.`)));
    expect(creates.length).toBeGreaterThanOrEqual(evs.length);
    const bStart = await startOf(b.id);
    const before = creates.filter((e) => e.ts < bStart - START_SLACK_US);
    const slackOnly = creates.filter((e) => e.ts >= bStart - START_SLACK_US && e.ts < bStart);
    const both = creates.filter((e) => e.ts >= bStart);
    expect(before.length).toBeGreaterThan(0);
    expect(slackOnly.length).toBeGreaterThan(0);
    expect(both.length).toBeGreaterThan(0);
    // Both requests are candidates wherever B's window fits, within its slack too (before, an exact
    // fit beat a fit within the slack, and such an act went to A as if certain).
    for (const e of [...slackOnly, ...both]) {
      expect([e.invocation, ...(e.alsoIn ?? [])].sort()).toEqual([a.id, b.id].sort());
      expect(e).toMatchObject({ attribution: 'guess', basis: 'time' });
    }
    for (const e of before) expect(e).toMatchObject({ invocation: a.id, attribution: 'exact', basis: 'window' });
    // Nothing in this run is exact for the wrong request.
    expect(creates.some((e) => e.invocation === b.id && e.attribution === 'exact')).toBe(false);
    await wd.stop();
  });

  test('claims on the watchdog\'s claim pipe: concurrent acts come out corroborated, each with its own request', async () => {
    const fn = 'attr-claims';
    const wd = await httpWatchdog(fn);
    const f = (n: string) => join(dir, `claims-${n}.txt`);
    // A waits 300 ms, then writes and spawns; B arrives 150 ms in, writes and spawns at once, and
    // stays 400 ms: every act falls while both are in flight. c.txt is written unclaimed.
    const pa = request(wd, [{ op: 'hold', ms: 300 }, { op: 'write', path: f('a'), claim: true }, { op: 'spawn', file: f('sa'), claim: true }]);
    await sleep(150);
    const b = await request(wd, [{ op: 'write', path: f('b'), claim: true }, { op: 'spawn', file: f('sb'), claim: true }, { op: 'write', path: f('c') }, { op: 'hold', ms: 400 }]);
    const a = await pa;
    const createOf = (evs: Sys[], n: string) => evs.find((e) => e.paths.some((p) => p.name === f(n) && p.nametype === 'CREATE'));
    const all = await waitFor(async () => {
      const evs = await syscalls(fn);
      return ['a', 'b', 'c', 'sa', 'sb'].every((n) => createOf(evs, n)) ? evs : undefined;
    }, 20000, 'every act in the store');
    expect(createOf(all, 'a')).toMatchObject({ pid: a.pid, invocation: a.id, attribution: 'corroborated', basis: 'claim' });
    expect(createOf(all, 'b')).toMatchObject({ pid: b.pid, invocation: b.id, attribution: 'corroborated', basis: 'claim' });
    // The spawn claims corroborate the clones; the shells are born corroborated and act by lineage.
    for (const [r, n] of [[a, 'sa'], [b, 'sb']] as const) {
      const sh = r.spawned[0];
      expect(all.find((e) => e.pid === a.pid && e.exit === sh && ['clone', 'clone3', 'vfork', 'fork'].includes(e.syscall))).toMatchObject({ invocation: r.id, attribution: 'corroborated', basis: 'claim' });
      expect(createOf(all, n)).toMatchObject({ pid: sh, invocation: r.id, attribution: 'corroborated', basis: 'lineage' });
    }
    // Unclaimed, in the overlap: a guess between both.
    const c = createOf(all, 'c')!;
    expect(c).toMatchObject({ attribution: 'guess', basis: 'time' });
    expect([c.invocation, ...(c.alsoIn ?? [])].sort()).toEqual([a.id, b.id].sort());
    await wd.stop();
  });

  test('libuv thread-pool threads are not processes started by the request', async () => {
    const fn = 'attr-threads';
    const wd = await httpWatchdog(fn);
    const up = await request(wd, []); // the upstream's pid
    const t = await request(wd, [{ op: 'threads', dir }]);
    // The pool's write, through a thread (audit names the thread group: the upstream's pid).
    const all = await waitFor(async () => {
      const evs = await syscalls(fn);
      return evs.some((e) => e.paths.some((p) => p.name.endsWith('via-thread-pool.txt') && p.nametype === 'CREATE')) ? evs : undefined;
    }, 20000, 'the thread pool\'s write in the store');
    // No process creation at all by the upstream: the request spawned nothing, the pool made threads.
    const clones = all.filter((e) => e.pid === up.pid && ['clone', 'clone3', 'fork', 'vfork'].includes(e.syscall));
    expect(clones.map((e) => `${e.syscall} -> ${e.exit}`)).toEqual([]);
    const write = all.find((e) => e.paths.some((p) => p.name.endsWith('via-thread-pool.txt') && p.nametype === 'CREATE'))!;
    expect(write).toMatchObject({ pid: up.pid, invocation: t.id, attribution: 'exact', write: true });
    await wd.stop();
    const stats = c.query<{ body: string }>("SELECT body FROM events WHERE kind = 'source.stats'").map((r) => JSON.parse(r.body) as { function: string; counters: Record<string, number> });
    const mine = stats.filter((s) => s.function === fn && s.counters['audit.threadClones'] !== undefined);
    expect(mine[mine.length - 1].counters['audit.threadClones']).toBeGreaterThan(0);
  });

  test('a file written by request A outside the read directories and read by request B: B\'s read is recorded', async () => {
    const fn = 'attr-watch';
    // Not under /tmp, /dev/shm or /var/tmp: where only written files' opens are audited.
    const outside = mkdtempSync('/var/lib/alastor-test-');
    try {
      const wd = await httpWatchdog(fn);
      const planted = join(outside, 'planted.js');
      const a = await request(wd, [{ op: 'write', path: planted }]);
      // The tailer adds a read rule for exactly that file, under the watchdog's key.
      await waitFor(() => rulesWithKeyPrefix(`alastor_${wd.pid}_`).some((l) => l.includes(`path=${planted} `)) || undefined, 15000, 'the read rule for the planted file');
      const b = await request(wd, [{ op: 'read', path: planted }]);
      const opens = await waitFor(async () => {
        const evs = (await syscalls(fn)).filter((e) => e.paths.some((p) => p.name === planted));
        return evs.some((e) => e.invocation === b.id) ? evs : undefined;
      }, 20000, 'B\'s read of the planted file');
      const create = opens.find((e) => e.paths.some((p) => p.nametype === 'CREATE'))!;
      expect(create).toMatchObject({ syscall: 'openat', invocation: a.id, write: true });
      const read = opens.find((e) => e.invocation === b.id)!;
      expect(read).toMatchObject({ syscall: 'openat', success: true, write: false, attribution: 'exact' });
      await wd.stop();
      expect(rulesWithKeyPrefix(`alastor_${wd.pid}_`)).toEqual([]);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
