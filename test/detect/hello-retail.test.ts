// DeepLog on real Hello, Retail! traffic: the example stack runs under fwatchdog with provenance
// (alastor up), models are trained on the normal first period, and the held-out period, with the
// two-step attack hidden in it, is scanned. The attack's authorize-cc invocations must be flagged,
// held-out normal invocations not, and `investigate` must walk from the exfiltration back to the
// attacker's first request through the planted file.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ALASTOR } from '../support/collector';

const SCENARIO = join(__dirname, '..', 'support', 'detect-hr-scenario.mjs');

function run(file: string, args: string[], timeout = 120000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [file, ...args], { timeout, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Fails with the command's own words when it did not succeed. */
function ok(r: { code: number; stdout: string; stderr: string }, what: string): void {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr.trim().split('\n').slice(-5).join(' | ')}`);
}

interface Scenario {
  db: string;
  split: number;
  held: { attack: { one?: { callId?: string; status: number }; two?: { callId?: string; status: number } } };
  stolen: number;
}

const dir = mkdtempSync(join(tmpdir(), 'alastor-detect-hr-'));
let sc: Scenario;

beforeAll(async () => {
  const r = await run(SCENARIO, [dir, '80', '40'], 150000);
  if (r.code !== 0) throw new Error(`scenario failed: ${r.stderr}`);
  sc = JSON.parse(r.stdout.trim().split('\n').pop()!) as Scenario;
}, 160000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The authorize-cc invocation inside the purchase a given X-Call-Id started. */
function authorizeOf(db: Database.Database, callId: string): string {
  const trace = db
    .prepare<[string], { t: string }>(`SELECT json_extract(body, '$.traceId') AS t FROM events WHERE kind = 'invocation.start' AND function = 'product-purchase' AND json_extract(body, '$.callId') = ?`)
    .get(callId);
  if (!trace) throw new Error(`no purchase with X-Call-Id ${callId}`);
  const row = db
    .prepare<[string], { invocation: string }>(`SELECT invocation FROM events WHERE kind = 'invocation.start' AND function = 'authorize-cc' AND json_extract(body, '$.traceId') = ?`)
    .get(trace.t);
  if (!row) throw new Error(`no authorize-cc invocation in trace ${trace.t}`);
  return row.invocation;
}

test('the attack is flagged, held-out normal invocations are not, and investigate reaches the first request', async () => {
  expect(sc.stolen).toBe(1); // the attack really ran end to end
  const train = await run(ALASTOR, ['detect', 'train', '--db', sc.db, '--until', String(sc.split), '--seed', '3']);
  ok(train, 'detect train');
  expect(train.stdout).toMatch(/^authorize-cc\t\d+ invocations/m);

  const scan = await run(ALASTOR, ['detect', 'scan', '--db', sc.db, '--since', String(sc.split), '--json']);
  ok(scan, 'detect scan');
  const found = JSON.parse(scan.stdout) as Array<{ invocation: string; function: string; keys: Array<{ position: number; key: string; expected: string[] }> }>;

  const db = new Database(sc.db, { readonly: true });
  let scanned: number;
  let one: string;
  let two: string;
  let rootCallId: string | undefined;
  try {
    one = authorizeOf(db, sc.held.attack.one!.callId!);
    two = authorizeOf(db, sc.held.attack.two!.callId!);
    const trained = db.prepare<[], { function: string }>(`SELECT DISTINCT function FROM detect_models`).all().map((r) => r.function);
    scanned = db
      .prepare<[number], { n: number }>(
        `SELECT count(*) AS n FROM events WHERE kind = 'invocation.start' AND ts >= ? AND function IN (${trained.map(() => '?').join(',')})`,
      )
      .get(sc.split, ...(trained as unknown as [])) !.n;
    rootCallId = sc.held.attack.one!.callId;
  } finally {
    db.close();
  }

  const flagged = new Set(found.map((d) => d.invocation));
  const attack = new Set([one, two]);
  const tp = [...attack].filter((i) => flagged.has(i)).length;
  const fp = found.filter((d) => !attack.has(d.invocation)).length;
  const precision = found.length ? tp / found.length : 0;
  const recall = tp / attack.size;
  console.log(`Hello Retail: ${scanned} held-out invocations scanned, ${found.length} flagged; attack ${tp}/2 (recall ${recall.toFixed(2)}), false positives ${fp} (${((100 * fp) / (scanned - 2)).toFixed(1)}% of normal), precision ${precision.toFixed(2)}`);
  expect(recall).toBe(1);
  expect(fp / (scanned - 2)).toBeLessThanOrEqual(0.03);

  // What made them odd: step one fetched from outside and wrote to /tmp, step two loaded from /tmp.
  const keysOf = (inv: string) => found.find((d) => d.invocation === inv)!.keys.map((k) => k.key);
  expect(keysOf(one)).toEqual(expect.arrayContaining(['http.out:loopback:registered', 'app.file:create:/tmp/*']));
  expect(keysOf(two)).toEqual(expect.arrayContaining(['app.module:external:/tmp/*']));

  const inv = await run(ALASTOR, ['investigate', '--db', sc.db, '--since', String(sc.split), '--json']);
  ok(inv, 'investigate');
  const stories = JSON.parse(inv.stdout) as Array<{ invocation: string; start: { kind: string; label: string }; path: string[]; root: { id: string; kind: string } | null }>;
  const second = stories.find((s) => s.invocation === two)!;
  expect(second.start.label).toMatch(/\/exfil$/);
  expect(second.path.some((id) => id.startsWith('file:') && id.includes('.cc-fraud-rules.js'))).toBe(true);
  expect(second.path).toContain(`inv:${one}`);
  expect(second.root?.kind).toBe('request');
  // The root is the attacker's first request: the purchase that carried step one.
  const db2 = new Database(sc.db, { readonly: true });
  try {
    const rootInv = second.root!.id.replace(/^req:/, '');
    const callId = db2.prepare<[string], { c: string }>(`SELECT json_extract(body, '$.callId') AS c FROM events WHERE kind = 'invocation.start' AND invocation = ?`).get(rootInv)?.c;
    expect(callId).toBe(rootCallId);
  } finally {
    db2.close();
  }

  const human = await run(ALASTOR, ['investigate', '--db', sc.db, '--since', String(sc.split)]);
  expect(human.stdout).toMatch(/path to the root cause:/);
  expect(human.stdout).toMatch(/root cause: request POST/);
}, 120000);

test('a function with too few normal invocations is a clear error naming it, its count and the minimum', async () => {
  const r = await run(ALASTOR, ['detect', 'train', '--db', sc.db, '--function', 'catalog-builder', '--until', String(sc.split), '--model-dir', join(dir, 'm2')]);
  expect(r.code).toBe(1);
  expect(r.stderr.trim()).toMatch(/^alastor: function "catalog-builder" has \d+ normal invocations?; training needs at least 20$/);
  const none = await run(ALASTOR, ['detect', 'train', '--db', sc.db, '--function', 'no-such-fn', '--model-dir', join(dir, 'm3')]);
  expect(none.stderr).toMatch(/function "no-such-fn" has 0 normal invocations; training needs at least 20/);
});

test('training from the CLI is reproducible: the same seed writes a byte-identical model', async () => {
  const args = (d: string) => ['detect', 'train', '--db', sc.db, '--function', 'authorize-cc', '--until', String(sc.split), '--seed', '5', '--epochs', '4', '--model-dir', join(dir, d)];
  const a = await run(ALASTOR, args('seed-a'));
  const b = await run(ALASTOR, args('seed-b'));
  ok(a, 'detect train (a)');
  ok(b, 'detect train (b)');
  const fa = readFileSync(join(dir, 'seed-a', 'authorize-cc.deeplog.json'));
  const fb = readFileSync(join(dir, 'seed-b', 'authorize-cc.deeplog.json'));
  expect(fa.equals(fb)).toBe(true);
});
