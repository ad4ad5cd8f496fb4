// A store written before batches recorded their rowid range (events schema v1, with the
// (source, batch_seq) index): `alastor verify` reads it as it is, read-only, and a collector
// started on it migrates it and goes on storing, with every chain still verifying.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { EVENTS_MIGRATIONS } from '../../collector/store/migrations';
import { uuidv7 } from '../../events';
import { ALASTOR, startCollector, stopAllCollectors } from '../support/collector';
import { Chain, post, stopEvent } from '../support/batches';

const TOKEN = 'migrate-test-secret';

afterAll(() => stopAllCollectors());

function verify(db: string): Promise<{ code: number | null; report: { ok: boolean; batches: number; events: number; problems: unknown[] } }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [ALASTOR, 'verify', '--db', db, '--json'], { env: { ...process.env, ALASTOR_TOKEN: TOKEN }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.on('close', (code) => resolve({ code, report: JSON.parse(out) }));
  });
}

test('a v1 store verifies read-only, then migrates under a collector and keeps verifying', async () => {
  const db = join(mkdtempSync(join(tmpdir(), 'alastor-migrate-')), 'old.db');
  const chain = new Chain(`src-${uuidv7()}`, TOKEN);
  const sent = [chain.next([stopEvent('m1'), stopEvent('m1')]), chain.next([stopEvent('m1')])];

  // What a collector of the first schema left: its tables, its rows, schema_version events = 1.
  const old = new Database(db);
  old.pragma('journal_mode = WAL');
  old.exec(EVENTS_MIGRATIONS[0]);
  old.exec(`CREATE TABLE schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL); INSERT INTO schema_version VALUES ('events', 1)`);
  const ins = old.prepare(`INSERT INTO events (id, kind, ts, instance, function, invocation, source, batch_seq, body) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?)`);
  for (const b of sent) {
    const parsed = JSON.parse(b.body) as { events: Array<{ id: string; kind: string; ts: number; instance: string; function: string }>; prev: string };
    old.prepare(`INSERT INTO batches (source, seq, prev, mac, count, received_us) VALUES (?, ?, ?, ?, ?, 0)`).run(chain.source, b.seq, parsed.prev, b.mac, parsed.events.length);
    for (const e of parsed.events) ins.run(e.id, e.kind, e.ts, e.instance, e.function, chain.source, b.seq, JSON.stringify(e));
  }
  old.close();

  const before = await verify(db);
  expect(before.code).toBe(0);
  expect(before.report).toMatchObject({ ok: true, batches: 2, events: 3 });

  const c = await startCollector({ token: TOKEN, db });
  expect((await post(`${c.url}/v1/batches`, chain.next([stopEvent('m1')]).body)).status).toBe(200);
  const ranges = c.query<{ seq: number; first_event: number; last_event: number }>('SELECT seq, first_event, last_event FROM batches WHERE source = ? ORDER BY seq', chain.source);
  expect(ranges.map((r) => r.last_event - r.first_event + 1)).toEqual([2, 1, 1]);
  expect(c.query(`SELECT name FROM sqlite_master WHERE name = 'events_source'`)).toEqual([]);
  await c.stop();

  const after = await verify(db);
  expect(after.code).toBe(0);
  expect(after.report).toMatchObject({ ok: true, batches: 3, events: 4 });

  // An event row moved to another batch of its source no longer counts for the one it was in.
  const w = new Database(db);
  w.prepare(`UPDATE events SET batch_seq = 2 WHERE seq = (SELECT first_event FROM batches WHERE source = ? AND seq = 1)`).run(chain.source);
  w.close();
  const tampered = await verify(db);
  expect(tampered.code).toBe(1);
  expect(tampered.report.problems).toEqual(expect.arrayContaining([expect.objectContaining({ seq: 1, problem: 'count' })]));
});
