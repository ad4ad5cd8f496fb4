// A newcomer's path: `alastor up`, a few requests, stop, `alastor verify --db <its store>`. The
// stack keys its batch chain with a key it generates; verify must find that key without being
// told, and a wrong key must be reported as the likely cause rather than left as a wall of
// bad-mac lines. Real `alastor up`, collector, watchdogs and CLI processes.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SAMPLE } from '../support/audit-log';
import { ALASTOR_CLI, startUp } from '../support/stack-up';

interface Run {
  code: number | null;
  out: string;
}

// Asynchronous on purpose: a synchronous child would block this process from reaping `alastor up`.
function alastor(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    const p = execFile(process.execPath, [ALASTOR_CLI, ...args], { env, timeout: 90000 }, (_err, stdout, stderr) => resolve({ code: p.exitCode, out: `${stdout}${stderr}` }));
  });
}

/** The environment of someone who never set a key: the stack's own key is all there is. */
function keyless(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (!('ALASTOR_TOKEN' in extra)) delete env.ALASTOR_TOKEN;
  if (!('ALASTOR_TOKEN_FILE' in extra)) delete env.ALASTOR_TOKEN_FILE;
  delete env.ALASTOR_COLLECTOR_URL;
  return env;
}

describe('alastor verify on a store made by alastor up', () => {
  let dir: string;
  let stateDir: string;
  let db: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'alastor-verify-key-'));
    stateDir = join(dir, 'state');
    mkdirSync(join(dir, 'echo'));
    writeFileSync(join(dir, 'echo', 'handler.js'), `module.exports = async (event, context) => context.status(200).succeed({ path: event.path });\n`);
    writeFileSync(join(dir, 'echo', 'package.json'), '{"name":"echo","version":"1.0.0","dependencies":{}}\n');
    writeFileSync(join(dir, 'stack.yml'), 'provider:\n  name: openfaas\nfunctions:\n  echo:\n    lang: node-alastor\n    handler: ./echo\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('the generated key is kept in the state folder and found by verify; a second run reuses it', async () => {
    const first = await startUp(join(dir, 'stack.yml'), ['--audit', 'off', '--state-dir', stateDir], keyless());
    try {
      for (const p of ['/one', '/two']) expect((await fetch(`${first.gatewayUrl}/function/echo${p}`)).status).toBe(200);
    } finally {
      expect(await first.stop()).toBe(0);
    }
    db = first.db!;
    expect(db).toBe(join(stateDir, 'alastor.db'));
    const keyFile = `${db}.key`;
    // Owner-only: whoever can read the key can sign batches the collector accepts.
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, 'utf8')).toMatch(/^[0-9a-f]{48}\n?$/);
    expect(first.output()).toContain(keyFile);

    // The same store again: a fresh key here would leave the first run's batches unverifiable.
    const second = await startUp(join(dir, 'stack.yml'), ['--audit', 'off', '--state-dir', stateDir], keyless());
    try {
      expect((await fetch(`${second.gatewayUrl}/function/echo/three`)).status).toBe(200);
    } finally {
      expect(await second.stop()).toBe(0);
    }

    const ok = await alastor(['verify', '--db', db, '--require-closed'], keyless());
    expect(ok.out).toMatch(/^ok: every chain is complete and every mac verifies$/m);
    expect(ok.out).toContain(`key from ${keyFile}`);
    expect(ok.code).toBe(0);
    // Two runs, each with its one watchdog: both chains are in the store and verified.
    expect(ok.out).toMatch(/^2 source\(s\), \d+ batch\(es\)/m);
  }, 240000);

  test('a wrong ALASTOR_TOKEN wins over the key file, fails, and the report names the key as the likely cause', async () => {
    const bad = await alastor(['verify', '--db', db], keyless({ ALASTOR_TOKEN: 'not-the-stack-key' }));
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/^bad-mac: /m);
    expect(bad.out).toMatch(/likely cause: a different key/);
    expect(bad.out).toContain('ALASTOR_TOKEN');
    // The file it did not use is named too, so the user knows where the right key is.
    expect(bad.out).toContain(`${db}.key`);

    const wrongFile = join(dir, 'wrong.key');
    writeFileSync(wrongFile, 'also-not-it\n', { mode: 0o600 });
    const badFile = await alastor(['verify', '--db', db], keyless({ ALASTOR_TOKEN_FILE: wrongFile }));
    expect(badFile.code).toBe(1);
    expect(badFile.out).toMatch(/likely cause: a different key/);
    expect(badFile.out).toContain(wrongFile);
  }, 60000);

  test('audit ingest into a running stack finds the stack key from its state folder', async () => {
    const up = await startUp(join(dir, 'stack.yml'), ['--audit', 'off', '--state-dir', stateDir], keyless());
    let ingest: Run;
    try {
      const rec = JSON.parse(readFileSync(join(stateDir, 'up.json'), 'utf8')) as { collectorUrl: string };
      ingest = await alastor(
        ['audit', 'ingest', SAMPLE, '--collector', rec.collectorUrl, '--state-dir', stateDir, '--timeout', '20000'],
        keyless(),
      );
    } finally {
      expect(await up.stop()).toBe(0);
    }
    expect(ingest.out).toMatch(/shipped 65 syscall events/);
    expect(ingest.code).toBe(0);
    const ok = await alastor(['verify', '--db', db], keyless());
    expect(ok.out).toMatch(/^ok: every chain is complete and every mac verifies$/m);
    expect(ok.code).toBe(0);
  }, 180000);
});
