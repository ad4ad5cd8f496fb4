// The main job end to end: `node scripts/demo.mjs --json` as a real process (stack, collector,
// watchdogs, audit, traffic, attack, backward trace), then its answer checked against the store.
// In CI (CI=true) the audit layer must be on: --audit on fails the demo if it cannot be.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

const ROOT = join(__dirname, '..', '..');
const CI = process.env.CI === 'true';

interface DemoResult {
  db: string;
  html: string;
  audit: { on: boolean; reason: string };
  poi: { kind: string; label: string; invocation?: string; endpoint: string };
  rootCause: { invocation: string; function: string; time: number; callId?: string };
  path: Array<{ kind: string; label: string; invocation?: string; function?: string }>;
  files: Array<{ path: string; writtenBy?: string; usedBy?: string }>;
  tracingView: string[][];
  attack: { one?: string; two?: string; exfiltratedBytes?: number };
  conclusion: { answer: string[]; stolen: string; tracer: string[]; checks: Record<string, boolean | undefined> };
}

function runDemo(out: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const args = [join(ROOT, 'scripts', 'demo.mjs'), '--json', '--out', out, '--requests', '24', '--audit', CI ? 'on' : 'auto'];
    execFile(process.execPath, args, { cwd: ROOT, timeout: 240000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as NodeJS.ErrnoException & { code?: number }).code as unknown as number) ?? 1 : 0, stdout, stderr }),
    );
  });
}

describe('npm run demo -- --json', () => {
  let out: string;
  let result: DemoResult;
  let stderr = '';
  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'alastor-demo-test-'));
    const r = await runDemo(out);
    stderr = r.stderr;
    if (r.code !== 0) throw new Error(`demo failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
    const lines = r.stdout.trim().split('\n');
    result = JSON.parse(lines[lines.length - 1]) as DemoResult;
  }, 260000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  test('tells the story and says whether the audit layer ran', () => {
    expect(stderr).toMatch(/THE INVESTIGATOR'S ANSWER/);
    expect(stderr).toMatch(/WHAT A TRACER ALONE SHOWS/);
    expect(stderr).toMatch(/AUDIT (ON|OFF): /);
    if (CI) expect(result.audit.on).toBe(true);
  });

  test('the root cause is the attacker\'s first request, reached through the planted file', () => {
    const db = new Database(result.db, { readonly: true });
    try {
      const inv = (id: string) => {
        const row = db.prepare(`SELECT body FROM events WHERE kind = 'invocation.start' AND invocation = ?`).get(id) as { body: string } | undefined;
        expect(row).toBeDefined();
        return JSON.parse(row!.body) as { function: string; instance: string; seq: number; callId?: string; traceId: string };
      };
      // The request the attacker sent first (identified by the gateway's X-Call-Id) is the root.
      expect(result.attack.one).toBeTruthy();
      const root = inv(result.rootCause.invocation);
      expect(result.rootCause.function).toBe('product-purchase');
      expect(root.function).toBe('product-purchase');
      expect(root.callId).toBe(result.attack.one);

      // The walk starts at the exfiltration connection, from authorize-cc.
      expect(result.path[0].kind).toBe(result.audit.on ? 'socket' : result.path[0].kind);
      expect(result.poi.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(result.attack.exfiltratedBytes).toBeGreaterThan(0);

      // Through the planted file, across two invocations of the same authorize-cc instance.
      const fileAt = result.path.findIndex((s) => s.kind === 'file' && s.label.includes('.cc-fraud-rules.js'));
      expect(fileAt).toBeGreaterThan(0);
      const ranIt = result.path.slice(0, fileAt).reverse().find((s) => s.invocation)!;
      const planted = result.path.slice(fileAt + 1).find((s) => s.invocation)!;
      expect(ranIt && planted).toBeTruthy();
      const a = inv(ranIt.invocation!);
      const b = inv(planted.invocation!);
      expect(a.function).toBe('authorize-cc');
      expect(b.function).toBe('authorize-cc');
      expect(a.instance).toBe(b.instance);
      expect(ranIt.invocation).not.toBe(planted.invocation);
      expect(b.seq).toBeLessThan(a.seq);
      expect(result.files[0]).toMatchObject({ writtenBy: planted.invocation, usedBy: ranIt.invocation });
      // The path ends at the root cause's request.
      expect(result.path[result.path.length - 1].invocation).toBe(result.rootCause.invocation);

      // A tracer sees two unrelated requests: separate traces, one holding each step.
      expect(result.tracingView).toHaveLength(2);
      const [t1, t2] = result.tracingView;
      expect(t1).toContain(result.rootCause.invocation);
      expect(t1).toContain(planted.invocation);
      expect(t2).toContain(ranIt.invocation);
      expect(t1.filter((x) => t2.includes(x))).toEqual([]);
      expect(inv(t1[0]).traceId).not.toBe(inv(t2[0]).traceId);
      expect(inv(t2[0]).callId).toBe(result.attack.two);
    } finally {
      db.close();
    }
  });

  test('the conclusion printed is the one checked: every check held, and each sentence is in the story', () => {
    expect(result.conclusion.checks).toEqual({
      rootIsAttackOne: true, plantedInAttackOne: true, ranInAttackTwo: true, ranLaterOnSameInstance: true, stolenIsSecret: true, tracerSeesNoLink: true,
    });
    expect(result.conclusion.answer[0]).toMatch(new RegExp(`^root cause: request X-Call-Id=${result.attack.one} \\(.*\\), the attacker's first request$`));
    expect(result.conclusion.stolen).toMatch(/^the attacker received \d+ bytes: the credit-card table, exactly as kv-store holds it \(\d+ rows\)$/);
    for (const l of [...result.conclusion.answer, result.conclusion.stolen, ...result.conclusion.tracer]) expect(stderr).toContain(`   ${l}\n`);
    expect(stderr).not.toContain('CHECKS THAT FAILED');
  });

  test('writes the interactive graph with the path in it', () => {
    expect(existsSync(result.html)).toBe(true);
    const html = readFileSync(result.html, 'utf8');
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain('.cc-fraud-rules.js');
    expect(html).toContain(result.rootCause.invocation);
  });
});
