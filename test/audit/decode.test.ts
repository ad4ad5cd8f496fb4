// Record-level decoding and assembly: the shapes auditd writes that the sample does not hold.
import { AuditReader } from '../../watchdog/audit/reader';
import type { AuditEvent } from '../../watchdog/audit/event';
import { decodeSockaddr } from '../../watchdog/audit/decode';
import { parseRecord } from '../../watchdog/audit/parse';
import { eventLines } from '../support/audit-log';

function parse(text: string, opts: { ageMs?: number; serialGap?: number } = {}): { events: AuditEvent[]; reader: AuditReader } {
  const events: AuditEvent[] = [];
  const reader = new AuditReader({ onEvent: (e) => events.push(e), ...opts });
  reader.push(Buffer.from(text, 'latin1'));
  reader.end();
  return { events, reader };
}

describe('sockaddr', () => {
  test('inet, inet6 (compressed, v4-mapped), unix path, abstract unix, netlink', () => {
    expect(decodeSockaddr('02001F907F0000010000000000000000')).toEqual({ family: 'inet', address: '127.0.0.1', port: 8080 });
    expect(decodeSockaddr('0A001F90000000000000000000000000000000000000000100000000')).toEqual({ family: 'inet6', address: '::1', port: 8080 });
    expect(decodeSockaddr('0A0000500000000020010DB800000000000000000000004200000000')?.address).toBe('2001:db8::42');
    expect(decodeSockaddr('0A0001BB0000000000000000000000000000FFFFC0A8010200000000')).toEqual({ family: 'inet6', address: '::ffff:192.168.1.2', port: 443 });
    expect(decodeSockaddr('01002F7661722F72756E2F646F636B65722E736F636B00')).toEqual({ family: 'unix', path: '/var/run/docker.sock' });
    expect(decodeSockaddr('0100006162630000')).toEqual({ family: 'unix', path: '@abc' });
    expect(decodeSockaddr('100000000000000000000000')).toEqual({ family: 'netlink' });
    expect(decodeSockaddr('ZZ')).toBeUndefined();
  });
});

describe('records', () => {
  test('RAW, ENRICHED and node= prefixed headers; garbage is not a record', () => {
    const raw = parseRecord('type=CWD msg=audit(1795579401.830:428): cwd="/tmp"')!;
    expect([raw.type, raw.sec, raw.ms, raw.serial]).toEqual(['CWD', 1795579401, 830, 428]);
    const node = parseRecord('node=web-1 type=PATH msg=audit(1.5:7): item=0 name="/x"')!;
    expect([node.node, node.type, node.ms, node.serial]).toEqual(['web-1', 'PATH', 5, 7]);
    for (const bad of ['', 'type=', 'type=SYSCALL', 'type=SYSCALL msg=audit(', 'type=SYSCALL msg=audit(12.3:', 'type=sys msg=audit(1.2:3): x', 'hello world', '\x00\x01type=SYSCALL']) {
      expect(parseRecord(bad)).toBeNull();
    }
  });

  test('ENRICHED: the interpreted SYSCALL= names a number outside the table', () => {
    const lines = eventLines({ serial: 9, syscall: 999, pid: 10, ppid: 1, enriched: true });
    const { events } = parse(lines.join('\n') + '\n');
    expect(events[0].syscall).toBe('whatever');
    const known = eventLines({ serial: 9, syscall: 42, pid: 10, ppid: 1, enriched: true, saddr: '02000050010203040000000000000000' });
    const e2 = parse(known.join('\n') + '\n').events[0];
    expect([e2.syscall, e2.uid, e2.sockaddr]).toEqual(['connect', 0, { family: 'inet', address: '1.2.3.4', port: 80 }]);
  });

  test('hex-encoded names, (null) names, comm and exe with spaces', () => {
    const lines = eventLines({
      serial: 5, syscall: 257, pid: 10, ppid: 1, comm: 'my prog', exe: '/opt/my prog/bin',
      paths: [{ name: '/tmp/a b.txt', nametype: 'CREATE' }], cwd: '/tmp/dir with space', eoe: false,
    });
    lines.push('type=PATH msg=audit(1795579401.822:5): item=1 name=(null) inode=7 dev=00:00 mode=0100644 nametype=UNKNOWN');
    const ev = parse(lines.join('\n')).events[0];
    expect([ev.comm, ev.exe, ev.cwd]).toEqual(['my prog', '/opt/my prog/bin', '/tmp/dir with space']);
    expect(ev.paths).toEqual([
      { name: '/tmp/a b.txt', nametype: 'CREATE', inode: 1000, mode: '0100644' },
      { name: '', nametype: 'UNKNOWN', inode: 7, mode: '0100644' },
    ]);
  });
});

describe('EXECVE argv', () => {
  const head = 'msg=audit(1795579401.822:50):';
  const sys = `type=SYSCALL ${head} arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=0 ppid=1 pid=77 uid=0 comm="python3" exe="/usr/bin/python3" key=(null)`;

  test('long arguments split as aN_len / aN[i], hex and quoted chunks, over two EXECVE records', () => {
    const long = 'x'.repeat(300) + ' y';
    const hexChunks = [Buffer.from(long.slice(0, 150)).toString('hex'), Buffer.from(long.slice(150)).toString('hex')];
    const lines = [
      sys,
      `type=EXECVE ${head} argc=4 a0="python3" a1_len=${long.length} a1[0]=${hexChunks[0].toUpperCase()} a1[1]=${hexChunks[1].toUpperCase()}`,
      `type=EXECVE ${head} a2_len=10 a2[0]="hello" a2[1]="world" a3="-v"`,
      `type=EOE ${head} `,
    ];
    const ev = parse(lines.join('\n') + '\n').events[0];
    expect(ev.argv).toEqual(['python3', long, 'helloworld', '-v']);
  });

  test('a multibyte UTF-8 character split across hex chunks survives', () => {
    const arg = 'café-ü';
    const b = Buffer.from(arg);
    const cut = 4; // inside the two-byte é
    const lines = [sys, `type=EXECVE ${head} argc=1 a0_len=${b.length} a0[0]=${b.subarray(0, cut).toString('hex')} a0[1]=${b.subarray(cut).toString('hex')}`];
    expect(parse(lines.join('\n')).events[0].argv).toEqual([arg]);
  });
});

describe('assembly by serial', () => {
  test('interleaved events with EOE are kept apart', () => {
    const a = eventLines({ serial: 100, syscall: 257, pid: 1, ppid: 0, paths: [{ name: '/a', nametype: 'CREATE' }] });
    const b = eventLines({ serial: 101, syscall: 257, pid: 2, ppid: 0, paths: [{ name: '/b', nametype: 'CREATE' }] });
    const mixed: string[] = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (b[i]) mixed.push(b[i]);
      if (a[i]) mixed.push(a[i]);
    }
    const { events } = parse(mixed.join('\n') + '\n');
    expect(events.map((e) => [e.serial, e.pid, e.paths.map((p) => p.name)])).toEqual([
      [101, 2, ['/b']],
      [100, 1, ['/a']],
    ]);
  });

  test('without EOE: completed when the serial moves far on, when audit time moves on, or at the end', () => {
    const lines: string[] = [];
    lines.push(...eventLines({ serial: 1, syscall: 59, pid: 1, ppid: 0, argv: ['a'], eoe: false }));
    lines.push(...eventLines({ serial: 2, ms: 900, syscall: 59, pid: 1, ppid: 0, argv: ['b'], eoe: false }));
    const seen: number[] = [];
    const reader = new AuditReader({ onEvent: (e) => seen.push(e.serial), serialGap: 10, ageMs: 50 });
    reader.push(Buffer.from(lines.join('\n') + '\n'));
    expect(seen).toEqual([1]); // audit time moved 78 ms past serial 1
    reader.push(Buffer.from(eventLines({ serial: 20, ms: 901, syscall: 59, pid: 1, ppid: 0, eoe: false }).join('\n') + '\n'));
    expect(seen).toEqual([1, 2]); // serial 20 is more than 10 past serial 2
    reader.end();
    expect(seen).toEqual([1, 2, 20]);
    expect(reader.stats.syscallEvents).toBe(3);
  });

  test('a restarted serial counter does not merge two events', () => {
    const lines = [
      ...eventLines({ serial: 3, sec: 1795579401, syscall: 59, pid: 1, ppid: 0, argv: ['old'], eoe: false }),
      ...eventLines({ serial: 3, sec: 1795579999, syscall: 59, pid: 2, ppid: 0, argv: ['new'], eoe: false }),
    ];
    const { events } = parse(lines.join('\n'));
    expect(events.map((e) => e.argv)).toEqual([['old'], ['new']]);
  });

  test('non-syscall events (user space records) are counted, not reported', () => {
    const text = [
      'type=DAEMON_START msg=audit(1795599329.465:4342): op=start ver=3.0.9 format=enriched kernel=6.18 auid=4294967295 pid=7070 uid=0 ses=4294967295 res=success\x1dAUID="unset" UID="root"',
      "type=USER_LOGIN msg=audit(1795599329.500:4343): pid=1 uid=0 auid=0 ses=1 msg='op=login acct=\"root\" exe=\"/usr/sbin/sshd\" res=success'",
    ].join('\n');
    const { events, reader } = parse(text);
    expect(events).toHaveLength(0);
    expect(reader.stats).toMatchObject({ records: 2, events: 2, otherEvents: 2, garbageLines: 0 });
  });
});
