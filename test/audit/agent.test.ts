// The node-level agent (`alastor audit agent`) and offline ingest (`alastor audit ingest`).
// The agent test puts a real process into a real cgroup named like a Kubernetes container's (on
// the cgroup2 hierarchy, where no controller is attached, so nothing else is affected) and checks
// that the agent, following the host-wide audit log, tags its syscalls with that container id and
// with the function identity fwatchdog gives function processes (ALASTOR_INSTANCE/FUNCTION).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerIdFromCgroup, ProcMap } from '../../watchdog/audit/agent';
import { startCollector, stopAllCollectors } from '../support/collector';
import { waitFor } from '../support/provenance';
import { ALASTOR_JS, ensureAuditd, rulesWithKeyPrefix, SAMPLE } from '../support/audit-log';

// Real processes on a shared, often loaded machine: generous per-test time.
jest.setTimeout(120000);

const skip = ensureAuditd();
if (skip) console.log(`skipping the live agent tests: ${skip}`);
const maybe = skip ? describe.skip : describe;

const ID = 'ab'.repeat(32);

test('container ids from /proc/PID/cgroup in the shapes runtimes write', () => {
  expect(containerIdFromCgroup(`0::/system.slice/docker-${ID}.scope\n`)).toBe(ID);
  expect(containerIdFromCgroup(`12:pids:/docker/${ID}\n0::/\n`)).toBe(ID);
  expect(containerIdFromCgroup(`0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_5678.slice/cri-containerd-${ID}.scope`)).toBe(ID);
  expect(containerIdFromCgroup(`0::/kubepods/besteffort/pod0c8b3b0a-1111-2222-3333-444455556666/${ID}`)).toBe(ID);
  expect(containerIdFromCgroup(`0::/machine.slice/libpod-${ID}.scope/container`)).toBe(ID);
  expect(containerIdFromCgroup(`0::/system.slice/crio-${ID}.scope`)).toBe(ID);
  // A host process: 32-hex ids of other tools are not containers.
  expect(containerIdFromCgroup('4:memory:/process_api/9af2356d82987e21ef9755679af540cc\n0::/\n')).toBeUndefined();
  expect(containerIdFromCgroup('0::/user.slice/user-0.slice/session-1.scope\n')).toBeUndefined();
});

const UNIFIED = '/sys/fs/cgroup/unified';
const cgroup2 = existsSync(join(UNIFIED, 'cgroup.procs')) ? UNIFIED : existsSync('/sys/fs/cgroup/cgroup.procs') ? '/sys/fs/cgroup' : undefined;

maybe('alastor audit agent (real auditd, a real cgroup)', () => {
  const cid = randomBytes(32).toString('hex');
  const parent = cgroup2 ? join(cgroup2, `alastor-test-${process.pid}`) : '';
  const cg = join(parent, `pod${randomBytes(8).toString('hex')}`, cid);
  let dir: string;

  beforeAll(() => {
    if (!cgroup2) throw new Error('no cgroup2 hierarchy to place a test process in');
    mkdirSync(cg, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'alastor-agent-'));
  });
  afterAll(() => {
    for (let d = cg; d.startsWith(parent) && d.length >= parent.length; d = join(d, '..')) {
      try {
        rmdirSync(d);
      } catch {
        /* still has a process for a moment, or gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('container processes tagged with their container id and function identity; host processes left out', async () => {
    const agent = spawn(process.execPath, [ALASTOR_JS, 'audit', 'agent'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    agent.stdout.on('data', (b: Buffer) => (out += b));
    agent.stderr.on('data', (b: Buffer) => (err += b));
    try {
      await waitFor(() => /following .* \(rules key (alastor_\d+_[0-9a-f]+)\)/.test(err), 15000, 'the agent to start');
      const key = /rules key (alastor_\d+_[0-9a-f]+)/.exec(err)![1];
      expect(rulesWithKeyPrefix(key).length).toBeGreaterThan(0);
      // Join the "container", then exec, as a runtime does before starting the container's process.
      // That process lives on for a moment, as a container's main process does: the agent reads
      // /proc/PID/cgroup when it processes the event; its short-lived children inherit over clone.
      // (3 s: on a loaded machine audit reaches the agent a second or more late, and a process gone
      // before the agent's first look at it cannot be placed in its container.)
      const inside = spawnSync('sh', ['-c', `echo $$ > ${join(cg, 'cgroup.procs')} && exec sh -c ': > in-container.txt; cat in-container.txt; sleep 3'`], {
        cwd: dir,
        env: { PATH: process.env.PATH, ALASTOR_INSTANCE: 'inst-agent-test', ALASTOR_FUNCTION: 'fn-agent-test' },
      });
      expect(inside.status).toBe(0);
      const host = spawnSync('sh', ['-c', ': > on-host.txt'], { cwd: dir });
      expect(host.status).toBe(0);
      // Audit reaches the agent seconds late on a loaded machine: a generous bound, and on failure
      // the events that did arrive.
      const parse = () => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
      const evs = await waitFor(() => {
        const list = parse();
        return list.some((e) => e.syscall === 'execve' && e.argv?.[0] === 'sleep') ? list : undefined;
      }, 60000, 'the execve of sleep in the container').catch((e: Error) => {
        const seen = parse().map((x) => `${x.syscall} pid ${x.pid}${x.argv ? ` ${x.argv.join(' ')}` : ''}${x.containerId ? '' : ' (no container)'}`);
        throw new Error(`${e.message}; agent events: [${seen.join('; ')}]; agent stderr: ${err.trim().split('\n').slice(-5).join(' | ')}`);
      });
      const create = evs.find((e) => e.paths?.some((p: { name: string; nametype: string }) => p.name === 'in-container.txt' && p.nametype === 'CREATE'));
      expect(create).toMatchObject({ kind: 'syscall', containerId: cid, instance: 'inst-agent-test', function: 'fn-agent-test' });
      const cat = evs.find((e) => e.syscall === 'execve' && e.argv?.[0] === 'cat');
      expect(cat).toMatchObject({ containerId: cid, argv: ['cat', 'in-container.txt'] });
      expect(evs.every((e) => e.containerId !== undefined)).toBe(true);
      expect(evs.some((e) => e.paths?.some((p: { name: string }) => p.name === 'on-host.txt'))).toBe(false);
      agent.kill('SIGTERM');
      await new Promise((r) => agent.once('exit', r));
      expect(rulesWithKeyPrefix(key)).toEqual([]);
    } finally {
      if (agent.exitCode === null) agent.kill('SIGKILL');
    }
  });
});

describe('alastor audit ingest', () => {
  afterAll(() => stopAllCollectors());

  test('ships the recorded sample to a collector: 65 syscall events and the reader counters', async () => {
    const c = await startCollector({ token: 'ingest-secret' });
    try {
      const r = spawnSync(process.execPath, [ALASTOR_JS, 'audit', 'ingest', SAMPLE, '--collector', c.url, '--token', 'ingest-secret', '--instance', 'sample-instance', '--function', 'sample-fn'], { encoding: 'utf8' });
      expect(r.stderr).toContain('65 syscall events');
      expect(r.status).toBe(0);
      const ev = await c.cli(['events', '--kind', 'syscall', '--instance', 'sample-instance', '--json']);
      const list = JSON.parse(ev.stdout);
      expect(list).toHaveLength(65);
      expect(list.find((e: { syscall: string }) => e.syscall === 'connect')).toMatchObject({ function: 'sample-fn', sockaddr: { address: '127.0.0.1', port: 39835 } });
      const stats = JSON.parse((await c.cli(['events', '--kind', 'source.stats', '--instance', 'sample-instance', '--json'])).stdout);
      expect(stats[0].counters).toMatchObject({ 'audit.syscallEvents': 65, 'audit.garbageLines': 0 });
      const verify = await c.cli(['verify']);
      expect(verify.code).toBe(0);
    } finally {
      await c.stop();
    }
  });

  test('a wrong collector URL or a missing file is one clear line', () => {
    const bad = spawnSync(process.execPath, [ALASTOR_JS, 'audit', 'ingest', SAMPLE, '--collector', 'not a url'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim()).toBe('alastor: --collector: not a URL: "not a url"');
    const missing = spawnSync(process.execPath, [ALASTOR_JS, 'audit', 'ingest', '/nope.log', '--collector', 'http://127.0.0.1:9'], { encoding: 'utf8' });
    expect(missing.stderr.trim()).toBe('alastor: no such file: /nope.log');
    expect(statSync(SAMPLE).size).toBeGreaterThan(0);
  });
});

// The agent reads /proc/PID when it processes an event, which on a loaded machine is seconds after
// the syscall: a process that exec'd and then exited must keep the container the tree knew.
test('an exec whose process has exited by the time the agent looks keeps its container', () => {
  const proc = mkdtempSync(join(tmpdir(), 'alastor-proc-'));
  try {
    const id = 'ab'.repeat(32);
    mkdirSync(join(proc, '4242'));
    writeFileSync(join(proc, '4242', 'cgroup'), `0::/kubepods/pod1/${id}\n`);
    writeFileSync(join(proc, '4242', 'environ'), 'ALASTOR_FUNCTION=fn-x\0');
    const procs = new ProcMap(proc);
    expect(procs.lookup(4242, 1)).toEqual({ containerId: id, function: 'fn-x' });
    rmSync(join(proc, '4242'), { recursive: true }); // exited
    procs.refresh(4242);
    expect(procs.lookup(4242, 1)).toEqual({ containerId: id, function: 'fn-x' });
    // A new exec while it still runs: its environment is read again.
    mkdirSync(join(proc, '4242'));
    writeFileSync(join(proc, '4242', 'cgroup'), `0::/kubepods/pod1/${id}\n`);
    writeFileSync(join(proc, '4242', 'environ'), 'ALASTOR_FUNCTION=fn-y\0');
    procs.refresh(4242);
    expect(procs.lookup(4242, 1).function).toBe('fn-y');
  } finally {
    rmSync(proc, { recursive: true, force: true });
  }
});
