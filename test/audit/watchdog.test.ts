// End to end: the real fwatchdog with ALASTOR_AUDIT=on runs its audit tailer child; a function
// writes a file, spawns a process and connects to a loopback server; the real collector stores the
// syscalls, and `alastor events --kind syscall --json` lists them under the right invocation.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCollector, stopAllCollectors, type CollectorHandle } from '../support/collector';
import { freePort, startWatchdog, stopAllWatchdogs, type WatchdogHandle } from '../support/watchdog';
import { call, waitFor } from '../support/provenance';
import { ensureAuditd, rulesWithKeyPrefix } from '../support/audit-log';

// Real processes on a shared, often loaded machine: generous per-test time.
jest.setTimeout(120000);

const skip = ensureAuditd();
if (skip) console.log(`skipping the fwatchdog audit tests: ${skip}`);
const maybe = skip ? describe.skip : describe;

const TOKEN = 'audit-e2e-secret';
const FIXTURE = join(__dirname, 'fixtures', 'actions.js');

interface Sys {
  kind: string;
  syscall: string;
  pid: number;
  ppid: number;
  invocation?: string;
  instance: string;
  function: string;
  argv?: string[];
  paths: Array<{ name: string; nametype: string }>;
  sockaddr?: { family: string; address?: string; port?: number };
  outsideInvocation?: boolean;
  alsoIn?: string[];
  attribution?: string;
  basis?: string;
}

maybe('fwatchdog with ALASTOR_AUDIT=on', () => {
  let c: CollectorHandle;
  let server: Server;
  let port: number;
  let dir: string;

  beforeAll(async () => {
    c = await startCollector({ token: TOKEN });
    server = createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
    dir = mkdtempSync(join(tmpdir(), 'alastor-audit-e2e-'));
  });
  afterAll(async () => {
    await stopAllWatchdogs();
    await c.stop();
    await stopAllCollectors();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const syscalls = async (): Promise<Sys[]> => {
    const r = await c.cli(['events', '--kind', 'syscall', '--json']);
    if (r.code !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout);
  };

  async function scenario(mode: 'streaming' | 'http', fn: string) {
    const env: Record<string, string> = {
      mode,
      fprocess: `${process.execPath} ${FIXTURE}`,
      ALASTOR_COLLECTOR_URL: c.url,
      ALASTOR_TOKEN: TOKEN,
      ALASTOR_FUNCTION: fn,
      ALASTOR_AUDIT: 'on',
      ALASTOR_SPOOL_DIR: mkdtempSync(join(tmpdir(), 'alastor-spool-')),
      suppress_lock: 'true',
    };
    if (mode === 'http') {
      const up = await freePort();
      env.upstream_url = `http://127.0.0.1:${up}`;
      env.UPSTREAM_PORT = String(up);
    }
    const wd: WatchdogHandle = await startWatchdog({ env, timeoutMs: 20000 });
    await wd.waitForLog(/audit: tailer \d+ following/, 15000);
    const ids: string[] = [];
    for (const file of [`${fn}-one.txt`, `${fn}-two.txt`]) {
      const r = await call(`${wd.url}/`, { method: 'POST', body: JSON.stringify({ dir, file, port }) });
      expect(r.status).toBe(200);
      expect(r.json().error).toBeUndefined();
      ids.push(r.headers['x-alastor-invocation'] as string);
      // Audit stamps records to the millisecond and, in http mode, one upstream pid serves every
      // request, so only time separates two invocations: back to back within the same
      // millisecond they cannot be told apart (a known limit, in the closing note). Keep them apart.
      await new Promise((r) => setTimeout(r, 20));
    }
    const all = await waitFor(async () => {
      const evs = (await syscalls()).filter((e) => e.function === fn);
      const created = (f: string) => evs.some((e) => e.paths.some((p) => p.name.endsWith(f) && p.nametype === 'CREATE'));
      const connects = evs.filter((e) => e.syscall === 'connect' && e.sockaddr?.port === port);
      return created(`${fn}-one.txt`) && created(`${fn}-two.txt`) && connects.length >= 2 ? evs : undefined;
    }, 20000, `${fn}: both invocations' syscalls in the store`);

    for (const [i, id] of ids.entries()) {
      const file = `${fn}-${i === 0 ? 'one' : 'two'}.txt`;
      const create = all.find((e) => e.paths.some((p) => p.name.endsWith(file) && p.nametype === 'CREATE'))!;
      // Fork modes: the forked process is born in its request; http mode: one request in flight at a time.
      expect(create).toMatchObject({ syscall: 'openat', invocation: id, attribution: 'exact', basis: mode === 'http' ? 'window' : 'fork' });
      const sh = all.find((e) => e.syscall === 'execve' && e.argv?.[2] === `cat ${file} > /dev/null`)!;
      expect(sh).toMatchObject({ argv: ['sh', '-c', `cat ${file} > /dev/null`], invocation: id, ppid: create.pid, attribution: 'exact', basis: 'lineage' });
      const cat = all.find((e) => e.syscall === 'execve' && e.ppid === sh.pid)!;
      expect(cat).toMatchObject({ argv: ['cat', file], invocation: id });
      const connect = all.find((e) => e.syscall === 'connect' && e.pid === create.pid && e.sockaddr?.port === port && e.invocation === id);
      expect(connect?.sockaddr).toEqual({ family: 'inet', address: '127.0.0.1', port });
    }
    expect(new Set(all.map((e) => e.instance)).size).toBe(1);
    await wd.stop();
    expect(rulesWithKeyPrefix(`alastor_${wd.pid}_`)).toEqual([]);
    return all;
  }

  test('fork mode (streaming): each request\'s forked process and its children, per invocation', async () => {
    await scenario('streaming', 'audit-fork');
  });

  test('http mode, two requests in flight together: what time cannot separate is named a guess (alsoIn)', async () => {
    const fn = 'audit-overlap';
    const up = await freePort();
    const wd = await startWatchdog({
      env: {
        mode: 'http', fprocess: `${process.execPath} ${FIXTURE}`, upstream_url: `http://127.0.0.1:${up}`, UPSTREAM_PORT: String(up),
        ALASTOR_COLLECTOR_URL: c.url, ALASTOR_TOKEN: TOKEN, ALASTOR_FUNCTION: fn, ALASTOR_AUDIT: 'on',
        ALASTOR_SPOOL_DIR: mkdtempSync(join(tmpdir(), 'alastor-spool-')), suppress_lock: 'true',
      },
      timeoutMs: 20000,
    });
    await wd.waitForLog(/audit: tailer \d+ following/, 15000);
    // A waits 600 ms before it acts; B arrives 150 ms after A and acts at once, inside A's window.
    const a = call(`${wd.url}/`, { method: 'POST', body: JSON.stringify({ dir, file: `${fn}-a.txt`, port, hold: 600 }) });
    await new Promise((r) => setTimeout(r, 150));
    const b = await call(`${wd.url}/`, { method: 'POST', body: JSON.stringify({ dir, file: `${fn}-b.txt`, port }) });
    const ra = await a;
    expect([ra.status, b.status]).toEqual([200, 200]);
    const idA = ra.headers['x-alastor-invocation'] as string;
    const idB = b.headers['x-alastor-invocation'] as string;
    const createOf = (evs: Sys[], f: string) => evs.find((e) => e.paths.some((p) => p.name.endsWith(f) && p.nametype === 'CREATE'));
    const all = await waitFor(async () => {
      const evs = (await syscalls()).filter((e) => e.function === fn);
      return createOf(evs, `${fn}-a.txt`) && createOf(evs, `${fn}-b.txt`) ? evs : undefined;
    }, 20000, `${fn}: both creates in the store`);
    // B's create: both windows fit it and one pid serves both. Which is named depends on where the
    // audit clock (a tick behind) puts the act against B's start, so the test does not say; what
    // it says is that the level is a guess and the other candidate is listed.
    const createB = createOf(all, `${fn}-b.txt`)!;
    expect(createB).toMatchObject({ attribution: 'guess', basis: 'time' });
    expect([createB.invocation, ...(createB.alsoIn ?? [])].sort()).toEqual([idA, idB].sort());
    // A's create comes after B ended: only A's window holds it, an exact attribution.
    const createA = createOf(all, `${fn}-a.txt`)!;
    expect(createA).toMatchObject({ invocation: idA, attribution: 'exact', basis: 'window' });
    expect(createA.alsoIn).toBeUndefined();
    // Asked for A's events, the store also gives what might have been A's, marked as such.
    const ofA = await c.cli(['events', '--invocation', idA, '--kind', 'syscall', '--json']);
    const evsA = JSON.parse(ofA.stdout) as Sys[];
    expect(createOf(evsA, `${fn}-a.txt`)!.invocation).toBe(idA);
    expect(createOf(evsA, `${fn}-b.txt`)).toMatchObject({ invocation: createB.invocation, alsoIn: createB.alsoIn });
    expect(evsA.every((e) => e.invocation === idA || e.alsoIn?.includes(idA))).toBe(true);
    // Asked for B's, the same: the guess is listed under both, marked as a guess.
    const ofB = JSON.parse((await c.cli(['events', '--invocation', idB, '--kind', 'syscall', '--json'])).stdout) as Sys[];
    expect(createOf(ofB, `${fn}-b.txt`)).toMatchObject({ attribution: 'guess' });
    const other = createB.invocation === idA ? idB : idA;
    const table = await c.cli(['events', '--invocation', createB.invocation!, '--kind', 'syscall']);
    expect(table.stdout).toContain(`[by time: or ${other}]`);
    await wd.stop();
  });

  test('http mode: the upstream serves both requests; its syscalls land in each request\'s window', async () => {
    const all = await scenario('http', 'audit-http');
    // The upstream's start-up happened before any request: it stays with the instance.
    expect(all.some((e) => e.outsideInvocation === true && e.invocation === undefined)).toBe(true);
  });
});
