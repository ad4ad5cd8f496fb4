// Bad input never crashes the parser: random bytes, every truncation of every sample line, garbage
// between records, and arbitrary chunk boundaries (which must not change the result at all).
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditReader } from '../../watchdog/audit/reader';
import type { AuditEvent } from '../../watchdog/audit/event';
import { ALASTOR_JS, SAMPLE } from '../support/audit-log';

const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1e9);
function rng(s: number) {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(seed);
const int = (n: number) => Math.floor(rand() * n);

const sample = readFileSync(SAMPLE);
const sampleLines = sample.toString('latin1').split('\n').filter(Boolean);

function run(chunks: Buffer[]): { events: AuditEvent[]; reader: AuditReader } {
  const events: AuditEvent[] = [];
  const reader = new AuditReader({ onEvent: (e) => events.push(e) });
  for (const c of chunks) reader.push(c);
  reader.end();
  return { events, reader };
}

beforeAll(() => console.log(`fuzz seed ${seed} (FUZZ_SEED=${seed} reproduces it)`));

test('random binary input: no exception, every line accounted for', () => {
  for (let i = 0; i < 120; i++) {
    const b = Buffer.alloc(int(20000) & ~3);
    for (let j = 0; j < b.length; j += 4) b.writeUInt32LE((rand() * 4294967296) >>> 0, j);
    for (let j = int(200); j < b.length; j += 1 + int(200)) b[j] = 10;
    const { reader } = run([b]);
    const s = reader.stats;
    expect(s.bytes).toBe(b.length);
    expect(s.syscallEvents).toBe(0);
    expect(s.records + s.garbageLines + s.oversizeLines).toBeLessThanOrEqual(s.lines);
  }
});

test('random chunk boundaries give exactly the same events as one read', () => {
  const whole = JSON.stringify(run([sample]).events);
  for (let i = 0; i < 100; i++) {
    const chunks: Buffer[] = [];
    for (let at = 0; at < sample.length; ) {
      const n = 1 + int(i % 2 ? 7 : 3000);
      chunks.push(sample.subarray(at, at + n));
      at += n;
    }
    expect(JSON.stringify(run(chunks).events)).toBe(whole);
  }
});

test('every truncation of every line of the sample: no exception, the other events intact', () => {
  let cases = 0;
  for (let li = 0; li < sampleLines.length; li++) {
    const line = sampleLines[li];
    const step = Math.max(1, Math.floor(line.length / 6));
    for (let cut = 0; cut < line.length; cut += step) {
      const lines = sampleLines.slice();
      lines[li] = line.slice(0, cut);
      const { events } = run([Buffer.from(lines.join('\n') + '\n', 'latin1')]);
      // Only the event whose line was cut may be lost (its SYSCALL record), never another one.
      expect(events.length).toBeGreaterThanOrEqual(64);
      cases++;
    }
  }
  expect(cases).toBeGreaterThan(1500);
});

test('garbage, binary noise and cut lines between records are counted and skipped', () => {
  const noise = ['garbage', '\x00\x01\x02\xff\xfe', 'type=SYSCALL msg=audit(17955', 'type=PATH msg=audit(xyz): item=0', '   ', 'node=', '{"json":true}'];
  const out: string[] = [];
  let planted = 0;
  for (const l of sampleLines) {
    out.push(l);
    if (rand() < 0.5) {
      out.push(noise[int(noise.length)]);
      planted++;
    }
  }
  const { events, reader } = run([Buffer.from(out.join('\n') + '\n', 'latin1')]);
  expect(events).toHaveLength(65);
  expect(reader.stats.garbageLines).toBe(planted);

  const dir = mkdtempSync(join(tmpdir(), 'audit-fuzz-'));
  try {
    const f = join(dir, 'noisy.log');
    writeFileSync(f, Buffer.concat([Buffer.from(out.join('\n') + '\n', 'latin1'), Buffer.from('type=SYSCALL msg=audit(1795579401.99:999): arch=c000003e sysc')]));
    const r = spawnSync(process.execPath, [ALASTOR_JS, 'audit', 'parse', f, '--json'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(65);
    expect(r.stderr).toContain(`skipped ${planted} garbage lines, 0 oversize lines, 1 incomplete events`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an endless line without a newline is dropped as oversize, and parsing resumes after it', () => {
  const big = Buffer.alloc(600 * 1024, 0x41);
  const { events, reader } = run([big, big, Buffer.from('\n'), sample]);
  expect(reader.stats.oversizeLines).toBe(1);
  expect(events).toHaveLength(65);
});
