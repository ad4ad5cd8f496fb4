// fwatchdog's static mode, configuration errors, the lock file, --run-healthcheck and timeouts
// on the way in.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FWATCHDOG, freePort, startWatchdog, stopAllWatchdogs, type WatchdogHandle } from '../support/watchdog';
import { NODE, send } from '../support/watchdog-fixtures';

afterAll(stopAllWatchdogs);

describe('static mode', () => {
  let wd: WatchdogHandle;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fwd-static-'));
    const root = join(dir, 'public');
    mkdirSync(join(root, 'docs'), { recursive: true });
    mkdirSync(join(root, 'empty'));
    writeFileSync(join(root, 'index.html'), '<h1>home</h1>');
    writeFileSync(join(root, 'app.js'), 'console.log(1)');
    writeFileSync(join(root, 'docs', 'index.html'), '<h1>docs</h1>');
    writeFileSync(join(root, 'empty', 'a.txt'), 'hello range');
    writeFileSync(join(dir, 'secret.txt'), 'TOP SECRET');
    wd = await startWatchdog({ env: { mode: 'static', static_path: root, fprocess: '' } });
  });
  afterAll(async () => {
    await wd.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('files with their content type, index.html for directories, redirects as http.FileServer', async () => {
    const home = await send(`${wd.url}/`);
    expect(home.status).toBe(200);
    expect(home.body.toString()).toBe('<h1>home</h1>');
    expect(home.headers['content-type']).toMatch(/^text\/html/);
    const js = await send(`${wd.url}/app.js`);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.headers['last-modified']).toBeDefined();
    expect((await send(`${wd.url}/docs`)).headers.location).toBe('docs/');
    expect((await send(`${wd.url}/docs/`)).body.toString()).toBe('<h1>docs</h1>');
    expect((await send(`${wd.url}/docs/index.html`)).headers.location).toBe('./');
    expect((await send(`${wd.url}/nope.txt`)).status).toBe(404);
    const listing = await send(`${wd.url}/empty/`);
    expect(listing.body.toString()).toMatch(/<a href="a.txt">a.txt<\/a>/);
    const head = await send(`${wd.url}/app.js`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('14');
    const range = await send(`${wd.url}/empty/a.txt`, { headers: { Range: 'bytes=6-' } });
    expect(range.status).toBe(206);
    expect(range.body.toString()).toBe('range');
  });

  test('no path, encoded or not, reaches a file outside static_path', async () => {
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/docs/../../secret.txt', '/..%2fsecret.txt', '/%2e%2e%2fsecret.txt', '/docs/%2e%2e/%2e%2e/secret.txt']) {
      // A raw socket, so the client does not normalise the path first.
      const raw = await new Promise<string>((resolve, reject) => {
        const s = connect(wd.port, '127.0.0.1', () => s.write(`GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
        let out = '';
        s.on('data', (c) => (out += c));
        s.on('end', () => resolve(out));
        s.on('error', reject);
      });
      expect(raw).toMatch(/^HTTP\/1.1 \d{3}/);
      expect(raw).not.toContain('TOP SECRET');
    }
  });
});

describe('configuration errors stop start-up with one line naming the variable', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ mode: 'bogus', fprocess: 'cat' }, /\bmode\b.*bogus/],
    [{ exec_timeout: '-5s', fprocess: 'cat' }, /exec_timeout.*negative/],
    [{ read_timeout: '-1', fprocess: 'cat' }, /read_timeout/],
    [{ write_timeout: 'soon', fprocess: 'cat' }, /write_timeout.*soon/],
    [{ write_timeout: '0', fprocess: 'cat' }, /write_timeout/],
    [{ max_inflight: 'many', fprocess: 'cat' }, /max_inflight/],
    [{ prefix_logs: 'maybe', fprocess: 'cat' }, /prefix_logs/],
    [{ port: '70000', fprocess: 'cat' }, /\bport\b/],
    [{ mode: 'streaming' }, /fprocess/],
    [{ mode: 'http', fprocess: 'cat' }, /upstream_url/],
  ];
  test.each(cases)('%j', (env, pattern) => {
    const r = spawnSync(NODE, [FWATCHDOG], { env: { PATH: process.env.PATH, TMPDIR: tmpdir(), port: '1', metrics_port: '2', ...env }, encoding: 'utf8', timeout: 10000 });
    expect(r.status).not.toBe(0);
    expect(r.status).not.toBeNull();
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(pattern);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  test.each(['port', 'metrics_port'])('%s already taken', async (variable) => {
    const taken: Server = createServer();
    await new Promise<void>((r) => taken.listen(0, r));
    const takenPort = (taken.address() as { port: number }).port;
    try {
      const env: Record<string, string> = { PATH: process.env.PATH!, TMPDIR: tmpdir(), fprocess: 'cat', port: String(await freePort()), metrics_port: String(await freePort()) };
      env[variable] = String(takenPort);
      const r = spawnSync(NODE, [FWATCHDOG], { env, encoding: 'utf8', timeout: 10000 });
      expect(r.status).toBe(1);
      const errLine = r.stderr.trim().split('\n').pop()!;
      expect(errLine).toMatch(new RegExp(`${variable} ${takenPort} \\(env ${variable}\\) is already in use`));
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      taken.close();
    }
  });
});

describe('lock file, health and exec health check', () => {
  test('the lock is written to TMPDIR when ready, --run-healthcheck follows it, SIGTERM removes it', async () => {
    const wd = await startWatchdog({ env: { mode: 'streaming', fprocess: 'cat' } });
    const lock = join(wd.tmpdir, '.lock');
    expect(existsSync(lock)).toBe(true);
    const check = () => spawnSync(NODE, [FWATCHDOG, '--run-healthcheck'], { env: { PATH: process.env.PATH, TMPDIR: wd.tmpdir }, encoding: 'utf8' });
    expect(check().status).toBe(0);
    process.kill(wd.pid, 'SIGTERM');
    expect((await wd.exited).code).toBe(0);
    expect(existsSync(lock)).toBe(false);
    const after = check();
    expect(after.status).toBe(1);
    expect(after.stderr).toMatch(/unable to find lock file/);
    expect(wd.logs()).toContain(`Writing lock-file to: ${lock}`);
    await wd.stop();
  });

  test('suppress_lock: no lock file, yet /_/health is 200', async () => {
    const wd = await startWatchdog({ env: { mode: 'streaming', fprocess: 'cat', suppress_lock: 'true' } });
    try {
      expect(existsSync(join(wd.tmpdir, '.lock'))).toBe(false);
      expect((await send(`${wd.url}/_/health`)).status).toBe(200);
      // The log writer coalesces writes: wait for the line rather than reading the pipe at once.
      await wd.waitForLog(/"suppress_lock" is enabled/);
    } finally {
      await wd.stop();
    }
  });

  test('the lock going away makes /_/health and /_/ready 503', async () => {
    const wd = await startWatchdog({ env: { mode: 'streaming', fprocess: 'cat' } });
    try {
      rmSync(join(wd.tmpdir, '.lock'));
      expect((await send(`${wd.url}/_/health`)).status).toBe(503);
      expect((await send(`${wd.url}/_/ready`)).status).toBe(503);
    } finally {
      await wd.stop();
    }
  });

  test('read_timeout: a request body that trickles in too slowly is cut off', async () => {
    const wd = await startWatchdog({ env: { mode: 'serializing', fprocess: 'cat', read_timeout: '1' } });
    try {
      const t0 = Date.now();
      const reply = await new Promise<string>((resolve) => {
        const s = connect(wd.port, '127.0.0.1', () => s.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc'));
        let out = '';
        const drip = setInterval(() => s.writable && s.write('d'), 200);
        s.on('data', (c) => (out += c));
        s.on('close', () => {
          clearInterval(drip);
          resolve(out);
        });
        s.on('error', () => {});
      });
      // Node answers 408 on the socket, or the connection is simply closed.
      expect(reply === '' || /^HTTP\/1.1 408/.test(reply)).toBe(true);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      await wd.stop();
    }
  });

  test('--alastor-audit-child is routed before any configuration is read', () => {
    const r = spawnSync(NODE, [FWATCHDOG, '--alastor-audit-child'], { env: { PATH: process.env.PATH }, encoding: 'utf8', timeout: 10000 });
    expect(r.stderr).toMatch(/alastor-audit-child/);
    expect(r.stderr).not.toMatch(/fprocess/);
  });
});
