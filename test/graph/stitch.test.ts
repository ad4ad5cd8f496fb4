// Stitching and tracing on event sequences stored in a real SQLite store: the Hello Retail attack
// path, ground truth for cross-function links, forged parents, time-respecting walks, and an
// incremental graph equal to a full rebuild.
import { randomBytes } from 'node:crypto';
import { World, helloRetailAttack, type AttackIds } from '../support/graph-world';
import { updateGraph, rebuildGraph } from '../../collector/graph/index';
import { loadGraph } from '../../collector/graph/read';
import { traceBack, traceForward } from '../../collector/graph/trace';
import type { Graph } from '../../collector/graph/model';

function canonical(g: Graph): string[] {
  return [
    ...g.nodes.map((n) => `N ${n.id} ${n.kind} ${n.label} ${n.time} ${JSON.stringify(n.attributes)}`),
    ...g.edges.map((e) => `E ${e.from} ${e.relation} ${e.to} ${e.time} ${e.evidence} ${e.trust ?? ''} ${JSON.stringify(e.attributes ?? {})}`),
  ].sort();
}

describe('the Hello Retail attack, stitched', () => {
  let w: World;
  let ids: AttackIds;
  beforeAll(() => {
    w = new World();
    ids = helloRetailAttack(w);
    expect(updateGraph(w.db).events).toBeGreaterThan(50);
  });
  afterAll(() => w.close());

  test('backward from the exfiltration connection reaches request one through the planted file', () => {
    const r = traceBack(w.db, `sock:${ids.exfil}`);
    const kinds = r.path!.map((id) => r.nodes.find((n) => n.id === id)!.kind);
    expect(r.path![0]).toBe(`sock:${ids.exfil}`);
    expect(kinds[1]).toBe('process');
    expect(r.nodes.find((n) => n.id === r.path![1])!.attributes.argv).toEqual(['node', '/tmp/evil.js']);
    // ... <- the planted file version written by invocation one <- invocation one <- its caller <- the external request
    const tail = r.path!.slice(-4);
    expect(tail[0]).toMatch(/^file:authorize-cc-[0-9a-f]+:\/tmp\/evil\.js#4711@1$/);
    expect(tail.slice(1)).toEqual([`inv:${ids.ac1.id}`, `inv:${ids.pp1.id}`, `req:${ids.pp1.id}`]);
    // Roots: both external requests, the attacker's download server, and the peer of the connection itself.
    expect(new Set(r.roots)).toEqual(new Set([`req:${ids.pp1.id}`, `req:${ids.pp2.id}`, 'remote:127.0.0.1:7777', 'remote:127.0.0.1:9999']));
    const node = new Set(r.nodes.map((n) => n.id));
    expect(node.has(`inv:${ids.ac2.id}`)).toBe(true); // invocation two started the shell
    expect(node.has(`msg:${ids.ac1.traceId}:${JSON.parse(w.db.prepare<[string], { body: string }>('SELECT body FROM events WHERE id = ?').get(ids.download)!.body).spanId}`)).toBe(true);
  });

  test('the backward walk does not follow later events', () => {
    const r = traceBack(w.db, `sock:${ids.exfil}`);
    const node = new Set(r.nodes.map((n) => n.id));
    expect(node.has(`inv:${ids.ac3.id}`)).toBe(false);
    expect([...node].some((id) => id.endsWith('/tmp/evil.js#4711@2'))).toBe(false);
    expect(node.has(`sock:${ids.later}`)).toBe(false);
    // Nor unrelated invocations of the same workflows that happened after.
    expect(node.has(`inv:${ids.pub1.id}`)).toBe(false);
    for (const e of r.edges) expect(e.time).toBeLessThanOrEqual(ids.exfilAt);
    // --until before the exfiltration: nothing of request two is eligible from the connection.
    const early = traceBack(w.db, `sock:${ids.exfil}`, { until: ids.exfilAt - 1 });
    expect(early.nodes.map((n) => n.id)).toEqual([`sock:${ids.exfil}`]);
    // --depth limits hops: the process and the endpoint of the connection.
    expect(traceBack(w.db, `sock:${ids.exfil}`, { depth: 1 }).nodes.map((n) => n.kind).sort()).toEqual(['process', 'remote', 'socket']);
  });

  test('forward from invocation one reaches the connection but nothing earlier', () => {
    const r = traceForward(w.db, ids.ac1.id);
    const node = new Set(r.nodes.map((n) => n.id));
    expect(node.has(`sock:${ids.exfil}`)).toBe(true);
    expect(node.has(`sock:${ids.later}`)).toBe(true);
    expect(node.has(`inv:${ids.pp1.id}`)).toBe(false);
    expect(node.has(`inv:${ids.gp1.id}`)).toBe(false);
  });

  test('cross-function links: every call, confirmed by the proxy, and no extra link', () => {
    const g = loadGraph(w.db);
    const links = g.edges.filter((e) => e.relation === 'wasInformedBy').map((e) => `${e.from} <- ${e.to} ${e.trust}`).sort();
    const want: string[] = [];
    const reqs = [[ids.pp1, ids.gp1, ids.ac1, ids.pub1], [ids.pp2, ids.gp2, ids.ac2, ids.pub2]];
    for (const [pp, ...callees] of reqs) for (const c of callees) want.push(`inv:${c.id} <- inv:${pp.id} confirmed`);
    const third = w.db.prepare<[string], { invocation: string; function: string }>(
      `SELECT invocation, function FROM graph_invocations WHERE trace_id = ? AND parent_span_id IS NOT NULL`).all(ids.ac3.traceId);
    const pp3 = w.db.prepare<[string], { invocation: string }>(`SELECT invocation FROM graph_invocations WHERE trace_id = ? AND parent_span_id IS NULL`).get(ids.ac3.traceId)!;
    for (const c of third) want.push(`inv:${c.invocation} <- inv:${pp3.invocation} confirmed`);
    expect(links).toEqual(want.sort());
  });

  test('warm instance: invocation two runs the file version invocation one wrote', () => {
    const g = loadGraph(w.db);
    const v1 = g.nodes.find((n) => n.kind === 'file' && n.attributes.path === '/tmp/evil.js' && n.attributes.version === 1)!;
    expect(g.edges.filter((e) => e.from === v1.id && e.relation === 'wasGeneratedBy').map((e) => e.to)).toEqual([`inv:${ids.ac1.id}`]);
    // Both the shell (its command line names the file) and node (its argument) used version 1.
    const users = g.edges.filter((e) => e.to === v1.id && e.relation === 'used').map((e) => g.nodes.find((n) => n.id === e.from)!);
    expect(users.map((u) => u.attributes.pid).sort()).toEqual([4242, 4243]);
    const proc = users.find((u) => u.attributes.pid === 4243)!;
    const starter = g.edges.find((e) => e.from === proc.id && e.relation === 'wasStartedBy')!;
    const sh = g.edges.find((e) => e.from === starter.to && e.relation === 'wasStartedBy')!;
    expect(sh.to).toBe(`inv:${ids.ac2.id}`);
    // The detached process outlives invocation two: its connection hangs off it and the instance.
    expect(g.edges.some((e) => e.from === proc.id && e.relation === 'wasAssociatedWith' && e.to.startsWith('inst:authorize-cc'))).toBe(true);
    expect(g.edges.some((e) => e.from === `sock:${ids.exfil}` && e.to === proc.id && e.relation === 'wasGeneratedBy')).toBe(true);
  });
});

describe('caller links are checked against what the recorders saw', () => {
  let w: World;
  beforeEach(() => (w = new World()));
  afterEach(() => w.close());

  const informed = (inv: string) => loadGraph(w.db).edges.filter((e) => e.relation === 'wasInformedBy' && e.from === `inv:${inv}`);

  test('a parent naming another invocation\'s own span, with no call recorded, is flagged and not followed', () => {
    const A = w.instance('product-purchase'), B = w.instance('publish'), R = w.instance('rogue');
    const pp = w.start('product-purchase', A);
    w.end(pp);
    const rogue = w.start('rogue', R);
    // rogue bypasses its proxy and sends a traceparent that names product-purchase's span
    const victim = w.start('publish', B, { traceId: pp.traceId, spanId: pp.spanId });
    w.end(victim);
    w.end(rogue);
    updateGraph(w.db);
    const e = informed(victim.id);
    expect(e).toHaveLength(1);
    expect(e[0].to).toBe(`inv:${pp.id}`);
    expect(e[0].trust).toBe('flagged');
    const r = traceBack(w.db, victim.id);
    expect(r.nodes.map((n) => n.id)).not.toContain(`inv:${pp.id}`);
    expect(r.roots).toEqual([`req:${victim.id}`]);
    expect(r.nodes.find((n) => n.id === `inv:${victim.id}`)!.attributes.flagged).toMatch(/own span/);
    expect(traceBack(w.db, victim.id, { followFlagged: true }).nodes.map((n) => n.id)).toContain(`inv:${pp.id}`);
  });

  test('a parent span inside a known workflow that no recorder saw is flagged', () => {
    const A = w.instance('product-purchase'), B = w.instance('publish');
    const pp = w.start('product-purchase', A);
    const victim = w.start('publish', B, { traceId: pp.traceId, spanId: randomBytes(8).toString('hex') });
    updateGraph(w.db);
    expect(informed(victim.id)).toHaveLength(0);
    const node = loadGraph(w.db).nodes.find((n) => n.id === `inv:${victim.id}`)!;
    expect(node.attributes.flagged).toMatch(/recorded by no caller/);
  });

  test('the proxy recorded the span for a different function: flagged', () => {
    const A = w.instance('product-purchase'), B = w.instance('publish');
    const pp = w.start('product-purchase', A);
    const span = w.call(pp, 'get-price', 'proxy');
    const other = w.start('publish', B, span);
    updateGraph(w.db);
    expect(informed(other.id).map((e) => e.trust)).toEqual(['flagged']);
  });

  test('only the function\'s instrumentation saw the call: claimed; the proxy arriving later confirms it', () => {
    const A = w.instance('product-purchase'), B = w.instance('publish');
    const pp = w.start('product-purchase', A);
    const span = w.call(pp, 'publish', 'instrumentation');
    const callee = w.start('publish', B, span);
    updateGraph(w.db);
    expect(informed(callee.id).map((e) => e.trust)).toEqual(['claimed']);
    w.call(pp, 'publish', 'proxy', span.spanId);
    updateGraph(w.db);
    expect(informed(callee.id).map((e) => e.trust)).toEqual(['confirmed']);
  });

  test('recorders disagreeing on the caller: flagged', () => {
    const A = w.instance('product-purchase'), B = w.instance('publish'), C = w.instance('rogue');
    const pp = w.start('product-purchase', A);
    const rogue = w.start('rogue', C);
    const span = w.call(pp, 'publish', 'proxy');
    // rogue's code copies the header and claims the call as its own
    w.call(rogue, 'publish', 'instrumentation', span.spanId, pp.traceId);
    const callee = w.start('publish', B, span);
    updateGraph(w.db);
    const e = informed(callee.id);
    expect(e.map((x) => [x.to, x.trust])).toEqual([[`inv:${pp.id}`, 'flagged']]);
  });
});

describe('in-function instrumentation alone (no audit)', () => {
  test('a module written by one invocation and spawned by a later one links them, marked claimed', () => {
    const w = new World();
    try {
      const A = w.instance('authorize-cc');
      const one = w.start('authorize-cc', A);
      w.emit({ kind: 'app.file', instance: A, function: 'authorize-cc', invocation: one.id, op: 'create', path: '/tmp/x.js', pid: 300 });
      w.end(one);
      const two = w.start('authorize-cc', A);
      w.emit({ kind: 'app.spawn', instance: A, function: 'authorize-cc', invocation: two.id, command: 'node', argv: ['/tmp/x.js'], pid: 5151, ppid: 300 });
      // A synchronous spawn reports the spawner's pid: it must not become the child.
      w.emit({ kind: 'app.spawn', instance: A, function: 'authorize-cc', invocation: two.id, command: 'ls', argv: ['ls'], pid: 300, ppid: 300 });
      w.end(two);
      const three = w.start('authorize-cc', A);
      const later = w.syscall(A, 'authorize-cc', three.id, { syscall: 'connect', pid: 300, sockaddr: { family: 'inet', address: '10.0.0.1', port: 80 } });
      updateGraph(w.db);
      const g = loadGraph(w.db);
      const proc = g.nodes.find((n) => n.kind === 'process' && n.attributes.pid === 5151)!;
      const r = traceBack(w.db, proc.id);
      expect(r.path!.slice(-3)).toEqual([expect.stringMatching(/^file:.*\/tmp\/x\.js#\?@1$/), `inv:${one.id}`, `req:${one.id}`]);
      expect(r.edges.filter((e) => e.evidence === 'instrumentation').every((e) => e.trust === 'claimed')).toBe(true);
      // The function's own process still acts for the invocation it serves.
      expect(g.edges.find((e) => e.from === `sock:${later.id}` && e.relation === 'wasGeneratedBy')!.to).toBe(`inv:${three.id}`);
    } finally {
      w.close();
    }
  });
});

describe('answers flow back', () => {
  test('a caller that used a callee\'s response depends on what the callee did, from the moment it arrived', () => {
    const w = new World();
    try {
      const A = w.instance('product-purchase'), B = w.instance('get-price');
      const pp = w.start('product-purchase', A);
      const callAt = w.tick();
      const span = { traceId: pp.traceId, spanId: randomBytes(8).toString('hex') };
      const gp = w.start('get-price', B, span);
      w.syscall(B, 'get-price', gp.id, { syscall: 'openat', pid: 300, paths: [{ name: '/var/prices.json', nametype: 'NORMAL', inode: 5 }], write: false });
      w.end(gp);
      const answered = w.tick();
      // The proxy reports the call when it completes, stamped with its start and its duration.
      w.emit({ kind: 'http.out', ts: callAt, instance: A, function: 'product-purchase', invocation: pp.id, method: 'POST', url: 'http://gw/function/get-price', host: 'gw', port: 8080, callee: 'get-price', status: 200, traceId: pp.traceId, spanId: span.spanId, evidence: 'confirmed', source: 'proxy', durationMs: (answered - callAt) / 1000 });
      const out = w.syscall(A, 'product-purchase', pp.id, { syscall: 'connect', pid: 400, sockaddr: { family: 'inet', address: '10.0.0.9', port: 5432 } });
      updateGraph(w.db);
      const r = traceBack(w.db, `sock:${out.id}`);
      const reached = r.nodes.map((n) => n.id);
      expect(reached).toContain(`inv:${gp.id}`);
      expect(reached.some((id) => id.includes('/var/prices.json'))).toBe(true);
      // Before the answer arrived, the callee is not a cause of the caller.
      expect(traceBack(w.db, pp.id, { until: answered - 1 }).nodes.map((n) => n.id)).not.toContain(`inv:${gp.id}`);
    } finally {
      w.close();
    }
  });
});

describe('incremental updates', () => {
  test('updating after every event gives the same graph as a rebuild from raw events', () => {
    const w = new World();
    try {
      const emit = w.emit.bind(w);
      w.emit = (ev) => {
        const r = emit(ev);
        updateGraph(w.db);
        return r;
      };
      helloRetailAttack(w);
      const incremental = canonical(loadGraph(w.db));
      expect(updateGraph(w.db).events).toBe(0);
      rebuildGraph(w.db);
      expect(canonical(loadGraph(w.db))).toEqual(incremental);
      expect(incremental.length).toBeGreaterThan(100);
    } finally {
      w.close();
    }
  });
});

describe('attribution levels in the graph (issue 14)', () => {
  let w: World;
  beforeEach(() => (w = new World()));
  afterEach(() => w.close());

  test('a call through the egress proxy is one message with the kernel\'s connect, and the proxy is no outside root', () => {
    const A = `fn-${randomBytes(3).toString('hex')}`;
    w.emit({ kind: 'instance.start', instance: A, function: 'fn', pid: 300, hostname: A, mode: 'http', egressProxy: '127.0.0.1:41000' });
    const inv = w.start('fn', A);
    // The request spawns curl, which connects to the proxy; the proxy records the call with curl's pid.
    w.syscall(A, 'fn', inv.id, { syscall: 'clone', pid: 300, exit: 777 });
    w.syscall(A, 'fn', inv.id, { syscall: 'execve', pid: 777, ppid: 300, comm: 'curl', exe: '/usr/bin/curl', argv: ['curl', 'http://10.9.9.9/x'], paths: [] });
    const conn = w.syscall(A, 'fn', inv.id, { syscall: 'connect', pid: 777, ppid: 300, comm: 'curl', exe: '/usr/bin/curl', sockaddr: { family: 'inet', address: '127.0.0.1', port: 41000 } });
    w.emit({
      kind: 'http.out', instance: A, function: 'fn', invocation: inv.id, method: 'POST', url: 'http://203.0.113.5:8080/x', host: '203.0.113.5', port: 8080,
      status: 200, traceId: inv.traceId, spanId: randomBytes(8).toString('hex'), evidence: 'confirmed', source: 'proxy', pid: 777, lineage: [777, 300], attribution: 'exact', basis: 'lineage',
    });
    w.end(inv);
    updateGraph(w.db);
    const r = traceBack(w.db, 'remote:203.0.113.5:8080');
    expect(r.roots).not.toContain('remote:127.0.0.1:41000');
    expect(r.nodes.map((n) => n.id)).not.toContain('remote:127.0.0.1:41000');
    expect(r.roots).toContain(`req:${inv.id}`);
    expect(r.pathLevel).toBe('exact');
    const msg = r.nodes.find((n) => n.kind === 'message')!;
    expect(msg.attributes).toMatchObject({ seenBy_syscall: true, pid: 777, kernelConnect: `sock:${conn.id}` });
    // The kernel's connect to the proxy names the call it carried, and is no outside endpoint.
    const sock = traceBack(w.db, `sock:${conn.id}`).nodes.find((n) => n.id === `sock:${conn.id}`)!;
    expect(sock.attributes).toMatchObject({ egressProxy: true, proxiedCall: msg.id });
    expect(traceBack(w.db, `sock:${conn.id}`).roots).not.toContain('remote:127.0.0.1:41000');
    // The message is curl's, curl is the request's.
    const gen = r.edges.find((e) => e.from === msg.id && e.relation === 'wasGeneratedBy')!;
    expect(r.nodes.find((n) => n.id === gen.to)!.kind).toBe('process');
  });

  test('a process born by a guess is linked to every candidate, and the trace says the root cause rests on a guess', () => {
    const A = w.instance('fn');
    const a = w.start('fn', A);
    const b = w.start('fn', A);
    w.syscall(A, 'fn', b.id, { syscall: 'clone', pid: 100, exit: 555, alsoIn: [a.id], attribution: 'guess', basis: 'time' });
    const out = w.syscall(A, 'fn', b.id, { syscall: 'connect', pid: 555, ppid: 100, attribution: 'guess', basis: 'lineage', alsoIn: [a.id], sockaddr: { family: 'inet', address: '198.51.100.7', port: 443 } });
    w.end(a);
    w.end(b);
    updateGraph(w.db);
    const r = traceBack(w.db, `sock:${out.id}`);
    expect(r.roots).toEqual(expect.arrayContaining([`req:${a.id}`, `req:${b.id}`]));
    expect(r.pathLevel).toBe('guess');
    expect(r.otherCandidates!.length).toBe(1);
    expect([r.path![r.path!.length - 1], ...r.otherCandidates!].sort()).toEqual([`req:${a.id}`, `req:${b.id}`].sort());
  });

  test('the root cause is chosen by evidence: an exact path beats an earlier request reached only by a guess', () => {
    const A = w.instance('fn');
    const early = w.start('fn', A);
    const late = w.start('fn', A);
    // The same file is written by the late request exactly and, by a guess, possibly by the early one.
    w.syscall(A, 'fn', late.id, { syscall: 'openat', pid: 100, paths: [{ name: '/tmp/f', nametype: 'CREATE', inode: 9 }] });
    w.syscall(A, 'fn', late.id, { syscall: 'openat', pid: 100, paths: [{ name: '/tmp/g', nametype: 'CREATE', inode: 10 }], alsoIn: [early.id], attribution: 'guess', basis: 'time' });
    w.end(early);
    w.end(late);
    const c = w.start('fn', A);
    w.syscall(A, 'fn', c.id, { syscall: 'clone', pid: 100, exit: 901 });
    w.syscall(A, 'fn', c.id, { syscall: 'execve', pid: 901, ppid: 100, argv: ['sh', '/tmp/f', '/tmp/g'], paths: [] });
    const out = w.syscall(A, 'fn', c.id, { syscall: 'connect', pid: 901, ppid: 100, sockaddr: { family: 'inet', address: '198.51.100.8', port: 80 } });
    w.end(c);
    updateGraph(w.db);
    const r = traceBack(w.db, `sock:${out.id}`);
    expect(r.roots).toEqual(expect.arrayContaining([`req:${early.id}`, `req:${late.id}`, `req:${c.id}`]));
    expect(r.rootLevels![`req:${early.id}`]).toBe('guess');
    expect(r.pathLevel).toBe('exact');
    expect(r.path![r.path!.length - 1]).not.toBe(`req:${early.id}`);
  });
});
