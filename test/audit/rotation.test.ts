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
