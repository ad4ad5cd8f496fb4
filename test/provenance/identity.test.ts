// Invocation identity through the real fwatchdog and the real collector: ids and sequence
// numbers, trace context in and out, what the function sees, and body digests.
import { createHash, randomBytes } from 'node:crypto';
import { UUID_RE, otlpKey } from '../../events';
import { startCollector, stopAllCollectors, type CollectorHandle } from '../support/collector';
import { stopAllWatchdogs, type WatchdogHandle } from '../support/watchdog';
import { call, startProvWatchdog, waitFor } from '../support/provenance';

const TOKEN = 'identity-secret';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let c: CollectorHandle;
beforeAll(async () => {
  c = await startCollector({ token: TOKEN });
});
afterAll(async () => {
  await stopAllWatchdogs();
  await c.stop();
  await stopAllCollectors();
});

const eventsOf = (inv: string) =>
  c.query<{ body: string }>('SELECT body FROM events WHERE invocation = ? ORDER BY seq', inv).map((r) => JSON.parse(r.body));
const invocationsJson = async (...args: string[]) => {
  const r = await c.cli(['invocations', '--json', ...args]);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as Array<Record<string, any>>;
};

describe('http mode', () => {
  let wd: WatchdogHandle;
  beforeAll(async () => {
    wd = await startProvWatchdog({ collectorUrl: c.url, token: TOKEN, env: { ALASTOR_FUNCTION: 'ids-fn' } });
  });
  afterAll(() => wd.stop());

  test('100 requests get 100 unique time-ordered ids and sequence numbers 1..100 on one instance', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 100; i++) {
      const r = await call(`${wd.url}/?i=${i}`);
      expect(r.status).toBe(200);
      const id = r.headers['x-alastor-invocation'] as string;
      expect(id).toMatch(UUID_RE);
      expect(r.json().invocation).toBe(id); // the function saw the same id
      seen.push(id);
    }
    const rows = await waitFor(async () => {
      const list = await invocationsJson('--function', 'ids-fn');
      return list.length === 100 && list.every((x) => x.status !== null) ? list : undefined;
    }, 15000, '100 finished invocations in the store');
    expect(rows.map((x) => x.id)).toEqual(seen);
    expect(rows.map((x) => x.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect([...seen].sort()).toEqual(seen);
    expect(new Set(rows.map((x) => x.instance)).size).toBe(1);
    expect(rows[0].instance).toMatch(/-[0-9a-f]{8}$/);
    for (const x of rows) {
      expect(x).toMatchObject({ function: 'ids-fn', status: 200 });
      expect(x.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(typeof x.durationMs).toBe('number');
    }
    // instance.start came first and names the upstream's pid, which every invocation carries.
    const start = c.query<{ body: string }>(`SELECT body FROM events WHERE kind = 'instance.start' AND instance = ?`, rows[0].instance).map((r) => JSON.parse(r.body));
    expect(start).toHaveLength(1);
    expect(start[0]).toMatchObject({ mode: 'http', function: 'ids-fn' });
    expect(rows.every((x) => x.pid === start[0].pid)).toBe(true);
  });

  test('an incoming traceparent is continued: same trace, the invocation becomes the parent', async () => {
    const traceId = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const r = await call(`${wd.url}/traced`, { headers: { traceparent: `00-${traceId}-${callerSpan}-01`, 'x-call-id': 'call-42', 'x-forwarded-for': '10.1.2.3', 'x-start-time': '1700000000000000000' } });
    const id = r.headers['x-alastor-invocation'] as string;
    const seenUp = r.json().traceparent as string;
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(seenUp);
    expect(m).not.toBeNull();
    expect(m![1]).toBe(traceId);
    expect(m![2]).not.toBe(callerSpan);
    const start = await waitFor(() => eventsOf(id).find((e) => e.kind === 'invocation.start'));
    expect(start).toMatchObject({ traceId, spanId: m![2], parentSpanId: callerSpan, traceparentIn: `00-${traceId}-${callerSpan}-01`, callId: 'call-42', forwardedFor: '10.1.2.3', startTime: '1700000000000000000' });
    const [row] = (await invocationsJson('--function', 'ids-fn')).filter((x) => x.id === id);
    expect(row).toMatchObject({ traceId, parent: callerSpan, spanId: m![2] });
  });

  test('without a traceparent a new trace starts; a malformed one is not trusted', async () => {
    const a = await call(`${wd.url}/fresh`);
    const b = await call(`${wd.url}/bad`, { headers: { traceparent: '00-zzzz-not-valid' } });
    for (const r of [a, b]) {
      const tp = r.json().traceparent as string;
      expect(tp).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      const start = await waitFor(() => eventsOf(r.headers['x-alastor-invocation'] as string).find((e) => e.kind === 'invocation.start'));
      expect(tp).toBe(`00-${start.traceId}-${start.spanId}-01`);
      expect(start.parentSpanId).toBeUndefined();
    }
    expect(a.json().traceparent.slice(3, 35)).not.toBe(b.json().traceparent.slice(3, 35));
  });

  test('digests and sizes of both bodies match the bytes sent and received', async () => {
    const body = randomBytes(300_000);
    const r = await call(`${wd.url}/echo`, { body, headers: { 'content-type': 'application/octet-stream' } });
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(body.length + 1);
    const end = await waitFor(() => eventsOf(r.headers['x-alastor-invocation'] as string).find((e) => e.kind === 'invocation.end'));
    expect(end).toMatchObject({ status: 200, reqBytes: body.length, resBytes: r.body.length, reqSha256: sha(body), resSha256: sha(r.body) });
    // An empty body has the digest of nothing.
    const g = await call(`${wd.url}/echo`);
    const gEnd = await waitFor(() => eventsOf(g.headers['x-alastor-invocation'] as string).find((e) => e.kind === 'invocation.end'));
    expect(gEnd).toMatchObject({ reqBytes: 0, reqSha256: sha(Buffer.alloc(0)), resSha256: sha(Buffer.from('!')) });
  });

  test('the function gets the collector, proxy and OpenTelemetry environment', async () => {
    const r = await call(`${wd.url}/env`);
    const env = r.json().env;
    const coll = new URL(c.url);
    expect(env.HTTP_PROXY).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(env.NO_PROXY).toBe(coll.host);
    expect(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).toBe(`${c.url}/v1/traces`);
    // A key derived from the chain key, never the key itself (test/provenance/secret.test.ts).
    expect(env.OTEL_EXPORTER_OTLP_HEADERS).toBe(`Authorization=${encodeURIComponent(`Bearer ${otlpKey(TOKEN)}`)}`);
    expect(env.OTEL_SERVICE_NAME).toBe('ids-fn');
    const start = await waitFor(() => eventsOf(r.headers['x-alastor-invocation'] as string).find((e) => e.kind === 'invocation.start'));
    expect(env.ALASTOR_INSTANCE).toBe(start.instance);
  });
});

describe.each(['streaming', 'serializing'] as const)('%s mode', (mode) => {
  test('the forked process sees its invocation id and trace context in its environment', async () => {
    const wd = await startProvWatchdog({ collectorUrl: c.url, token: TOKEN, mode, env: { ALASTOR_FUNCTION: `fork-${mode}` } });
    try {
      const body = randomBytes(5000);
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await call(`${wd.url}/`, { body });
        expect(r.status).toBe(200);
        const id = r.headers['x-alastor-invocation'] as string;
        const seen = r.json();
        expect(seen.ALASTOR_INVOCATION).toBe(id);
        expect(seen.Http_X_Alastor_Invocation).toBe(id);
        expect(seen.TRACEPARENT).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
        expect(seen.Http_Traceparent).toBe(seen.TRACEPARENT);
        expect(seen.bytes).toBe(body.length);
        ids.push(id);
        const end = await waitFor(() => eventsOf(id).find((e) => e.kind === 'invocation.end'));
        // Each request is a new process: its pid is the one the event names.
        expect(end).toMatchObject({ seq: i + 1, status: 200, reqSha256: sha(body), reqBytes: body.length, resBytes: r.body.length, resSha256: sha(r.body) });
        expect(end.pid).toBeGreaterThan(0);
      }
      expect(new Set(ids).size).toBe(3);
    } finally {
      await wd.stop();
    }
  });
});

test('ALASTOR_PROVENANCE=off: no proxy, no ids, nothing shipped', async () => {
  const wd = await startProvWatchdog({ collectorUrl: c.url, token: TOKEN, env: { ALASTOR_PROVENANCE: 'off', ALASTOR_FUNCTION: 'off-fn' } });
  try {
    const r = await call(`${wd.url}/env`);
    expect(r.status).toBe(200);
    expect(r.headers['x-alastor-invocation']).toBeUndefined();
    expect(r.json().env.HTTP_PROXY).toBeUndefined();
    await new Promise((res) => setTimeout(res, 300));
    expect(c.query(`SELECT 1 FROM events WHERE function = 'off-fn'`)).toHaveLength(0);
  } finally {
    await wd.stop();
  }
});
