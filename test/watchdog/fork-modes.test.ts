// fwatchdog's fork modes (streaming, serializing): a real process per request.
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWatchdog, stopAllWatchdogs, type WatchdogHandle } from '../support/watchdog';
import { FIXTURES, NODE, pidAlive, send, sleep, waitUntil } from '../support/watchdog-fixtures';

const ENV_JS = `${NODE} ${join(FIXTURES, 'env.js')}`;
const BEHAVIOURS_SH = `sh ${join(FIXTURES, 'fork-behaviours.sh')}`;

afterAll(stopAllWatchdogs);

describe.each(['streaming', 'serializing'])('%s mode', (mode) => {
  let wd: WatchdogHandle;
  beforeAll(async () => {
    wd = await startWatchdog({ env: { mode, fprocess: ENV_JS, FIXTURE_MARK: 'inherited' } });
  });
  afterAll(() => wd.stop());

  test('request headers, method, path and query reach the process as Http_* variables; the body as stdin', async () => {
    const body = Buffer.alloc(300_000, 'z');
    const r = await send(`${wd.url}/a%20b/c?x=1&y=2`, {
      method: 'POST',
      headers: { 'X-Call-Id': 'cid-9', 'Content-Type': 'text/plain', 'x-lower-case': 'v', Host: 'fn.example' },
      body,
    });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/octet-stream');
    expect(r.headers['x-duration-seconds']).toMatch(/^\d+\.\d{6}$/);
    const out = JSON.parse(r.body.toString());
    expect(out.env).toMatchObject({
      Http_Method: 'POST',
      Http_Path: '/a b/c',
      Http_Query: 'x=1&y=2',
      Http_X_Call_Id: 'cid-9',
      Http_Content_Type: 'text/plain',
      Http_Content_Length: String(body.length),
      Http_X_Lower_Case: 'v',
      FIXTURE_MARK: 'inherited',
    });
    expect(out.env.Http_Host).toBeUndefined();
    expect(out.length).toBe(body.length);
    expect(out.sha256).toBe(createHash('sha256').update(body).digest('hex'));
  });

  test('no Http_Query without a query; chunked bodies give Http_Transfer_Encoding', async () => {
    async function* chunks() {
      yield Buffer.from('abc');
      yield Buffer.from('def');
    }
    const r = await send(`${wd.url}/p`, { method: 'POST', body: chunks() });
    const out = JSON.parse(r.body.toString());
    expect(out.env.Http_Query).toBeUndefined();
    expect(out.env.Http_Transfer_Encoding).toBe('chunked');
    expect(out.length).toBe(6);
  });

  test('each request gets its own process', async () => {
    const [a, b] = await Promise.all([send(`${wd.url}/1`), send(`${wd.url}/2`)]);
    expect(JSON.parse(a.body.toString()).pid).not.toBe(JSON.parse(b.body.toString()).pid);
  });
});

describe('fork mode behaviours', () => {
  let streaming: WatchdogHandle;
  let serializing: WatchdogHandle;
  const pidfile = join(tmpdir(), `fwd-fork-${process.pid}-${Date.now()}`);
  beforeAll(async () => {
    const env = { fprocess: BEHAVIOURS_SH, exec_timeout: '2s', FIXTURE_PIDFILE: pidfile, content_type: 'text/plain' };
    [streaming, serializing] = await Promise.all([
      startWatchdog({ env: { ...env, mode: 'streaming' } }),
      startWatchdog({ env: { ...env, mode: 'serializing', prefix_logs: 'false' } }),
    ]);
  });
  afterAll(async () => {
    rmSync(pidfile, { force: true });
    await Promise.all([streaming.stop(), serializing.stop()]);
  });

  test('streaming: output reaches the caller while the process still runs', async () => {
    const r = await send(`${streaming.url}/drip?gap=0.7`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain');
    expect(r.body.toString()).toBe('first\nsecond\n');
    expect(r.chunkTimes.length).toBeGreaterThanOrEqual(2);
    expect(r.chunkTimes[r.chunkTimes.length - 1] - r.chunkTimes[0]).toBeGreaterThanOrEqual(500);
  });

  test('serializing: output is sent in one piece once the process exits, with Content-Length', async () => {
    const r = await send(`${serializing.url}/drip?gap=0.3`);
    expect(r.body.toString()).toBe('first\nsecond\n');
    expect(r.headers['content-length']).toBe('13');
  });

  test.each([
    ['streaming', () => streaming],
    ['serializing', () => serializing],
  ])('%s: exec_timeout kills the whole process group and answers 504 with a reason', async (_name, wdOf) => {
    const wd = wdOf();
    rmSync(pidfile, { force: true });
    const t0 = Date.now();
    const r = await send(`${wd.url}/hang`);
    expect(r.status).toBe(504);
    expect(r.body.toString()).toMatch(/exec_timeout of 2s exceeded/);
    expect(Date.now() - t0).toBeLessThan(6000);
    const [child, grandchild] = readFileSync(pidfile, 'utf8').split(' ').map(Number);
    await waitUntil(() => !pidAlive(child) && !pidAlive(grandchild), 3000, 'function process group killed');
    const metrics = (await send(`${wd.metricsUrl}/metrics`)).body.toString();
    expect(metrics).toMatch(/^http_requests_total\{code="504",method="get"\} \d+$/m);
  });

  test('a failing process: serializing answers 500 with the exit status; streaming 500 when nothing was written', async () => {
    const s = await send(`${serializing.url}/fail`);
    expect(s.status).toBe(500);
    expect(s.body.toString()).toBe('exit status 3');
    const st = await send(`${streaming.url}/fail`);
    expect(st.status).toBe(500);
    expect(st.body.toString()).toMatch(/exit status 3/);
  });

  test('stderr is logged line by line: prefixed with prefix_logs (default), bare without', async () => {
    await send(`${streaming.url}/logs`);
    await streaming.waitForLog(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d stderr: err line$/m);
    await send(`${serializing.url}/logs`);
    await serializing.waitForLog(/^err line$/m);
    expect(serializing.stderr()).toMatch(/^x{50}$/m);
  });
});

describe('fork mode options', () => {
  test('log_buffer_size splits long lines; ready_path runs the function at that path', async () => {
    const readyFile = join(tmpdir(), `fwd-ready-fork-${process.pid}-${Date.now()}`);
    const wd = await startWatchdog({
      env: { mode: 'streaming', fprocess: BEHAVIOURS_SH, log_buffer_size: '20', prefix_logs: 'false', ready_path: '/ready', FIXTURE_READY_FILE: readyFile },
    });
    try {
      await send(`${wd.url}/logs`);
      await wd.waitForLog(/^x{20}\nx{20}\nx{10}$/m);
      expect((await send(`${wd.url}/_/ready`)).status).toBe(500);
      require('node:fs').writeFileSync(readyFile, '');
      expect((await send(`${wd.url}/_/ready`)).status).toBe(200);
    } finally {
      rmSync(readyFile, { force: true });
      await wd.stop();
    }
  });

  test('write_timeout cuts a response that runs too long when exec_timeout is off', async () => {
    const wd = await startWatchdog({ env: { mode: 'streaming', fprocess: BEHAVIOURS_SH, exec_timeout: '0', write_timeout: '1' } });
    try {
      const t0 = Date.now();
      const outcome = await send(`${wd.url}/slow-output`).then(
        (r) => `complete ${r.body.length}`,
        (e: Error) => `cut: ${e.message}`,
      );
      expect(outcome).toMatch(/^cut/);
      expect(Date.now() - t0).toBeLessThan(4000); // the function alone runs 5 s
      await wd.waitForLog(/write_timeout exceeded/);
    } finally {
      await wd.stop();
    }
  });

  test('the caller going away kills the running process group (no exec_timeout needed)', async () => {
    const pidfile = join(tmpdir(), `fwd-away-${process.pid}-${Date.now()}`);
    const wd = await startWatchdog({ env: { mode: 'streaming', fprocess: BEHAVIOURS_SH, exec_timeout: '0', FIXTURE_PIDFILE: pidfile } });
    try {
      const req = request(`${wd.url}/hang`, { agent: false });
      req.on('error', () => {});
      req.end();
      const read = () => {
        try {
          return readFileSync(pidfile, 'utf8');
        } catch {
          return '';
        }
      };
      await waitUntil(() => read().includes(' '), 10000, 'function started');
      const [child, grandchild] = read().split(' ').map(Number);
      expect(pidAlive(child)).toBe(true);
      req.destroy();
      await waitUntil(() => !pidAlive(child) && !pidAlive(grandchild), 3000, 'process group killed after the caller left');
    } finally {
      rmSync(pidfile, { force: true });
      await wd.stop();
    }
  });

  test('SIGTERM in a fork mode drains the running request and exits 0', async () => {
    const wd = await startWatchdog({ env: { mode: 'streaming', fprocess: BEHAVIOURS_SH } });
    const r = send(`${wd.url}/drip?gap=0.8`);
    await sleep(300);
    process.kill(wd.pid, 'SIGTERM');
    expect((await r).body.toString()).toBe('first\nsecond\n');
    expect((await wd.exited).code).toBe(0);
    await wd.stop();
  });
});
