// The tailer against the real kernel audit and auditd: a real child process (started by the real
// fwatchdog bundle with --alastor-audit-child) follows /var/log/audit/audit.log while processes
// under this test write files, run programs and connect to a loopback server.
// In CI (CI=true) these tests must run: auditd is started if needed and a failure is loud.
// Elsewhere they are skipped, with the reason printed, only when auditctl is absent.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateEvent, type AlastorEvent, type SyscallEvent } from '../../events';
import { nowUs } from '../../events/time';
import { startAuditTailer, type AuditTailer } from '../../watchdog/audit/index';
import { LiveAudit } from '../../watchdog/audit/live';
import { makeKey } from '../../watchdog/audit/rules';
import { ensureAuditd, FWATCHDOG_JS, rulesWithKeyPrefix } from '../support/audit-log';

// Real processes on a shared, often loaded machine: generous per-test time.
jest.setTimeout(120000);

const skip = ensureAuditd();
if (skip) console.log(`skipping the live audit tests: ${skip}`);
const maybe = skip ? describe.skip : describe;

const childArgv = [FWATCHDOG_JS, '--alastor-audit-child'];
const myPrefix = `alastor_${process.pid}_`;

function run(cmd: string, args: string[], cwd: string): Promise<{ pid: number; code: number | null }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, stdio: 'ignore' });
    p.once('error', reject);
    p.once('exit', (code) => resolve({ pid: p.pid!, code }));
  });
}

async function until<T>(what: string, fn: () => T | undefined, timeoutMs = 15000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

maybe('live audit tailer (real auditd)', () => {
  let dir: string;
  let server: Server;
  let port: number;
  let accepted = 0;
  const events: AlastorEvent[] = [];
  const logs: string[] = [];
  let tailer: AuditTailer | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'alastor-audit-live-'));
    server = createServer((s) => {
      accepted++;
      s.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    await tailer?.stop();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const syscalls = () => events.filter((e): e is SyscallEvent => e.kind === 'syscall');

  test('a process writes a file, spawns a program and connects: events attributed to its invocation', async () => {
    tailer = await startAuditTailer({
      rootPid: process.pid,
      instance: 'live-instance',
      function: 'live-fn',
      emit: (e) => events.push(e),
      log: (l) => logs.push(l),
      childArgv,
    });
    expect(rulesWithKeyPrefix(myPrefix).length).toBeGreaterThan(0);

    const script = [
      "const fs = require('fs'), cp = require('child_process'), net = require('net');",
      "fs.writeFileSync('planted.js', 'module.exports = 1;\\n');",
      "cp.execFileSync('sh', ['-c', 'cat planted.js > /dev/null']);",
      `const s = net.connect(${port}, '127.0.0.1', () => { s.end(); process.exit(0); });`,
    ].join('\n');
    const startUs = nowUs();
    tailer.invocationStart({ invocation: 'inv-A', tsUs: startUs });
    const a = await run(process.execPath, ['-e', script], dir);
    tailer.invocationEnd({ invocation: 'inv-A', tsUs: nowUs() });
    expect(a.code).toBe(0);
    await new Promise((r) => setTimeout(r, 30));
    // After the window: a leftover-style process, outside every invocation.
    const b = await run('sh', ['-c', ': > outside.txt'], dir);

    const planted = join(dir, 'planted.js');
    const create = await until('the create of planted.js', () =>
      syscalls().find((e) => e.pid === a.pid && e.paths.some((p) => p.name.endsWith('planted.js') && p.nametype === 'CREATE')),
    );
    expect(create).toMatchObject({ syscall: 'openat', success: true, invocation: 'inv-A', instance: 'live-instance', function: 'live-fn', cwd: dir });
    const sh = await until('the execve of sh', () => syscalls().find((e) => e.syscall === 'execve' && e.ppid === a.pid));
    expect(sh).toMatchObject({ argv: ['sh', '-c', 'cat planted.js > /dev/null'], invocation: 'inv-A', comm: 'sh' });
    const cat = await until('the execve of cat', () => syscalls().find((e) => e.syscall === 'execve' && e.ppid === sh.pid));
    expect(cat).toMatchObject({ argv: ['cat', 'planted.js'], invocation: 'inv-A' });
    // Reads under /tmp are audited: cat opening the planted file read-only.
    const read = await until('cat reading planted.js', () =>
      syscalls().find((e) => e.pid === cat.pid && e.syscall === 'openat' && e.paths.some((p) => p.name === 'planted.js' || p.name === planted)),
    );
    expect(read.invocation).toBe('inv-A');
    const connect = await until('the connect', () => syscalls().find((e) => e.syscall === 'connect' && e.pid === a.pid && e.sockaddr?.port === port));
    expect(connect).toMatchObject({ invocation: 'inv-A', sockaddr: { family: 'inet', address: '127.0.0.1', port } });
    expect(accepted).toBeGreaterThanOrEqual(1);
    const outside = await until('the write outside any window', () =>
      syscalls().find((e) => e.pid === b.pid && e.paths.some((p) => p.name === 'outside.txt' && p.nametype === 'CREATE')),
    );
    expect(outside.outsideInvocation).toBe(true);
    expect(outside.invocation).toBeUndefined();
    // Nothing of the tailer itself (its pid is excluded) and nothing of this test process (the root).
    expect(syscalls().some((e) => e.pid === process.pid)).toBe(false);
    for (const e of events) expect(validateEvent(e)).toEqual({ ok: true, value: e });
  });

  test('two overlapping invocations, each bound to its own process', async () => {
    const t = tailer!;
    const startUs = nowUs();
    const spawnAndBind = (inv: string, file: string) => {
      const p = spawn('sh', ['-c', `sleep 0.3; : > ${file}`], { cwd: dir, stdio: 'ignore' });
      t.invocationStart({ invocation: inv, tsUs: startUs, pid: p.pid });
      return new Promise<number>((r) => p.once('exit', () => r(p.pid!)));
    };
    const [pb, pc] = await Promise.all([spawnAndBind('inv-B', 'b.txt'), spawnAndBind('inv-C', 'c.txt')]);
    t.invocationEnd({ invocation: 'inv-B', tsUs: nowUs() });
    t.invocationEnd({ invocation: 'inv-C', tsUs: nowUs() });
    const fb = await until('b.txt', () => syscalls().find((e) => e.pid === pb && e.paths.some((p) => p.name === 'b.txt' && p.nametype === 'CREATE')));
    const fc = await until('c.txt', () => syscalls().find((e) => e.pid === pc && e.paths.some((p) => p.name === 'c.txt' && p.nametype === 'CREATE')));
    expect(fb.invocation).toBe('inv-B');
    expect(fc.invocation).toBe('inv-C');
    // sleep, started by each sh, belongs to the same invocation as its parent.
    const sleeps = await until('both sleeps', () => {
      const s = syscalls().filter((e) => e.syscall === 'execve' && e.comm === 'sleep' && (e.ppid === pb || e.ppid === pc));
      return s.length === 2 ? s : undefined;
    });
    for (const s of sleeps) expect(s.invocation).toBe(s.ppid === pb ? 'inv-B' : 'inv-C');
  });

  test('a burst across a real auditd log rotation loses nothing', async () => {
    const t = tailer!;
    const auditdPid = execFileSync('pgrep', ['-x', 'auditd'], { encoding: 'utf8' }).trim().split('\n')[0];
    t.invocationStart({ invocation: 'inv-burst', tsUs: nowUs() });
    const n = 400;
    const burst = spawn('sh', ['-c', `i=0; while [ $i -lt ${n} ]; do : > burst.$i; i=$((i+1)); done`], { cwd: dir, stdio: 'ignore' });
    // Listen for the exit now: on an idle machine the burst can end within the 20 ms below.
    const burstExited = new Promise((r) => burst.once('exit', r));
    // Rotate in the middle of the burst (SIGUSR1 makes auditd rotate its logs now).
    await new Promise((r) => setTimeout(r, 20));
    process.kill(Number(auditdPid), 'SIGUSR1');
    await burstExited;
    t.invocationEnd({ invocation: 'inv-burst', tsUs: nowUs() });
    const burstCreates = () => syscalls().filter((e) => e.pid === burst.pid && e.paths.some((p) => p.nametype === 'CREATE' && p.name.startsWith('burst.')));
    const creates = await until(`${n} creates`, () => (burstCreates().length >= n ? burstCreates() : undefined), 40000).catch((err: Error) => {
      const got = new Set(burstCreates().map((e) => e.paths.find((p) => p.nametype === 'CREATE')!.name));
      const missing = Array.from({ length: n }, (_, i) => `burst.${i}`).filter((f) => !got.has(f));
      throw new Error(`${err.message}: got ${got.size}, missing ${missing.slice(0, 10).join(' ')}; ${execFileSync('auditctl', ['-s'], { encoding: 'utf8' }).replace(/\n/g, ' ')}; logs: ${logs.join(' | ')}`);
    });
    const names = creates.map((e) => e.paths.find((p) => p.nametype === 'CREATE')!.name);
    expect(new Set(names).size).toBe(n);
    expect(creates).toHaveLength(n);
    expect(creates.every((e) => e.invocation === 'inv-burst')).toBe(true);
    expect(logs.join('\n')).not.toMatch(/unexpectedly/);
  });

  test('stop removes exactly our rules and reports its counters', async () => {
    await tailer!.stop();
    tailer = undefined;
    expect(rulesWithKeyPrefix(myPrefix)).toEqual([]);
    const stats = events.filter((e) => e.kind === 'source.stats');
    expect(stats.length).toBeGreaterThan(0);
    const last = stats[stats.length - 1] as AlastorEvent & { counters: Record<string, number> };
    // Every decoded event is sent, but for clone3s of threads that had exited before they were read.
    expect(last.counters['audit.syscallEvents'] - last.counters['audit.lateThreadClones']).toBe(syscalls().length);
    expect(last.counters['audit.garbageLines']).toBe(0);
    expect(last.counters['audit.rotations']).toBeGreaterThanOrEqual(1);
  });
});

maybe('rules: crash recovery and ownership', () => {
  test('stale rules of a dead owner are removed at start, a live owner\'s rules are kept', async () => {
    const dead = await run('true', [], '/');
    const staleKey = `alastor_${dead.pid}_deadbeef`;
    const liveKey = `alastor_${process.pid}_cafe0001`;
    const rule = (k: string) => ['always,exit', '-F', 'arch=b64', '-S', 'fchownat', '-F', `key=${k}`];
    execFileSync('auditctl', ['-a', ...rule(staleKey)]);
    execFileSync('auditctl', ['-a', ...rule(liveKey)]);
    try {
      const logs: string[] = [];
      const t = await startAuditTailer({ rootPid: process.pid, instance: 'i', function: 'f', emit: () => {}, log: (l) => logs.push(l), childArgv });
      expect(rulesWithKeyPrefix(staleKey)).toEqual([]);
      expect(rulesWithKeyPrefix(liveKey)).toHaveLength(1);
      expect(logs.join('\n')).toContain(staleKey);
      await t.stop();
      expect(rulesWithKeyPrefix(liveKey)).toHaveLength(1);
    } finally {
      for (const k of [staleKey, liveKey]) {
        try {
          execFileSync('auditctl', ['-d', ...rule(k)], { stdio: 'ignore' });
        } catch {
          /* already gone */
        }
      }
    }
  });

  test('a stop arriving while the rules are being installed leaves none behind', async () => {
    const key = makeKey();
    const live = new LiveAudit({ key, keep: () => false, onEvent: () => {}, log: () => {} });
    const started = live.start();
    const stopped = live.stop();
    await started;
    await stopped;
    expect(rulesWithKeyPrefix(key)).toEqual([]);
  });

  test('a tailer child killed with SIGKILL: the watchdog side removes its rules', async () => {
    const logs: string[] = [];
    const t = await startAuditTailer({ rootPid: process.pid, instance: 'i', function: 'f', emit: () => {}, log: (l) => logs.push(l), childArgv });
    const childPid = Number(/tailer (\d+) following/.exec(logs.join('\n'))![1]);
    expect(rulesWithKeyPrefix(myPrefix).length).toBeGreaterThan(0);
    process.kill(childPid, 'SIGKILL');
    await until('rules removed', () => rulesWithKeyPrefix(myPrefix).length === 0 || undefined, 10000);
    await t.stop();
    expect(logs.join('\n')).toMatch(/exited unexpectedly/);
  });
});
