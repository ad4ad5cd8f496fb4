// The chain key never reaches the function: code running there (a planted script) must not be
// able to sign batches. The function's environment holds no ALASTOR_TOKEN, in http and fork
// modes, with provenance on or off; its OpenTelemetry exporter gets a derived key that the
// collector takes for OTLP and refuses for batches. The key can also come from a file, so it is
// in no environment at all.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { otlpKey, uuidv7 } from '../../events';
import { Chain, post, stopEvent } from '../support/batches';
import { startCollector, stopAllCollectors } from '../support/collector';
import { FWATCHDOG_JS } from '../support/audit-log';
import { freePort, stopAllWatchdogs } from '../support/watchdog';
import { call, load, startProvWatchdog, waitFor } from '../support/provenance';

const TOKEN = 'secret-test-key-7f3a';

afterAll(async () => {
  await stopAllWatchdogs();
  await stopAllCollectors();
});

const leaks = (env: Record<string, string>) => Object.entries(env).filter(([k, v]) => k === 'ALASTOR_TOKEN' || v.includes(TOKEN));

test('the function is handed no chain key, only a derived OTLP key the collector refuses for batches', async () => {
  const c = await startCollector({ token: TOKEN });
  const on = await startProvWatchdog({ collectorUrl: c.url, token: TOKEN, env: { ALASTOR_FUNCTION: 'secret-fn' } });
  const off = await startProvWatchdog({ collectorUrl: c.url, token: TOKEN, env: { ALASTOR_FUNCTION: 'secret-off', ALASTOR_PROVENANCE: 'off' } });
  const fork = await startProvWatchdog({ collectorUrl: c.url, token: TOKEN, mode: 'streaming', env: { ALASTOR_FUNCTION: 'secret-fork' } });
  try {
    const env = (await call(`${on.url}/environ`)).json() as Record<string, string>;
    expect(env.ALASTOR_INSTANCE).toBeDefined();
    expect(leaks(env)).toEqual([]);
    expect(leaks((await call(`${off.url}/environ`)).json())).toEqual([]);
    expect(leaks((await call(`${fork.url}/`, { body: 'x' })).json().env)).toEqual([]);

    const key = otlpKey(TOKEN);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(env.OTEL_EXPORTER_OTLP_HEADERS).toBe(`Authorization=${encodeURIComponent(`Bearer ${key}`)}`);

    // What the function holds is good for its own telemetry...
    const span = JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'secret-fn' } }] }, scopeSpans: [{ spans: [] }] }] });
    expect((await post(`${c.url}/v1/traces`, span, { authorization: `Bearer ${key}` })).status).toBe(200);
    expect((await post(`${c.url}/v1/traces`, span, { authorization: 'Bearer not-it' })).status).toBe(401);
    // ...and useless for signing a batch.
    const forger = new Chain(`forged-${uuidv7()}`, key);
    const forged = forger.next([stopEvent('planted')]);
    const r = await post(`${c.url}/v1/batches`, forged.body);
    expect(r.status).toBe(401);
    expect(r.json.error).toContain('batch.mac');

    // The watchdog itself still signs with the real key.
    expect([...(await load(`${on.url}/`, 20, 2))]).toEqual([[200, 20]]);
    await waitFor(() => c.query<{ n: number }>(`SELECT count(*) AS n FROM events WHERE function = 'secret-fn' AND kind = 'invocation.end'`)[0].n === 21 || undefined, 15000, '21 invocations stored');
    // The store holds only what the watchdogs signed; the two attempts above are findings.
    const v = await c.cli(['verify', '--json']);
    expect(v.code).toBe(1);
    const report = JSON.parse(v.stdout) as { problems: unknown[]; recorded: Array<{ source: string; problem: string }> };
    expect(report.problems).toEqual([]);
    expect(report.recorded.map((p) => p.problem).sort()).toEqual(['bad-mac', 'bad-token']);
    expect(report.recorded.find((p) => p.problem === 'bad-mac')!.source).toBe(forger.source);
  } finally {
    await Promise.all([on.stop(), off.stop(), fork.stop()]);
    await c.stop();
  }
});

test('the key can come from ALASTOR_TOKEN_FILE for the watchdog, the collector and verify; an unreadable file stops the watchdog', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'alastor-secret-'));
  const file = join(dir, 'alastor-token');
  writeFileSync(file, `${TOKEN}\n`); // as `echo` writes it: the newline is not part of the key
  const c = await startCollector({ env: { ALASTOR_TOKEN_FILE: file } });
  const wd = await startProvWatchdog({ collectorUrl: c.url, env: { ALASTOR_FUNCTION: 'file-fn', ALASTOR_TOKEN_FILE: file } });
  try {
    expect([...(await load(`${wd.url}/`, 10, 2))]).toEqual([[200, 10]]);
    await waitFor(() => c.query<{ n: number }>(`SELECT count(*) AS n FROM events WHERE function = 'file-fn' AND kind = 'invocation.end'`)[0].n === 10 || undefined, 15000, '10 invocations stored');
    expect(c.query(`SELECT * FROM integrity`)).toEqual([]);
    expect((await c.cli(['verify'])).code).toBe(0);
    // A batch signed with the key file's contents is what the collector expects.
    expect((await post(`${c.url}/v1/batches`, new Chain(`src-${uuidv7()}`, TOKEN).next([stopEvent('i1')]).body)).status).toBe(200);
  } finally {
    await wd.stop();
    await c.stop();
  }

  const missing = join(dir, 'nope');
  const env: NodeJS.ProcessEnv = { ...process.env, ALASTOR_COLLECTOR_URL: 'http://127.0.0.1:9', ALASTOR_TOKEN_FILE: missing, mode: 'http', fprocess: `${process.execPath} -e "setInterval(()=>{},1000)"`, upstream_url: 'http://127.0.0.1:9', port: String(await freePort()), suppress_lock: 'true' };
  delete env.ALASTOR_TOKEN;
  const p = spawn(process.execPath, [FWATCHDOG_JS], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (b: Buffer) => (out += b));
  p.stderr!.on('data', (b: Buffer) => (out += b));
  const code = await new Promise<number | null>((resolve) => p.on('exit', (c) => resolve(c)));
  expect(code).not.toBe(0);
  expect(out).toContain(`ALASTOR_TOKEN_FILE: cannot read ${missing}: ENOENT`);
});
