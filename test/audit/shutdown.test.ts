// The audit tailer child outlives a parent that dies under it (issue 16, item 5): a function that
// dies at start-up takes fwatchdog down within 2 s whatever its tailer is doing, and the tailer
// crashed on an unhandled `write EPIPE` sending over the closed IPC channel, leaving its rules
// in the kernel. Real child, real auditd (test/audit/fixtures/dying-parent.js).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeRules } from '../../watchdog/audit/rules';
import { ensureAuditd, FWATCHDOG_JS, rulesWithKeyPrefix } from '../support/audit-log';
import { waitFor } from '../support/provenance';

jest.setTimeout(120000);

const skip = ensureAuditd();
if (skip) console.log(`skipping the audit shutdown tests: ${skip}`);
const maybe = skip ? describe.skip : describe;

maybe('the tailer child when its parent dies under it', () => {
  test('no crash on a closed IPC channel (write EPIPE), and the rules are removed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alastor-dying-'));
    let key = '';
    try {
      const parent = spawn(process.execPath, [join(__dirname, 'fixtures', 'dying-parent.js'), FWATCHDOG_JS, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      parent.stdout.on('data', (b: Buffer) => (out += b.toString()));
      parent.stderr.on('data', (b: Buffer) => (err += b.toString()));
      // stderr closes when both the parent and the child (which inherited it) are gone.
      const closed = new Promise((r) => parent.stderr.once('close', r));
      await new Promise((r) => parent.once('exit', r));
      const [childPid, k] = out.trim().split(' ');
      key = k;
      expect(Number(childPid)).toBeGreaterThan(0);
      await waitFor(() => {
        try {
          return readFileSync(`/proc/${childPid}/stat`, 'utf8').split(' ')[2] === 'Z' || undefined;
        } catch {
          return true;
        }
      }, 20000, 'the tailer child to exit');
      await closed;
      expect(err).not.toMatch(/EPIPE|Unhandled|throw er/);
      expect(rulesWithKeyPrefix(key)).toEqual([]);
    } finally {
      if (key && rulesWithKeyPrefix(key).length) await removeRules(key);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
