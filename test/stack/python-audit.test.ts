// A Python function (python3-http-alastor: no in-process instrumentation) writes a file; the audit
// layer alone must attribute that write to the invocation that made it. Real auditd, real
// `alastor up`, real SQLite store. In CI (CI=true) this never skips.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { stackAuditSkip, startUp } from '../support/stack-up';

const skipReason = stackAuditSkip('the Python audit attribution test');
const maybe = skipReason ? test.skip : test;

describe('python3-http-alastor under the audit layer', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'alastor-pyaudit-'));
    mkdirSync(join(dir, 'writer'));
    writeFileSync(
      join(dir, 'writer', 'handler.py'),
      [
        'import os, tempfile',
        'def handle(event, context):',
        '    name = event.query.get("name", "x")',
        '    path = os.path.join(tempfile.gettempdir(), "report-" + name + ".txt")',
        '    with open(path, "w") as f:',
        '        f.write("written by the handler\\n")',
        '    return {"statusCode": 200, "body": path}',
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'writer', 'requirements.txt'), '');
    writeFileSync(join(dir, 'stack.yml'), 'provider:\n  name: openfaas\nfunctions:\n  writer:\n    lang: python3-http-alastor\n    handler: ./writer\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  maybe(
    'each file write is attributed to the invocation that made it, with no application-layer events',
    async () => {
      const up = await startUp(join(dir, 'stack.yml'), ['--audit', 'on', '--db', join(dir, 'store.db')]);
      // No claims from a Python process: under concurrency its acts can only be guesses, and up says so.
      expect(up.output()).toMatch(/warning: writer: python3-http-alastor reports no claims.*max_inflight: "1"/);
      const calls: Array<{ invocation: string; path: string }> = [];
      try {
        for (const name of ['first', 'second']) {
          const res = await fetch(`${up.gatewayUrl}/function/writer?name=${name}`);
          expect(res.status).toBe(200);
          const invocation = res.headers.get('x-alastor-invocation');
          expect(invocation).toBeTruthy();
          calls.push({ invocation: invocation!, path: await res.text() });
        }
        // Let the tailer read the log before the stack stops (stopping also drains it).
        await new Promise((r) => setTimeout(r, 1500));
      } finally {
        expect(await up.stop()).toBe(0);
      }
      const db = new Database(up.db!, { readonly: true });
      try {
        const writes = db
          .prepare<[], { invocation: string | null; function: string; body: string }>(`SELECT invocation, function, body FROM events WHERE kind = 'syscall'`)
          .all()
          .map((r) => ({ ...r, e: JSON.parse(r.body) as { syscall: string; paths: Array<{ name: string; nametype: string }>; exe: string } }))
          .filter((r) => r.e.paths.some((p) => /report-(first|second)\.txt$/.test(p.name)));
        for (const c of calls) {
          const mine = writes.filter((w) => w.e.paths.some((p) => p.name.endsWith(c.path.split('/').pop()!)));
          expect(mine.length).toBeGreaterThan(0);
          for (const w of mine) {
            expect(w.function).toBe('writer');
            expect(w.invocation).toBe(c.invocation);
            expect(w.e.exe).toMatch(/python/);
          }
        }
        // Nothing came from inside the process: the Python template has no instrumentation.
        const app = db.prepare(`SELECT count(*) AS n FROM events WHERE kind LIKE 'app.%'`).get() as { n: number };
        expect(app.n).toBe(0);
      } finally {
        db.close();
      }
    },
    180000,
  );
});
