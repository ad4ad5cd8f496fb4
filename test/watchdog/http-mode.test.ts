// fwatchdog in http mode in front of a real upstream process (fixtures/upstream.js).
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startWatchdog, stopAllWatchdogs, type WatchdogHandle } from '../support/watchdog';
import { FIXTURES, NODE, pidAlive, send, sleep, waitUntil } from '../support/watchdog-fixtures';

async function httpWatchdog(env: Record<string, string> = {}): Promise<WatchdogHandle> {
  const upstreamPort = await freePort();
  return startWatchdog({
    env: {
      mode: 'http',
      fprocess: `${NODE} ${join(FIXTURES, 'upstream.js')}`,
      upstream_url: `http://127.0.0.1:${upstreamPort}`,
      UPSTREAM_PORT: String(upstreamPort),
      ...env,
    },
  });
}

afterAll(stopAllWatchdogs);

describe('http mode proxying', () => {
  let wd: WatchdogHandle;
  beforeAll(async () => {
    wd = await httpWatchdog({ log_callid: 'true' });
  });
  afterAll(() => wd.stop());

  test('method, path, query, headers and Host reach the upstream; its status and headers come back', async () => {
    const r = await send(`${wd.url}/some/path?x=1&y=two`, { method: 'PUT', headers: { 'X-Call-Id': 'call-123', 'X-Custom': 'v', Host: 'example.test' }, body: 'hello' });
    expect(r.status).toBe(200);
    const seen = JSON.parse(r.body.toString());
    expect(seen.method).toBe('PUT');
    expect(seen.url).toBe('/some/path?x=1&y=two');
    expect(seen.headers['x-custom']).toBe('v');
    expect(seen.headers['x-call-id']).toBe('call-123');
    expect(seen.headers.host).toBe('example.test');
    expect(seen.length).toBe(5);
    expect(r.headers['x-upstream']).toBe('yes');
    expect(r.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(Number(r.headers['x-duration-seconds'])).toBeGreaterThan(0);
    expect(r.headers['x-duration-seconds']).toMatch(/^\d+\.\d{6}$/);
    // log_callid appends the call id to the access log line.
    await wd.waitForLog(/PUT \/some\/path\?x=1&y=two - 200 OK - ContentLength: \S+ \(\d+\.\d{4}s\) \[call-123\]/);
  });

  test('hop-by-hop headers are not forwarded, in either direction', async () => {
    const r = await send(`${wd.url}/echo`, {
      headers: { Connection: 'keep-alive, X-Private-Hop', 'X-Private-Hop': 'secret', 'Keep-Alive': 'timeout=5', 'Proxy-Authorization': 'Basic Zm9v', TE: 'trailers', 'X-Kept': 'yes' },
    });
    const seen = JSON.parse(r.body.toString());
    expect(r.status).toBe(200);
    expect(seen.headers['x-kept']).toBe('yes');
    for (const h of ['x-private-hop', 'keep-alive', 'proxy-authorization', 'te']) expect(seen.headers[h]).toBeUndefined();
    expect(r.headers['transfer-encoding']).toBeUndefined(); // upstream sent Content-Length, passed through
    expect(r.headers['content-length']).toBe(String(r.body.length));
  });

  test('a 4 MiB chunked request body streams to the upstream intact', async () => {
    const block = Buffer.alloc(256 * 1024, 7);
    async function* body() {
      for (let i = 0; i < 16; i++) yield block;
    }
    const r = await send(`${wd.url}/upload`, { method: 'POST', body: body() });
    const seen = JSON.parse(r.body.toString());
    const expected = createHash('sha256');
    for (let i = 0; i < 16; i++) expected.update(block);
    expect(seen.length).toBe(16 * block.length);
    expect(seen.sha256).toBe(expected.digest('hex'));
    expect(seen.headers['transfer-encoding']).toBe('chunked');
  });

  test('a 20 MB response body streams back intact', async () => {
    const r = await send(`${wd.url}/big?bytes=20000000`);
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(20_000_000);
    expect(r.body.subarray(0, 3).toString()).toBe('abc');
  });

  test('the response is streamed, not buffered: the first chunk arrives before the upstream finishes', async () => {
    const r = await send(`${wd.url}/stream?gap=600`);
    expect(r.body.toString()).toBe('first\nsecond\n');
    expect(r.chunkTimes.length).toBeGreaterThanOrEqual(2);
    expect(r.chunkTimes[r.chunkTimes.length - 1] - r.chunkTimes[0]).toBeGreaterThanOrEqual(400);
  });

  test('upstream status codes pass through and are counted in /metrics with of-watchdog names and labels', async () => {
    expect((await send(`${wd.url}/status?code=418`)).status).toBe(418);
    expect((await send(`${wd.url}/status?code=201`, { method: 'POST', body: 'x' })).status).toBe(201);
    const text = (await send(`${wd.metricsUrl}/metrics`)).body.toString();
    expect(text).toMatch(/^http_requests_total\{code="418",method="get"\} 1$/m);
    expect(text).toMatch(/^http_requests_total\{code="201",method="post"\} 1$/m);
    expect(text).toMatch(/^http_request_duration_seconds_bucket\{le="0.005",code="418",method="get"\} \d+$/m);
    expect(text).toMatch(/^http_request_duration_seconds_bucket\{le="10",code="418",method="get"\} 1$/m);
    expect(text).toMatch(/^http_request_duration_seconds_count\{code="201",method="post"\} 1$/m);
    expect(text).toMatch(/^# TYPE http_requests_in_flight gauge$/m);
    expect(text).toMatch(/^http_requests_in_flight 0$/m);
    // Health and readiness probes are not function requests.
    await send(`${wd.url}/_/health`);
    const again = (await send(`${wd.metricsUrl}/metrics`)).body.toString();
    expect(again).not.toMatch(/_\/health/);
  });

  test('in-flight requests show in the gauge while they run', async () => {
    const slow = send(`${wd.url}/slow?ms=800`);
    await sleep(300);
    const text = (await send(`${wd.metricsUrl}/metrics`)).body.toString();
    expect(text).toMatch(/^http_requests_in_flight 1$/m);
    expect((await slow).body.toString()).toBe('slow done');
  });

  test('the upstream is started with the watchdog environment, and its output is logged with prefixes', async () => {
    const env = JSON.parse((await send(`${wd.url}/env`)).body.toString());
    expect(env.UPSTREAM_PORT).toBeDefined();
    await wd.waitForLog(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d stdout: upstream saw GET \/env$/m);
  });

  test('/_/health and /_/ready answer 200 when ready; other methods 405', async () => {
    expect((await send(`${wd.url}/_/health`)).status).toBe(200);
    expect((await send(`${wd.url}/_/health`)).body.toString()).toBe('OK');
    expect((await send(`${wd.url}/_/ready`)).status).toBe(200);
    expect((await send(`${wd.url}/_/health`, { method: 'POST' })).status).toBe(405);
    expect(existsSync(join(wd.tmpdir, '.lock'))).toBe(true);
  });
});

describe('http mode limits and failures', () => {
  test('exec_timeout answers 504 with a reason; X-Timeout can only shorten it', async () => {
    const wd = await httpWatchdog({ exec_timeout: '1s' });
    try {
      const t0 = Date.now();
      const r = await send(`${wd.url}/slow?ms=5000`);
      expect(r.status).toBe(504);
      expect(r.body.toString()).toMatch(/exec_timeout of 1s exceeded/);
      expect(Date.now() - t0).toBeLessThan(4000);
      const short = await send(`${wd.url}/slow?ms=3000`, { headers: { 'X-Timeout': '200ms' } });
      expect(short.status).toBe(504);
      expect(short.body.toString()).toMatch(/200ms/);
      const longer = await send(`${wd.url}/slow?ms=300`, { headers: { 'X-Timeout': '10s' } });
      expect(longer.status).toBe(200);
      const metrics = (await send(`${wd.metricsUrl}/metrics`)).body.toString();
      expect(metrics).toMatch(/^http_requests_total\{code="504",method="get"\} 2$/m);
    } finally {
      await wd.stop();
    }
  });

  test('http_buffer_req_body: a chunked request reaches the upstream with a Content-Length instead', async () => {
    const wd = await httpWatchdog({ http_buffer_req_body: 'true' });
    try {
      async function* body() {
        yield Buffer.from('hello ');
        yield Buffer.from('world');
      }
      const seen = JSON.parse((await send(`${wd.url}/upload`, { method: 'POST', body: body() })).body.toString());
      expect(seen.length).toBe(11);
      expect(seen.headers['content-length']).toBe('11');
      expect(seen.headers['transfer-encoding']).toBeUndefined();
    } finally {
      await wd.stop();
    }
  });

  test('max_inflight: requests over the limit get 429 and /_/ready reports 429 while full', async () => {
    const wd = await httpWatchdog({ max_inflight: '1' });
    try {
      const slow = send(`${wd.url}/slow?ms=1000`);
      await sleep(300);
      const over = await send(`${wd.url}/echo`);
      expect(over.status).toBe(429);
      expect(over.body.toString()).toMatch(/Concurrent request limit exceeded. Max concurrent requests: 1/);
      expect((await send(`${wd.url}/_/ready`)).status).toBe(429);
      expect((await slow).status).toBe(200);
      expect((await send(`${wd.url}/_/ready`)).status).toBe(200);
      expect((await send(`${wd.url}/echo`)).status).toBe(200);
    } finally {
      await wd.stop();
    }
  });

  test('ready_path: /_/ready asks the upstream at that path', async () => {
    const readyFile = join(require('node:os').tmpdir(), `fwd-ready-${process.pid}-${Date.now()}`);
    const wd = await httpWatchdog({ ready_path: '/ready-check', READY_FILE: readyFile });
    try {
      expect((await send(`${wd.url}/_/ready`)).status).toBe(503);
      writeFileSync(readyFile, '');
      expect((await send(`${wd.url}/_/ready`)).status).toBe(200);
      await wd.waitForLog('upstream saw GET /ready-check');
    } finally {
      require('node:fs').rmSync(readyFile, { force: true });
      await wd.stop();
    }
  });

  test('an upstream that stops accepting connections yields 500, not a hang', async () => {
    const wd = await httpWatchdog();
    try {
      await send(`${wd.url}/stop-listening`);
      await sleep(100);
      const r = await send(`${wd.url}/echo`);
      expect(r.status).toBe(500);
      expect(r.headers['x-duration-seconds']).toBeDefined();
      await wd.waitForLog(/Upstream HTTP request error: .*ECONNREFUSED/);
    } finally {
      await wd.stop();
    }
  });

  test('the upstream process dying is logged and the watchdog exits non-zero, lock removed', async () => {
    const wd = await httpWatchdog();
    const lock = join(wd.tmpdir, '.lock');
    expect(existsSync(lock)).toBe(true);
    await send(`${wd.url}/exit`);
    const exit = await wd.exited;
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(wd.logs()).toMatch(/Forked function has terminated: exit status 3/);
    expect(existsSync(lock)).toBe(false);
    await wd.stop();
  });

  test('SIGTERM: unhealthy at once, in-flight request completes, upstream stopped, exit 0', async () => {
    const wd = await httpWatchdog({ healthcheck_interval: '20s' });
    const upstreamPid = Number((await send(`${wd.url}/pid`)).body.toString());
    expect(pidAlive(upstreamPid)).toBe(true);
    const inflight = send(`${wd.url}/slow?ms=1200`);
    await sleep(200);
    const t0 = Date.now();
    process.kill(wd.pid, 'SIGTERM');
    await waitUntil(() => !existsSync(join(wd.tmpdir, '.lock')), 1000, 'lock removed');
    const r = await inflight;
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('slow done');
    const exit = await wd.exited;
    expect(exit.code).toBe(0);
    // Drained as soon as the request finished, well before healthcheck_interval.
    expect(Date.now() - t0).toBeLessThan(10000);
    expect(pidAlive(upstreamPid)).toBe(false);
    expect(wd.logs()).toMatch(/SIGTERM: no new connections in 20s/);
    expect(wd.logs()).toMatch(/upstream got SIGTERM/);
    await wd.stop();
  });

  test('SIGTERM: draining stops after healthcheck_interval even if a request is still running', async () => {
    const wd = await httpWatchdog({ healthcheck_interval: '500ms' });
    const stuck = send(`${wd.url}/slow?ms=20000`).then(
      (r) => r.status,
      () => 'reset',
    );
    await sleep(200);
    const t0 = Date.now();
    process.kill(wd.pid, 'SIGTERM');
    const exit = await wd.exited;
    expect(exit.code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10000);
    expect(await stuck).toBe('reset');
    await wd.stop();
  });
});
