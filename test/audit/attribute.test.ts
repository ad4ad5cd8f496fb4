// Attribution with levels (watchdog/audit/attribute.ts): invocation windows at scale, births and
// lineage, time-only guesses (slack included), claims that corroborate, split or contradict, and
// threads told apart from processes through the real /proc.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import type { Claim } from '../../events/claims';
import { Attributor, ProcessTree, Windows, START_SLACK_US } from '../../watchdog/audit/attribute';
import { ClaimIndex } from '../../watchdog/audit/claim-index';
import { openWrites } from '../../watchdog/audit/emit';
import type { AuditEvent } from '../../watchdog/audit/event';
import { fileReadRuleSpec } from '../../watchdog/audit/rules';
import { writtenPaths } from '../../watchdog/audit/watch';

const T = 1_800_000_000_000_000;
let serial = 0;
/** An event as the reader would build it, observed by the tree as it would be when read. */
function ev(tree: ProcessTree, o: Partial<AuditEvent> & { pid: number; ppid: number; syscall: string; ts: number }): AuditEvent {
  const e: AuditEvent = { serial: ++serial, nr: 0, success: true, exit: 0, comm: 'x', exe: '/x', paths: [], ...o };
  tree.observe(e);
  return e;
}

test('10,000 sequential windows: each event lands in the window around it, gaps stay with the instance', () => {
  const tree = new ProcessTree(1);
  const w = new Windows();
  const t0 = 1_800_000_000_000_000;
  // Windows of 1 ms every 20 ms (http mode: no pid), ended; one long window of 50 ms early on.
  w.start({ invocation: 'long', tsUs: t0 + 5_000 });
  for (let i = 0; i < 10000; i++) {
    w.start({ invocation: `w${i}`, tsUs: t0 + i * 20_000 });
    w.end({ invocation: `w${i}`, tsUs: t0 + i * 20_000 + 1_000 });
  }
  w.end({ invocation: 'long', tsUs: t0 + 55_000 });
  w.start({ invocation: 'open', tsUs: t0 + 10000 * 20_000 });
  for (const i of [0, 1, 2, 3, 17, 500, 9998, 9999]) {
    expect(w.attribute({ ts: t0 + i * 20_000 + 500, pid: 5 }, tree).invocation).toBe(`w${i}`);
  }
  // Inside the long window only (between w2 and w3): the long one.
  expect(w.attribute({ ts: t0 + 50_000, pid: 5 }, tree).invocation).toBe('long');
  // In a gap after the long window: nobody's.
  expect(w.attribute({ ts: t0 + 400_000 + 4_000, pid: 5 }, tree)).toEqual({ outsideInvocation: true });
  // Still open at the end.
  expect(w.attribute({ ts: t0 + 10000 * 20_000 + 999_999, pid: 5 }, tree).invocation).toBe('open');
  // Just before a window's start, within the coarse clock's slack: that window.
  expect(w.attribute({ ts: t0 + 700 * 20_000 - START_SLACK_US / 2, pid: 5 }, tree).invocation).toBe('w700');
  w.prune(t0 + 10000 * 20_000 + 61e6);
  expect(w.size).toBe(1); // only the open one survives a minute later
});

test('a process born in an invocation keeps it after the invocation ended (lineage), whoever is in flight then', () => {
  const tree = new ProcessTree(1);
  const at = new Attributor(tree);
  // Fork mode: invocation 1's forked process 100 starts a background child 101.
  at.windows.start({ invocation: 'inv1', tsUs: T });
  expect(at.servedBy('inv1', 100)).toMatchObject({ pid: 100, invocation: 'inv1', basis: 'fork' });
  const clone = ev(tree, { pid: 100, ppid: 1, syscall: 'clone', a0: '1200011', exit: 101, ts: T + 10 });
  expect(clone.creates).toBe('process');
  const first = at.attributeAll([clone]);
  expect(first.verdicts[0]).toEqual({ invocation: 'inv1', outsideInvocation: false, attribution: 'exact', basis: 'fork' });
  expect(first.births).toEqual([{ pid: 101, invocation: 'inv1', attribution: 'exact', basis: 'lineage', tsUs: T + 10 }]);
  at.windows.end({ invocation: 'inv1', tsUs: T + 1000 });
  at.windows.start({ invocation: 'inv2', tsUs: T + 5000 });
  at.servedBy('inv2', 200);
  // The background process writes while invocation 2 is in flight: still invocation 1's.
  const late = at.attributeAll([
    ev(tree, { pid: 101, ppid: 100, syscall: 'openat', ts: T + 6000 }),
    ev(tree, { pid: 200, ppid: 1, syscall: 'openat', ts: T + 6000 }),
  ]);
  expect(late.verdicts[0]).toEqual({ invocation: 'inv1', outsideInvocation: false, attribution: 'exact', basis: 'lineage' });
  expect(late.verdicts[1]).toEqual({ invocation: 'inv2', outsideInvocation: false, attribution: 'exact', basis: 'fork' });
  // The retired pid takes its birth with it: a reused pid is not invocation 1's.
  ev(tree, { pid: 101, ppid: 100, syscall: 'exit_group', ts: T + 7000 });
  ev(tree, { pid: 200, ppid: 1, syscall: 'openat', ts: T + 7000 + 10_001_000 });
  expect(at.births.get(101)).toBeUndefined();
});

test('the watchdog names the http upstream as each request\'s process too: that is no birth', () => {
  const tree = new ProcessTree(1);
  const at = new Attributor(tree);
  at.attributeAll([ev(tree, { pid: 7, ppid: 1, syscall: 'bind', ts: T - 1e6 })]);
  at.windows.start({ invocation: 'A', tsUs: T, pid: 7 });
  expect(at.servedBy('A', 7)).toBeUndefined();
  // Named only after the start, but by two requests at once: a shared server, not a fork.
  at.windows.start({ invocation: 'B', tsUs: T + 1000 });
  at.windows.start({ invocation: 'C', tsUs: T + 2000 });
  expect(at.servedBy('B', 8)).toMatchObject({ basis: 'fork' });
  expect(at.servedBy('C', 7)).toBeUndefined();
  // A process created well before the request began was not forked for it.
  at.attributeAll([ev(tree, { pid: 9, ppid: 1, syscall: 'bind', ts: T - 1e6 })]);
  at.windows.start({ invocation: 'D', tsUs: T + 3000 });
  expect(at.servedBy('D', 9)).toBeUndefined();
  expect(at.attribute({ ts: T + 5000, pid: 7 })).toMatchObject({ attribution: 'guess', basis: 'time' });
});

test('a child whose first records precede its clone record in the log is born from the clone all the same', () => {
  const tree = new ProcessTree(1);
  const at = new Attributor(tree);
  // http mode: the upstream 7 (started before any request) serves A; B arrives later.
  at.attributeAll([ev(tree, { pid: 7, ppid: 1, syscall: 'bind', ts: T - 1e6 })]);
  at.windows.start({ invocation: 'A', tsUs: T, pid: 7 });
  const exec = ev(tree, { pid: 8, ppid: 7, syscall: 'execve', ts: T + 2000 });
  const clone = ev(tree, { pid: 7, ppid: 1, syscall: 'clone', a0: '1200011', exit: 8, ts: T + 1000 });
  const { verdicts, births } = at.attributeAll([exec, clone]);
  expect(births).toEqual([{ pid: 8, invocation: 'A', attribution: 'exact', basis: 'window', tsUs: T + 1000 }]);
  expect(verdicts[0]).toEqual({ invocation: 'A', outsideInvocation: false, attribution: 'exact', basis: 'lineage' });
  expect(verdicts[1]).toEqual({ invocation: 'A', outsideInvocation: false, attribution: 'exact', basis: 'window' });
  // The upstream itself was born outside every invocation: its acts are judged by their time.
  expect(at.births.get(7)).toEqual({ pid: 7, attribution: 'exact', basis: 'window', tsUs: T - 1e6 });
  at.windows.start({ invocation: 'B', tsUs: T + 50_000, pid: 7 });
  expect(at.attribute({ ts: T + 60_000, pid: 7 })).toEqual({ invocation: 'B', outsideInvocation: false, attribution: 'guess', basis: 'time', alsoIn: ['A'] });
  // ...while what A's child does then is still A's alone.
  expect(at.attribute({ ts: T + 60_000, pid: 8 })).toEqual({ invocation: 'A', outsideInvocation: false, attribution: 'exact', basis: 'lineage' });
});

test('time alone is never exact when two windows fit, the start slack included', () => {
  const tree = new ProcessTree(1);
  const w = new Windows();
  // http mode: the upstream (pid 7) serves A, B and C; B and C start while A is in flight.
  w.start({ invocation: 'A', tsUs: T, pid: 7 });
  w.start({ invocation: 'B', tsUs: T + 20_000, pid: 7 });
  w.start({ invocation: 'C', tsUs: T + 40_000, pid: 7 });
  w.end({ invocation: 'B', tsUs: T + 60_000 });
  tree.observe({ pid: 7, ppid: 1, syscall: 'execve', success: true, exit: 0, ts: T } as never);
  const at = (us: number) => w.attribute({ ts: T + us, pid: 7 }, tree);
  expect(at(5_000)).toEqual({ invocation: 'A', outsideInvocation: false, attribution: 'exact', basis: 'window' });
  // 5 ms before B's start: B fits only through the slack, but it fits: a guess, A named (it contains the time).
  expect(at(15_000)).toEqual({ invocation: 'A', outsideInvocation: false, attribution: 'guess', basis: 'time', alsoIn: ['B'] });
  expect(at(25_000)).toEqual({ invocation: 'B', outsideInvocation: false, attribution: 'guess', basis: 'time', alsoIn: ['A'] });
  const all = at(45_000);
  expect(all).toMatchObject({ invocation: 'C', attribution: 'guess', basis: 'time' });
  expect([...all.alsoIn!].sort()).toEqual(['A', 'B']);
  expect(at(70_000)).toEqual({ invocation: 'C', outsideInvocation: false, attribution: 'guess', basis: 'time', alsoIn: ['A'] }); // B has ended
  // A window fitting only through the slack, alone: exact, as before.
  expect(w.attribute({ ts: T - START_SLACK_US / 2, pid: 7 }, tree)).toEqual({ invocation: 'A', outsideInvocation: false, attribution: 'exact', basis: 'window' });
});

describe('claims', () => {
  const claim = (c: Partial<Claim> & { invocation: string; op: Claim['op'] }): Claim => ({ pid: 7, tsUs: T + 25_000, ...c });
  function upstream() {
    const tree = new ProcessTree(1);
    const at = new Attributor(tree);
    // Its first record, before any request: born outside every invocation.
    at.attributeAll([ev(tree, { pid: 7, ppid: 1, syscall: 'bind', ts: T - 1e6 })]);
    at.windows.start({ invocation: 'A', tsUs: T, pid: 7 });
    at.windows.start({ invocation: 'B', tsUs: T + 20_000, pid: 7 });
    return { tree, at };
  }
  const write = (tree: ProcessTree, name: string, ts = T + 26_000) =>
    ev(tree, { pid: 7, ppid: 1, syscall: 'openat', ts, cwd: '/srv/fn', paths: [{ name: '/srv/fn', nametype: 'PARENT' }, { name, nametype: 'CREATE' }] });

  test('a matching claim naming an invocation in flight corroborates it', () => {
    const { tree, at } = upstream();
    at.claims.add(claim({ invocation: 'A', op: 'file', path: '/srv/fn/a.txt' }));
    at.claims.add(claim({ invocation: 'B', op: 'file', path: '/srv/fn/b.txt' }));
    const { verdicts } = at.attributeAll([write(tree, 'a.txt'), write(tree, '/srv/fn/./b.txt'), write(tree, 'c.txt')]);
    expect(verdicts[0]).toEqual({ invocation: 'A', outsideInvocation: false, attribution: 'corroborated', basis: 'claim' });
    expect(verdicts[1]).toEqual({ invocation: 'B', outsideInvocation: false, attribution: 'corroborated', basis: 'claim' });
    // No claim for c.txt: time alone, a guess.
    expect(verdicts[2]).toMatchObject({ invocation: 'B', attribution: 'guess', basis: 'time', alsoIn: ['A'] });
  });

  test('one request plants a file and the next loads it: the claims\' read/write mode tells the two acts apart', () => {
    const { tree, at } = upstream();
    // A creates the module (O_WRONLY|O_CREAT|O_TRUNC) and B loads it (O_RDONLY|O_CLOEXEC) 4 ms
    // later, within the claims' tolerance: by path alone both claims match both opens.
    at.claims.add(claim({ invocation: 'A', op: 'file', path: '/srv/fn/planted.js', mode: 'w', tsUs: T + 21_000 }));
    at.claims.add(claim({ invocation: 'B', op: 'file', path: '/srv/fn/planted.js', mode: 'r', tsUs: T + 25_000 }));
    const open = (ts: number, flags: string, nametype: string) =>
      ev(tree, { pid: 7, ppid: 1, syscall: 'openat', ts, a2: flags, paths: [{ name: '/srv/fn', nametype: 'PARENT' }, { name: '/srv/fn/planted.js', nametype }] });
    const { verdicts } = at.attributeAll([open(T + 21_000, '241', 'CREATE'), open(T + 25_000, '80000', 'NORMAL')]);
    expect(verdicts[0]).toEqual({ invocation: 'A', outsideInvocation: false, attribution: 'corroborated', basis: 'claim' });
    expect(verdicts[1]).toEqual({ invocation: 'B', outsideInvocation: false, attribution: 'corroborated', basis: 'claim' });
    // A claim without a mode (an older template) still matches either kind: the two are a guess.
    at.claims.add(claim({ invocation: 'A', op: 'file', path: '/srv/fn/other.js', tsUs: T + 21_000 }));
    at.claims.add(claim({ invocation: 'B', op: 'file', path: '/srv/fn/other.js', mode: 'r', tsUs: T + 25_000 }));
    const read = ev(tree, { pid: 7, ppid: 1, syscall: 'openat', ts: T + 25_000, a2: '80000', paths: [{ name: '/srv/fn/other.js', nametype: 'NORMAL' }] });
    expect(at.attributeAll([read]).verdicts[0]).toMatchObject({ attribution: 'guess', basis: 'claim' });
  });

  test('claims must match pid, object and time', () => {
    const { tree, at } = upstream();
    at.claims.add(claim({ invocation: 'A', op: 'file', path: '/srv/fn/a.txt', pid: 8 }));
    at.claims.add(claim({ invocation: 'A', op: 'file', path: '/srv/fn/a.txt', tsUs: T + 25_000 - 2_500_000 }));
    at.claims.add(claim({ invocation: 'A', op: 'file', path: '/srv/fn/other.txt' }));
    expect(at.attributeAll([write(tree, 'a.txt')]).verdicts[0]).toMatchObject({ attribution: 'guess', basis: 'time' });
    // Within the tolerance (the thread pool can run a write long after the call): it matches.
    at.claims.add(claim({ invocation: 'A', op: 'file', path: '/srv/fn/a.txt', tsUs: T + 25_000 - 1_900_000 }));
    expect(at.attributeAll([write(tree, 'a.txt')]).verdicts[0]).toMatchObject({ invocation: 'A', attribution: 'corroborated' });
  });

  test('claims naming two invocations give a guess between them', () => {
    const { tree, at } = upstream();
    at.claims.add(claim({ invocation: 'A', op: 'connect', addr: '::ffff:127.0.0.1', port: 4444 }));
    at.claims.add(claim({ invocation: 'B', op: 'connect', addr: '127.0.0.1', port: 4444, tsUs: T + 25_500 }));
    const connect = ev(tree, { pid: 7, ppid: 1, syscall: 'connect', ts: T + 25_000, sockaddr: { family: 'inet', address: '127.0.0.1', port: 4444 } });
    const v = at.attributeAll([connect]).verdicts[0];
    expect(v).toMatchObject({ attribution: 'guess', basis: 'claim' });
    expect([v.invocation, ...v.alsoIn!].sort()).toEqual(['A', 'B']);
  });

  test('a claim for an invocation that is not in flight is only a claim, and the contradiction is said', () => {
    const { tree, at } = upstream();
    at.windows.start({ invocation: 'Z', tsUs: T - 500_000, pid: 7 });
    at.windows.end({ invocation: 'Z', tsUs: T - 400_000 });
    // A timer of the ended Z writes while A and B are in flight.
    at.claims.add(claim({ invocation: 'Z', op: 'file', path: '/srv/fn/z.txt' }));
    const v = at.attributeAll([write(tree, 'z.txt')]).verdicts[0];
    expect(v).toMatchObject({ invocation: 'Z', attribution: 'claimed', basis: 'claim' });
    expect(v.contradiction).toMatch(/claimed by Z, which was not in flight then; in flight: B, A/);
    // Nothing in flight at all.
    at.claims.add(claim({ invocation: 'Z', op: 'file', path: '/srv/fn/z2.txt', tsUs: T - 100_000 }));
    const alone = at.attributeAll([write(tree, 'z2.txt', T - 100_000)]).verdicts[0];
    expect(alone).toMatchObject({ invocation: 'Z', attribution: 'claimed', contradiction: 'claimed by Z, but no invocation was in flight then' });
  });

  test('a spawn claim corroborates the clone, and the child is born corroborated', () => {
    const { tree, at } = upstream();
    at.claims.add(claim({ invocation: 'A', op: 'spawn', child: 9 }));
    const clone = ev(tree, { pid: 7, ppid: 1, syscall: 'clone', a0: '1200011', exit: 9, ts: T + 25_000 });
    const exec = ev(tree, { pid: 9, ppid: 7, syscall: 'execve', ts: T + 25_000 });
    const { verdicts, births } = at.attributeAll([clone, exec]);
    expect(verdicts[0]).toMatchObject({ invocation: 'A', attribution: 'corroborated', basis: 'claim' });
    expect(births).toEqual([{ pid: 9, invocation: 'A', attribution: 'corroborated', basis: 'claim', tsUs: T + 25_000 }]);
    expect(verdicts[1]).toEqual({ invocation: 'A', outsideInvocation: false, attribution: 'corroborated', basis: 'lineage' });
  });

  test('the index is bounded: old claims expire, a flood is capped and counted', () => {
    const idx = new ClaimIndex();
    for (let i = 0; i < 20_010; i++) idx.add({ invocation: 'A', pid: 7, tsUs: T + i, op: 'spawn', child: 1000 + i });
    expect(idx.size).toBe(20_000);
    expect(idx.counters).toMatchObject({ claimsReceived: 20_010, claimsDropped: 10 });
    idx.prune(T + 5e6 + 15); // keeps 5 s of audit time: the claims of T+10..T+14 go
    expect(idx.size).toBe(20_000 - 5);
    idx.prune(T + 60e6);
    expect(idx.size).toBe(0);
  });
});

test('threads are not processes: clone3 judged through the real /proc, clone by CLONE_THREAD', async () => {
  const tree = new ProcessTree(process.ppid);
  const me = process.pid;
  tree.observe({ pid: me, ppid: process.ppid, syscall: 'execve', success: true, exit: 0, ts: T, paths: [] } as never);
  // One of this (jest) process's own threads: V8 and libuv workers live as long as the process.
  const tid = Number(readdirSync(`/proc/${me}/task`).find((t) => Number(t) !== me));
  const c3 = (exit: number) => ({ pid: me, ppid: process.ppid, syscall: 'clone3', success: true, exit, ts: T + 1, paths: [] }) as unknown as AuditEvent;
  expect(tree.observe(c3(tid))).toBe(false);
  expect(tree.threadClones).toBe(1);
  expect(tree.has(tid)).toBe(false);
  const thread = { pid: me, ppid: process.ppid, syscall: 'clone', a0: '3d0f00', success: true, exit: 424242, ts: T + 1, paths: [] } as unknown as AuditEvent;
  expect(tree.observe(thread)).toBe(false);
  expect(tree.threadClones).toBe(2);
  // A real child process created by clone3 (glibc's posix_spawn does that): a process.
  const child = spawn('sleep', ['5']);
  await new Promise((r) => child.once('spawn', r));
  const proc = c3(child.pid!);
  expect(tree.observe(proc)).toBe(true);
  expect(proc.creates).toBe('process');
  expect(tree.has(child.pid!)).toBe(true);
  child.kill();
  // A child gone before its clone3 was read: unsure, settled by whether it ever showed up as pid=.
  const gone = c3(999_999_991);
  expect(tree.observe(gone)).toBe(true);
  expect(gone.creates).toBe('unsure');
  expect(tree.settle(gone)).toBe(false);
  expect(tree.lateThreadClones).toBe(1);
  const shown = c3(999_999_992);
  tree.observe(shown);
  tree.observe({ pid: 999_999_992, ppid: me, syscall: 'exit_group', success: true, exit: 0, ts: T + 2, paths: [] } as never);
  expect(tree.settle(shown)).toBe(true);
});

test('writes outside the read directories: which paths get a read rule, and open flags', () => {
  const open = (o: Partial<AuditEvent>) => ({ serial: 1, ts: T, nr: 257, success: true, exit: 3, pid: 7, ppid: 1, comm: 'node', exe: '/x', paths: [], syscall: 'openat', cwd: '/home/app/function', ...o }) as AuditEvent;
  // O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC on an existing file: one NORMAL item.
  expect(writtenPaths(open({ a2: '80241', paths: [{ name: 'x.js', nametype: 'NORMAL' }] }))).toEqual(['/home/app/function/x.js']);
  expect(openWrites(open({ a2: '80241' }))).toBe(true);
  // O_RDONLY|O_CLOEXEC: a read.
  expect(writtenPaths(open({ a2: '80000', paths: [{ name: '/home/app/function/x.js', nametype: 'NORMAL' }] }))).toEqual([]);
  expect(openWrites(open({ a2: '80000' }))).toBe(false);
  expect(openWrites(open({ syscall: 'open', a1: '2' }))).toBe(true);
  expect(openWrites(open({ syscall: 'rename' }))).toBeUndefined();
  const rename = open({ syscall: 'renameat2', paths: [{ name: '/a', nametype: 'PARENT' }, { name: '/a', nametype: 'PARENT' }, { name: 'tmp.1', nametype: 'DELETE' }, { name: 'x.js', nametype: 'CREATE' }] });
  expect(writtenPaths(rename)).toEqual(['/home/app/function/x.js']);
  expect(fileReadRuleSpec({ key: 'k', path: '/a/x.js', excludePid: 5 })).toEqual(['always,exit', '-F', 'arch=b64', '-S', 'open,openat', '-F', 'path=/a/x.js', '-F', 'success=1', '-F', 'pid!=5', '-F', 'key=k']);
  expect(() => fileReadRuleSpec({ key: 'k', path: '/a/with space.js' })).toThrow(/without spaces/);
});
