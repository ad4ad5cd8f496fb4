import { batchMac, eventsJson, GENESIS, uuidv7, validateBatch, validateEvent, UUID_RE, nowUs } from '../../events';

const base = { v: 1, id: uuidv7(), ts: nowUs(), instance: 'fn-abc-1', function: 'fn' };

describe('wire vocabulary', () => {
  test('uuidv7 ids are unique, well-formed and sort in creation order', () => {
    const ids = Array.from({ length: 5000 }, () => uuidv7());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(UUID_RE);
    expect([...ids].sort()).toEqual(ids);
  });

  test('a valid event passes and a bad one names its first bad field', () => {
    const ok = validateEvent({ ...base, kind: 'instance.stop', reason: 'SIGTERM' });
    expect(ok.ok).toBe(true);
    const bad = validateEvent({ ...base, kind: 'invocation.end', invocation: 'x', seq: 0, status: 200, reqBytes: 0, resBytes: 0, reqSha256: 'a'.repeat(64), resSha256: 'b'.repeat(64), durationMs: 1 });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error).toMatch(/^event\.seq/);
    const unknown = validateEvent({ ...base, kind: 'nope' });
    expect(unknown.ok).toBe(false);
    if (!unknown.ok) expect(unknown.error).toContain('unknown kind');
  });

  test('batch validation stops at the first bad event and reports its index', () => {
    const events = [
      { ...base, kind: 'instance.stop', reason: 'x' },
      { ...base, kind: 'syscall', serial: 1, syscall: 'openat', success: 'yes' },
    ];
    const text = eventsJson(events.map((e) => JSON.stringify(e)));
    const batch = { v: 1, source: 's', seq: 1, prev: GENESIS, events, mac: batchMac('k', 's', 1, GENESIS, text) };
    const r = validateBatch(batch);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/^batch\.events\[1\]\./);
  });

  test('the MAC changes with the token, the order and the content', () => {
    const t = eventsJson(['{"a":1}', '{"b":2}']);
    const m = batchMac('k', 's', 1, GENESIS, t);
    expect(batchMac('k2', 's', 1, GENESIS, t)).not.toBe(m);
    expect(batchMac('k', 's', 1, GENESIS, eventsJson(['{"b":2}', '{"a":1}']))).not.toBe(m);
    expect(batchMac('k', 's', 2, GENESIS, t)).not.toBe(m);
    expect(batchMac('k', 's', 1, GENESIS, t)).toBe(m);
  });
});
