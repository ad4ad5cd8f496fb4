// The recorded sample (test/fixtures/audit/planted-file-scenario.log, see its README)
// decoded through the real CLI and through the library, to exactly the events it holds.
import { execFileSync, spawnSync } from 'node:child_process';
import { readAuditFile } from '../../watchdog/audit/file';
import type { AuditEvent } from '../../watchdog/audit/event';
import { ProcessTree, Windows } from '../../watchdog/audit/attribute';
import { ALASTOR_JS, SAMPLE } from '../support/audit-log';

interface Row {
  serial: number;
  time: string;
  syscall: string;
  success: boolean;
  exit: number;
  pid: number;
  ppid: number;
  comm: string;
  exe: string;
  cwd?: string;
  argv?: string[];
  paths: Array<{ name: string; nametype: string; inode?: number }>;
  sockaddr?: { family: string; address?: string; port?: number; path?: string };
}

describe('alastor audit parse on the recorded sample', () => {
  let rows: Row[];
  let stderr: string;

  beforeAll(() => {
    const r = spawnSync(process.execPath, [ALASTOR_JS, 'audit', 'parse', SAMPLE, '--json'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    stderr = r.stderr;
    rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  });

  test('65 syscall events, one per serial 427..491, nothing skipped', () => {
    expect(rows).toHaveLength(65);
    expect(rows.map((r) => r.serial)).toEqual(Array.from({ length: 65 }, (_, i) => 427 + i));
    expect(stderr).toMatch(/255 lines, 255 records, 65 syscall events, 0 other events; skipped 0 garbage lines/);
    const counts: Record<string, number> = {};
    for (const r of rows) counts[r.syscall] = (counts[r.syscall] ?? 0) + 1;
    expect(counts).toEqual({ execve: 4, openat: 47, clone3: 6, clone: 1, vfork: 2, bind: 1, rename: 1, unlink: 1, connect: 1, accept4: 1 });
    expect(rows[0].time).toBe('2026-11-25T04:03:21.822Z');
  });

  test('the planted file: created, renamed, unlinked, with its inode', () => {
    const create = rows.find((r) => r.syscall === 'openat' && r.paths.some((p) => p.name === '/tmp/fnwork01/planted.js' && p.nametype === 'CREATE'));
    expect(create).toMatchObject({ serial: 456, pid: 6233, success: true, exit: 20, cwd: '/tmp/fnwork01' });
    const rename = rows.find((r) => r.syscall === 'rename')!;
    expect(rename.paths.map((p) => [p.name, p.nametype, p.inode])).toEqual([
      ['/tmp/fnwork01/', 'PARENT', 2147565],
      ['/tmp/fnwork01/', 'PARENT', 2147565],
      ['/tmp/fnwork01/planted.js', 'DELETE', 2146318],
      ['/tmp/fnwork01/planted2.js', 'CREATE', 2146318],
    ]);
    const unlink = rows.find((r) => r.syscall === 'unlink')!;
    expect(unlink.paths.map((p) => [p.name, p.nametype])).toEqual([
      ['/tmp/fnwork01/', 'PARENT'],
      ['/tmp/fnwork01/planted2.js', 'DELETE'],
    ]);
  });

  test('sh and head: execve with argv decoded from quoted and hex arguments', () => {
    const execs = rows.filter((r) => r.syscall === 'execve').map((r) => [r.pid, r.ppid, r.comm, r.exe, r.argv]);
    expect(execs).toEqual([
      [6233, 6211, 'node', '/usr/bin/node', ['node', 'scenario.js']],
      [6240, 6233, 'sh', '/usr/bin/dash', ['/bin/sh', '-c', "sh -c 'head -1 /etc/passwd > /dev/null'"]],
      [6241, 6240, 'sh', '/usr/bin/dash', ['sh', '-c', 'head -1 /etc/passwd > /dev/null']],
      [6242, 6241, 'head', '/usr/bin/head', ['head', '-1', '/etc/passwd']],
    ]);
    const clone = rows.find((r) => r.syscall === 'clone')!;
    expect(clone).toMatchObject({ pid: 6233, exit: 6240 });
  });

  test('the connect to 127.0.0.1 (non-blocking: EINPROGRESS) and the listener bind', () => {
    const connect = rows.find((r) => r.syscall === 'connect')!;
    expect(connect).toMatchObject({ success: false, exit: -115, pid: 6233, sockaddr: { family: 'inet', address: '127.0.0.1', port: 39835 } });
    const bind = rows.find((r) => r.syscall === 'bind')!;
    expect(bind.sockaddr).toEqual({ family: 'inet', address: '127.0.0.1', port: 0 });
  });

  test('table output names every event, and a missing file is one clear line', () => {
    const table = execFileSync(process.execPath, [ALASTOR_JS, 'audit', 'parse', SAMPLE], { encoding: 'utf8' });
    expect(table.trim().split('\n')).toHaveLength(66);
    expect(table).toMatch(/head\s+execve\s+0\s+head -1 \/etc\/passwd/);
    expect(table).toMatch(/connect\s+-115!\s+inet 127\.0\.0\.1:39835/);
    const r = spawnSync(process.execPath, [ALASTOR_JS, 'audit', 'parse', '/nonexistent/audit.log'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('alastor: no such file: /nonexistent/audit.log');
  });
});

describe('attribution on the sample', () => {
  const events: AuditEvent[] = [];
  let tree: ProcessTree;
  beforeAll(() => {
    // Root = the node process: its own syscalls are not reported, its children's are.
    tree = new ProcessTree(6233);
    readAuditFile(SAMPLE, { keep: (ev) => tree.observe(ev), onEvent: (ev) => events.push(ev) });
  });

  test('keeps exactly the descendants of the root, learned from clone and vfork', () => {
    expect(new Set(events.map((e) => e.pid))).toEqual(new Set([6240, 6241, 6242]));
    expect(events).toHaveLength(28); // serials 462..489
    expect(tree.descends(6242, 6233)).toBe(true);
    expect(tree.descends(6242, 6240)).toBe(true);
    expect(tree.descends(6240, 6242)).toBe(false);
  });

  test('windows: by time and by the serving pid; outside every window stays with the instance', () => {
    const w = new Windows();
    const t0 = 1795579401958000; // the clone of sh
    w.start({ invocation: 'inv-sh', tsUs: t0, pid: 6240 });
    w.end({ invocation: 'inv-sh', tsUs: t0 + 9000 });
    w.start({ invocation: 'inv-other', tsUs: t0 - 50000 }); // overlapping window without a pid
    w.end({ invocation: 'inv-other', tsUs: t0 + 4000 });
    const byInv = new Map<string, number>();
    for (const ev of events) {
      const a = w.attribute(ev, tree);
      const k = a.invocation ?? (a.outsideInvocation ? 'outside' : '?');
      byInv.set(k, (byInv.get(k) ?? 0) + 1);
    }
    // sh, its child sh and head until .966 inclusive belong to inv-sh (pid 6240 is their ancestor);
    // head's later opens (.970) fall after the window: they stay with the instance.
    const inSh = events.filter((e) => e.ts <= t0 + 9000).length;
    expect(byInv.get('inv-sh')).toBe(inSh);
    expect(byInv.get('outside')).toBe(events.length - inSh);
    expect(byInv.has('inv-other')).toBe(false);
  });
});
