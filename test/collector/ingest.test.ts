// The collector as a real process on a real SQLite file: batches, refusals, chain problems,
// OTLP traces, and a SIGKILL that must not lose anything answered 200.
import { startCollector, stopAllCollectors, type CollectorHandle } from '../support/collector';
import { Chain, post, stopEvent } from '../support/batches';
import { uuidv7 } from '../../events';
import { backends, freshStore, stopSharedPostgres } from '../support/postgres';

const TOKEN = 'collector-test-secret';

afterAll(async () => {
  await stopAllCollectors();
  await stopSharedPostgres();
});

const count = (c: CollectorHandle, where = '1=1', ...p: unknown[]) =>
  (c.query<{ n: number }>(`SELECT count(*) AS n FROM events WHERE ${where}`, ...p)[0].n);

describe.each(backends('collector ingest on PostgreSQL'))('collector ingest (%s)', (backend) => {
  let c: CollectorHandle;
  beforeAll(async () => {
    c = await startCollector({ token: TOKEN, db: await freshStore(backend) });
  });
  afterAll(() => c.stop());

  test('stores a batch once, even when it is retried', async () => {
    const chain = new Chain(`src-${uuidv7()}`, TOKEN);
    const evs = [stopEvent('i1'), stopEvent('i1'), stopEvent('i1')];
    const b = chain.next(evs);
    const first = await post(`${c.url}/v1/batches`, b.body);
    expect(first).toEqual({ status: 200, json: { stored: 3, duplicate: false } });
    const again = await post(`${c.url}/v1/batches`, b.body);
    expect(again).toEqual({ status: 200, json: { stored: 0, duplicate: true } });
    expect(count(c, 'source = ?', chain.source)).toBe(3);
    // The exact JSON text is stored, so it round-trips to the event sent.
    const bodies = c.query<{ body: string }>('SELECT body FROM events WHERE source = ? ORDER BY seq', chain.source).map((r) => r.body);
    expect(bodies).toEqual(evs.map((e) => JSON.stringify(e)));
  });

  test('stores each event as the exact text the producer signed, whatever its spacing, escapes or key order', async () => {
    const source = `src-${uuidv7()}`;
    const texts = [
      // spacing inside, a quote, a backslash before a quote, braces and commas inside strings, non-ASCII
      `{ "v": 1, "id": "${uuidv7()}", "ts": 1, "instance": "i5", "function": "fn", "kind": "instance.stop", "reason": "said \\"stop\\", {then} [left] \\\\" }`,
      `{"reason":"caf\u00e9 \\u00e9\\n","kind":"instance.stop","function":"fn","instance":"i5","ts":2,"id":"${uuidv7()}","v":1}`,
    ];
    const prefix = 'alastor-batch-v1';
    const { createHmac } = await import('node:crypto');
    const mac = createHmac('sha256', TOKEN).update(`${prefix}\n${source}\n1\n${'0'.repeat(64)}\n[${texts.join(',')}]`).digest('hex');
    // "events" first and separated by a newline: only the texts themselves are signed.
    const body = `{"events": [${texts.join(',\n  ')}], "v":1,"source":${JSON.stringify(source)},"seq":1,"prev":"${'0'.repeat(64)}","mac":"${mac}"}`;
    const r = await post(`${c.url}/v1/batches`, body);
    expect(r).toEqual({ status: 200, json: { stored: 2, duplicate: false } });
    const bodies = c.query<{ body: string }>('SELECT body FROM events WHERE source = ? ORDER BY seq', source).map((x) => x.body);
    expect(bodies).toEqual(texts);
    expect(JSON.parse(bodies[0]).reason).toBe('said "stop", {then} [left] \\');
    const v = await c.cli(['verify', '--json']);
    const mine = JSON.parse(v.stdout).problems.filter((p: { source: string }) => p.source === source);
    expect(mine).toEqual([]);
  });

  test('a malformed batch gets 400 naming the first bad field, and nothing of it is stored', async () => {
    const chain = new Chain(`src-${uuidv7()}`, TOKEN);
    const good = stopEvent('i2');
    const bad = { ...stopEvent('i2'), kind: 'invocation.end', invocation: 'x', seq: 0, status: 200, reqBytes: 0, resBytes: 0, reqSha256: 'a'.repeat(64), resSha256: 'b'.repeat(64), durationMs: 1 };
    const r = await post(`${c.url}/v1/batches`, chain.next([good, bad]).body);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/^batch\.events\[1\]\.seq/);
    expect(count(c, 'source = ?', chain.source)).toBe(0);
    expect(c.query('SELECT * FROM batches WHERE source = ?', chain.source)).toHaveLength(0);
    const notJson = await post(`${c.url}/v1/batches`, '{"v":1,');
    expect(notJson.status).toBe(400);
    expect(notJson.json.error).toMatch(/^batch: not JSON/);
  });

  test('forged and tampered batches are refused with 401 and recorded; verify reports them', async () => {
    const chain = new Chain(`src-${uuidv7()}`, TOKEN);
    const forged = chain.next([stopEvent('i3')], { key: 'not-the-token' });
    expect((await post(`${c.url}/v1/batches`, forged.body)).status).toBe(401);

    const chain2 = new Chain(`src-${uuidv7()}`, TOKEN);
    const honest = chain2.next([stopEvent('i3', { reason: 'honest' })]);
    const tampered = honest.body.replace('"honest"', '"evil"');
    const r = await post(`${c.url}/v1/batches`, tampered);
    expect(r.status).toBe(401);
    expect(r.json.error).toContain('batch.mac');
    expect(count(c, 'source IN (?, ?)', chain.source, chain2.source)).toBe(0);
    const rec = c.query<{ source: string; problem: string }>('SELECT source, problem FROM integrity WHERE source IN (?, ?)', chain.source, chain2.source);
    expect(rec.map((x) => x.problem)).toEqual(['bad-mac', 'bad-mac']);
    const v = await c.cli(['verify']);
    expect(v.code).toBe(1);
    expect(v.stdout).toContain(`bad-mac: ${chain2.source}`);
  });

  test('gaps and chain breaks per source are detected and recorded', async () => {
    const chain = new Chain(`src-${uuidv7()}`, TOKEN);
    expect((await post(`${c.url}/v1/batches`, chain.next([stopEvent('i4')]).body)).status).toBe(200);
    chain.next([stopEvent('i4')]); // seq 2 is never sent
    expect((await post(`${c.url}/v1/batches`, chain.next([stopEvent('i4')]).body)).status).toBe(200); // seq 3
    // seq 4 correctly signed but naming a wrong predecessor: a break in the chain
    expect((await post(`${c.url}/v1/batches`, chain.next([stopEvent('i4')], { prev: 'f'.repeat(64) }).body)).status).toBe(200);
    const rec = c.query<{ seq: number; problem: string; detail: string }>('SELECT seq, problem, detail FROM integrity WHERE source = ? ORDER BY id', chain.source);
    expect(rec).toEqual([
      { seq: 3, problem: 'gap', detail: 'missing seq 2' },
      { seq: 4, problem: 'break', detail: expect.stringContaining('is not the mac of seq 3') },
    ]);
    const v = await c.cli(['verify', '--json']);
    expect(v.code).toBe(1);
    const report = JSON.parse(v.stdout);
    const mine = report.problems.filter((p: { source: string }) => p.source === chain.source);
    expect(mine.map((p: { problem: string; seq: number }) => [p.problem, p.seq])).toEqual([['gap', 3], ['break', 4]]);
  });

  test('OTLP/HTTP JSON spans become claimed http.out and app events, stored once; no token, no entry', async () => {
    const traceId = uuidv7().replace(/-/g, '');
    const inv = uuidv7();
    const t0 = BigInt(Date.now()) * 1_000_000n;
    const body = JSON.stringify({
      resourceSpans: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'otel-fn' } }, { key: 'alastor.instance', value: { stringValue: 'otel-fn-1' } }] },
        scopeSpans: [{ spans: [
          { traceId, spanId: '1111111111111111', name: 'GET', kind: 3, startTimeUnixNano: String(t0), endTimeUnixNano: String(t0 + 2_000_000n),
            attributes: [
              { key: 'http.request.method', value: { stringValue: 'GET' } },
              { key: 'url.full', value: { stringValue: 'http://gateway:8080/function/get-price?x=1' } },
              { key: 'http.response.status_code', value: { intValue: 200 } },
              { key: 'alastor.invocation', value: { stringValue: inv } },
            ] },
          { traceId, spanId: '2222222222222222', name: 'alastor.app', kind: 1, startTimeUnixNano: String(t0), endTimeUnixNano: String(t0),
            attributes: [
              { key: 'alastor.kind', value: { stringValue: 'app.module' } },
              { key: 'alastor.path', value: { stringValue: '/tmp/evil.js' } },
              { key: 'alastor.external', value: { boolValue: true } },
              { key: 'alastor.invocation', value: { stringValue: inv } },
            ] },
          { traceId, spanId: '3333333333333333', name: 'GET /', kind: 2, startTimeUnixNano: String(t0), endTimeUnixNano: String(t0) },
        ] }],
      }],
    });
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await post(`${c.url}/v1/traces`, body)).status).toBe(401);
    expect((await post(`${c.url}/v1/traces`, body, auth)).status).toBe(200);
    expect((await post(`${c.url}/v1/traces`, body, auth)).status).toBe(200);
    const ev = await c.cli(['events', '--invocation', inv, '--json']);
    expect(ev.code).toBe(0);
    const evs = JSON.parse(ev.stdout);
    expect(evs.map((e: { kind: string }) => e.kind).sort()).toEqual(['app.module', 'http.out']);
    const out = evs.find((e: { kind: string }) => e.kind === 'http.out');
    expect(out).toMatchObject({ function: 'otel-fn', instance: 'otel-fn-1', invocation: inv, evidence: 'claimed', source: 'instrumentation', callee: 'get-price', status: 200, traceId, spanId: '1111111111111111', durationMs: 2 });
    const mod = evs.find((e: { kind: string }) => e.kind === 'app.module');
    expect(mod).toMatchObject({ path: '/tmp/evil.js', external: true });
    const proto = await post(`${c.url}/v1/traces`, 'x', { ...auth, 'content-type': 'application/x-protobuf' });
    expect(proto.status).toBe(415);
  });
});

test('nothing answered 200 is lost when the collector is SIGKILLed, and a retry after restart is stored once', async () => {
  const c = await startCollector({ token: TOKEN });
  try {
    const chain = new Chain(`src-${uuidv7()}`, TOKEN);
    const batches = Array.from({ length: 60 }, () => chain.next(Array.from({ length: 50 }, () => stopEvent('k1'))));
    let acked = 0;
    const unacked: typeof batches = [];
    // Fire them all at once and kill the collector while they are in flight.
    const sends = batches.map(async (b) => {
      try {
        const r = await post(`${c.url}/v1/batches`, b.body);
        if (r.status === 200) acked += r.json.stored;
        else unacked.push(b);
      } catch {
        unacked.push(b);
      }
    });
    await new Promise((r) => setTimeout(r, 15));
    await c.kill();
    await Promise.all(sends);
    await c.restart();
    expect(count(c, 'source = ?', chain.source)).toBeGreaterThanOrEqual(acked);
    // The producer retries what was not acknowledged (and, as a retry would, some that were).
    for (const b of [...unacked, ...batches.slice(0, 5)]) {
      const r = await post(`${c.url}/v1/batches`, b.body);
      if (r.status !== 200) throw new Error(`retry answered ${r.status} ${JSON.stringify(r.json)}; collector log:\n${c.logs()}`);
    }
    expect(count(c, 'source = ?', chain.source)).toBe(60 * 50);
    expect(c.query<{ n: number }>('SELECT count(DISTINCT id) AS n FROM events WHERE source = ?', chain.source)[0].n).toBe(60 * 50);
    const v = await c.cli(['verify']);
    expect(v.stdout).toContain('ok: every chain is complete');
    expect(v.code).toBe(0);
  } finally {
    await c.stop();
  }
});

test('without a token the collector accepts empty-key chains and refuses keyed ones', async () => {
  const c = await startCollector();
  try {
    expect(c.logs()).toContain('no ALASTOR_TOKEN');
    const open = new Chain(`src-${uuidv7()}`, '');
    expect((await post(`${c.url}/v1/batches`, open.next([stopEvent('n1')]).body)).status).toBe(200);
    const keyed = new Chain(`src-${uuidv7()}`, 'some-key');
    expect((await post(`${c.url}/v1/batches`, keyed.next([stopEvent('n1')]).body)).status).toBe(401);
  } finally {
    await c.stop();
  }
});
