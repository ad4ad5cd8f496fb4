// The seam between fwatchdog and the provenance layer, driven through the real observer
// (on when ALASTOR_COLLECTOR_URL is set) and a stand-in collector that accepts every batch.
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { freePort, startWatchdog, stopAllWatchdogs } from '../support/watchdog';
import { FIXTURES, NODE, send } from '../support/watchdog-fixtures';

let collector: Server;
let collectorUrl: string;
let received = '';

beforeAll(async () => {
  collector = createServer((req, res) => {
    req.setEncoding('utf8');
    req.on('data', (c: string) => (received += c));
    req.on('end', () => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  collectorUrl = `http://127.0.0.1:${(collector.address() as { port: number }).port}`;
});
afterAll(async () => {
  await stopAllWatchdogs();
  collector.close();
});

test('http mode: the observer env reaches the upstream, its headers the upstream and the caller; close() flushes on SIGTERM', async () => {
  const upstreamPort = await freePort();
  const wd = await startWatchdog({
    env: {
      mode: 'http',
      fprocess: `${NODE} ${join(FIXTURES, 'upstream.js')}`,
      upstream_url: `http://127.0.0.1:${upstreamPort}`,
      UPSTREAM_PORT: String(upstreamPort),
      ALASTOR_COLLECTOR_URL: collectorUrl,
      ALASTOR_FUNCTION: 'seam-test',
    },
  });
  const upstreamEnv = JSON.parse((await send(`${wd.url}/env`)).body.toString());
  expect(upstreamEnv.ALASTOR_INSTANCE).toBeTruthy();
  const r = await send(`${wd.url}/echo`, { method: 'POST', body: 'payload' });
  const invocation = r.headers['x-alastor-invocation'];
  expect(typeof invocation).toBe('string');
  const seen = JSON.parse(r.body.toString());
  expect(seen.headers['x-alastor-invocation']).toBe(invocation);
  expect(seen.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  process.kill(wd.pid, 'SIGTERM');
  expect((await wd.exited).code).toBe(0);
  // The invocation and the instance's stop made it to the collector before exit.
  expect(received).toContain(invocation as string);
  expect(received).toContain('instance.stop');
});

test('streaming mode: the scope env reaches the forked process; the response carries the same invocation', async () => {
  const wd = await startWatchdog({
    env: { mode: 'streaming', fprocess: `${NODE} ${join(FIXTURES, 'env.js')}`, ALASTOR_COLLECTOR_URL: collectorUrl, ALASTOR_FUNCTION: 'seam-fork' },
  });
  try {
    const r = await send(`${wd.url}/x`, { method: 'POST', body: 'abc' });
    const out = JSON.parse(r.body.toString());
    expect(out.env.ALASTOR_INVOCATION).toBe(r.headers['x-alastor-invocation']);
    expect(out.env.ALASTOR_INSTANCE).toBeTruthy();
    expect(out.length).toBe(3);
  } finally {
    await wd.stop();
  }
});
