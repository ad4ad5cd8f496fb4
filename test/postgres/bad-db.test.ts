// A --db that cannot be used stops `alastor collector` (and the queries) at start with one line
// naming --db, and never prints a password given in the URL.
import { spawnSync } from 'node:child_process';
import { ALASTOR } from '../support/collector';
import { freePort } from '../support/watchdog';
import { postgresSkip, sharedPostgres, stopSharedPostgres } from '../support/postgres';

afterAll(() => stopSharedPostgres());

const run = (args: string[], env: NodeJS.ProcessEnv = process.env) => spawnSync(process.execPath, [ALASTOR, ...args], { encoding: 'utf8', env, timeout: 30000 });

test('a malformed URL or a database nobody listens for: one line naming --db', async () => {
  const closed = await freePort(); // nothing listens there
  for (const [args, want] of [
    [['collector', '--db', 'postgres://u:secret@127.0.0.1:notaport/x', '--port', '0'], /^alastor: --db: "postgres:\/\/u:\*\*\*@127\.0\.0\.1:notaport\/x" is not a valid PostgreSQL URL/],
    [['collector', '--db', `postgres://u@127.0.0.1:${closed}/`, '--port', '0'], /^alastor: --db: .* names no database/],
    [['collector', '--db', `postgres://u:secret@127.0.0.1:${closed}/alastor`, '--port', '0'], new RegExp(`^alastor: --db: cannot use PostgreSQL at postgres://u:\\*\\*\\*@127\\.0\\.0\\.1:${closed}/alastor: .*ECONNREFUSED`)],
    [['verify', '--db', `postgres://u@127.0.0.1:${closed}/alastor`], /^alastor: --db: cannot use PostgreSQL at .*ECONNREFUSED/],
  ] as const) {
    const r = run([...args], { ...process.env, ALASTOR_TOKEN: 'k' });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(want);
    expect(r.stderr).not.toContain('secret');
  }
});

(postgresSkip('a wrong PostgreSQL password') ? test.skip : test)('a wrong password is one line naming --db; the right one from PGPASSWORD opens the store', async () => {
  const pg = await sharedPostgres();
  const url = pg.createDatabase('baddb');
  const wrong = run(['events', '--db', url], { ...process.env, PGPASSWORD: 'not-it' });
  expect(wrong.status).toBe(1);
  expect(wrong.stderr).toMatch(/^alastor: --db: cannot use PostgreSQL at postgres:\/\/alastor@127\.0\.0\.1:\d+\/baddb: password authentication failed/);
  expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
  // A database no collector has set up is not a store to read.
  const empty = run(['events', '--db', url]);
  expect(empty.stderr).toMatch(/^alastor: --db: .* is not an alastor store/);
});
