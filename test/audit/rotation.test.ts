// The tail follows its log across rotation (rename + new file) and truncation in the middle of a
// burst, losing and repeating nothing. The log here is a file this test writes and rotates itself,
// the way auditd does (rename audit.log -> audit.log.1, then create audit.log); the live test
// rotates the real auditd too.
import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditReader } from '../../watchdog/audit/reader';
import { LogTail } from '../../watchdog/audit/tail';
import { eventLines } from '../support/audit-log';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'audit-rot-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function follow(path: string) {
  const serials: number[] = [];
  const reader = new AuditReader({ onEvent: (e) => serials.push(e.serial) });
  const tail = new LogTail({ path, fromStart: true, onData: (b) => reader.push(b), onFileEnd: () => reader.fileEnd() });
  return { serials, reader, tail };
}

const ev = (serial: number) => eventLines({ serial, syscall: 257, pid: 100, ppid: 1, paths: [{ name: `/tmp/f${serial}`, nametype: 'CREATE' }] }).join('\n') + '\n';

test('rotation mid-burst, with unread data left in the old file and records split across writes', () => {
  const log = join(dir, 'audit.log');
  writeFileSync(log, '');
  const { serials, reader, tail } = follow(log);
  tail.start();
  let serial = 1;
  for (let burst = 0; burst < 6; burst++) {
    for (let i = 0; i < 200; i++) {
      const text = ev(serial++);
      // Some events land in two writes, as a writer flushing mid-record would leave them.
      if (i % 7 === 0) {
        appendFileSync(log, text.slice(0, 40));
        tail.poll();
        appendFileSync(log, text.slice(40));
      } else appendFileSync(log, text);
      if (i === 100) tail.poll();
    }
    // Rotate with the burst's second half still unread in the old file.
    renameSync(log, join(dir, `audit.log.${burst + 1}`));
    appendFileSync(join(dir, `audit.log.${burst + 1}`), ev(serial++)); // a late write to the old inode
    writeFileSync(log, '');
    appendFileSync(log, ev(serial++));
    // (Numbered oldest-first, unlike auditd: the older numbered files must not be read again.)
    tail.poll();
  }
  tail.stop();
  reader.end();
  expect(tail.rotations).toBe(6);
  expect(serials).toEqual(Array.from({ length: serial - 1 }, (_, i) => i + 1));
  expect(reader.stats.garbageLines).toBe(0);
});

test('the path missing for a while (between rename and create) loses nothing', () => {
  const log = join(dir, 'audit.log');
  writeFileSync(log, ev(1));
  const { serials, reader, tail } = follow(log);
  tail.start();
  appendFileSync(log, ev(2));
  renameSync(log, join(dir, 'audit.log.1'));
  tail.poll(); // no file at the path: keeps reading the old one
  tail.poll();
  writeFileSync(log, ev(3));
  tail.poll();
  tail.stop();
  reader.end();
  expect(serials).toEqual([1, 2, 3]);
});

test('truncation: reads the file again from the start after it shrank', () => {
  const log = join(dir, 'audit.log');
  writeFileSync(log, ev(1) + ev(2) + ev(3));
  const { serials, reader, tail } = follow(log);
  tail.start();
  tail.poll();
  truncateSync(log, 0);
  appendFileSync(log, ev(4));
  tail.poll();
  appendFileSync(log, ev(5));
  tail.stop();
  reader.end();
  expect(tail.truncations).toBe(1);
  expect(serials).toEqual([1, 2, 3, 4, 5]);
});

/** auditd's scheme: audit.log.N -> .N+1 for every kept file, then audit.log -> audit.log.1. */
function rotateLikeAuditd(log: string, keep = 50): void {
  for (let i = keep - 1; i >= 1; i--) {
    try {
      renameSync(`${log}.${i}`, `${log}.${i + 1}`);
    } catch {
      /* not there yet */
    }
  }
  renameSync(log, `${log}.1`);
  writeFileSync(log, '');
}

test('timer-driven: a writer rotating every 50 events (several times between two polls)', async () => {
  const log = join(dir, 'audit.log');
  writeFileSync(log, '');
  const { serials, reader, tail } = follow(log);
  tail.start();
  let serial = 1;
  for (let n = 0; n < 1000; n++) {
    appendFileSync(log, ev(serial++));
    if (n % 50 === 49) rotateLikeAuditd(log);
    if (n % 100 === 0) await new Promise((r) => setTimeout(r, 60));
  }
  await new Promise((r) => setTimeout(r, 120));
  tail.stop();
  reader.end();
  expect(serials).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
  expect(tail.rotations).toBe(20);
});

// The live mechanism behind a create missing its path in the real burst: auditd rotated between
// two records of one event (SYSCALL at the end of the old file, PATH and EOE at the start of the
// new), took longer than the wall-clock idle bound to create and write the new file, and the event
// was completed without its PATH. Here the writer's stall and the tailer's clock are explicit.
describe('an event cut in two by rotation keeps all its records', () => {
  const lines = (serial: number) =>
    eventLines({ serial, syscall: 257, pid: 100, ppid: 1, cwd: '/tmp', paths: [{ name: `/tmp/burst.${serial}`, nametype: 'CREATE' }] });

  const tails: LogTail[] = [];
  afterEach(() => tails.splice(0).forEach((t) => t.stop())); // a failed expectation must not leave a timer

  function clocked(log: string) {
    let clock = 0;
    const events: Array<{ serial: number; paths: string[] }> = [];
    const reader = new AuditReader({ onEvent: (e) => events.push({ serial: e.serial, paths: e.paths.map((p) => p.name) }) });
    const tail = new LogTail({ path: log, fromStart: true, onData: (b) => reader.push(b, clock), onFileEnd: () => reader.fileEnd() });
    tails.push(tail);
    const tick = (ms: number) => {
      clock = ms;
      tail.poll();
      reader.tick(ms, 1000, tail.pathMissing);
    };
    return { events, reader, tail, tick };
  }

  test('the new file appears only after the idle bound (path absent, then present but empty)', () => {
    const log = join(dir, 'audit.log');
    writeFileSync(log, '');
    const { events, reader, tail, tick } = clocked(log);
    tail.start();
    const [syscall, ...rest] = lines(7);
    appendFileSync(log, lines(6).join('\n') + '\n' + syscall + '\n');
    tick(0);
    renameSync(log, join(dir, 'audit.log.1'));
    tick(1500); // renamed, not yet created
    tick(3000);
    writeFileSync(log, ''); // created, nothing written yet
    tick(4500);
    tick(6000);
    expect(events.map((e) => e.serial)).toEqual([6]);
    appendFileSync(log, rest.join('\n') + '\n' + lines(8).join('\n') + '\n');
    tick(6100);
    tail.stop();
    reader.end();
    expect(events).toEqual([6, 7, 8].map((s) => ({ serial: s, paths: [`/tmp/burst.${s}`] })));
    expect(reader.stats.otherEvents).toBe(0);
  });

  test('records read long after the last tick wait the idle bound from their read, not from that tick', () => {
    const log = join(dir, 'audit.log');
    writeFileSync(log, '');
    const { events, reader, tail, tick } = clocked(log);
    tail.start();
    tick(0);
    const [syscall, ...rest] = lines(9);
    appendFileSync(log, syscall + '\n');
    // The tailer was starved for 1.5 s; this tick reads the SYSCALL record just written.
    tick(1500);
    appendFileSync(log, rest.join('\n') + '\n');
    tick(1600);
    tail.stop();
    reader.end();
    expect(events).toEqual([{ serial: 9, paths: ['/tmp/burst.9'] }]);
    expect(reader.stats.otherEvents).toBe(0);
  });

  test('an event that never gets its EOE is still completed once the writer is past the rotation', () => {
    const log = join(dir, 'audit.log');
    writeFileSync(log, '');
    const { events, reader, tail, tick } = clocked(log);
    tail.start();
    appendFileSync(log, lines(10).slice(0, -1).join('\n') + '\n'); // no EOE, ever
    tick(0);
    renameSync(log, join(dir, 'audit.log.1'));
    writeFileSync(log, lines(11).slice(0, -1).join('\n') + '\n');
    tick(500);
    expect(events).toEqual([]);
    tick(1600);
    expect(events.map((e) => e.serial)).toEqual([10, 11]);
    tail.stop();
    reader.end();
  });
});

test('auditd\'s DAEMON_ROTATE at the head of the new file does not complete the event cut by the rotation', () => {
  const log = join(dir, 'audit.log');
  writeFileSync(log, '');
  const { serials, reader, tail } = follow(log);
  const paths: string[][] = [];
  const r2 = new AuditReader({ onEvent: (e) => paths.push(e.paths.map((p) => p.nametype)) });
  tail.start();
  const lines = eventLines({ serial: 1095380, syscall: 257, pid: 100, ppid: 1, cwd: '/tmp', paths: [{ name: '/tmp', nametype: 'PARENT' }, { name: 'burst.127', nametype: 'CREATE' }] });
  const cut = lines.findIndex((l) => l.includes('item=1'));
  appendFileSync(log, lines.slice(0, cut).join('\n') + '\n');
  tail.poll();
  renameSync(log, join(dir, 'audit.log.1'));
  // As auditd 3 writes it: its own record, under its own (small) serial, then the rest of the event.
  const daemon = 'type=DAEMON_ROTATE msg=audit(1795579401.900:4356): op=rotate-logs auid=-1 pid=-1 subj=? res=success';
  writeFileSync(log, daemon + '\n' + lines.slice(cut).join('\n') + '\n');
  tail.stop();
  reader.end();
  expect(serials).toEqual([1095380]);
  r2.push(Buffer.from(lines.slice(0, cut).join('\n') + '\n' + daemon + '\n' + lines.slice(cut).join('\n') + '\n'));
  r2.end();
  expect(paths).toEqual([['PARENT', 'CREATE']]);
  expect(r2.stats.otherEvents).toBe(1);
});
