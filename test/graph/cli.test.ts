// The `alastor trace` and `alastor graph` commands of the bundled CLI on a real store: JSON for
// scripts, readable output, every export format, reduction figures, and one-line errors.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { World, helloRetailAttack, type AttackIds } from '../support/graph-world';
import { ALASTOR } from '../support/collector';

function alastor(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [ALASTOR, ...args], { maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

let w: World;
let ids: AttackIds;
beforeAll(() => {
  w = new World();
  ids = helloRetailAttack(w); // not stitched yet: the CLI brings the graph up to date itself
});
afterAll(() => w.close());

test('trace back by ip:port gives nodes, edges, roots and the path, as JSON', async () => {
  // --all: the walk from every connection to the endpoint (without it, from the latest only).
  const r = await alastor(['trace', 'back', '127.0.0.1:9999', '--db', w.file, '--json', '--all']);
  expect(r.stderr).toBe('');
  const t = JSON.parse(r.stdout);
  expect(t.start.sort()).toEqual([`sock:${ids.exfil}`, `sock:${ids.later}`].sort());
  for (const n of t.nodes) expect(Object.keys(n)).toEqual(expect.arrayContaining(['id', 'kind', 'label', 'attributes']));
  for (const e of t.edges) expect(Object.keys(e)).toEqual(expect.arrayContaining(['from', 'to', 'relation', 'time', 'evidence']));
  expect(t.roots).toContain(`req:${ids.pp1.id}`);
  expect(t.path[t.path.length - 1]).toBe(`req:${ids.pp1.id}`);
});

test('readable output leads with the path to the root cause', async () => {
  const r = await alastor(['trace', 'back', `sock:${ids.exfil}`, '--db', w.file]);
  expect(r.code).toBe(0);
  const lines = r.stdout.split('\n');
  expect(lines[0]).toMatch(/^backward trace from sock:.*: \d+ nodes, \d+ edges$/);
  expect(r.stdout).toMatch(/path to the root cause \(exact\):\n {2}socket connect 127\.0\.0\.1:9999/);
  expect(r.stdout).toMatch(/<-used- file \/tmp\/evil\.js v1/);
  expect(r.stdout).toMatch(/<-wasInformedBy \(confirmed\)- invocation product-purchase #1 POST \//);
  const f = await alastor(['trace', 'forward', '/tmp/evil.js', '--db', w.file, '--json']);
  expect(JSON.parse(f.stdout).nodes.map((n: { id: string }) => n.id)).toContain(`sock:${ids.exfil}`);
});

test('time and depth limits', async () => {
  const t = JSON.parse((await alastor(['trace', 'back', `sock:${ids.exfil}`, '--db', w.file, '--json', '--depth', '2'])).stdout);
  expect(t.nodes.length).toBeLessThan(10);
  const since = JSON.parse((await alastor(['trace', 'back', `sock:${ids.exfil}`, '--db', w.file, '--json', '--since', String(ids.ac2.id ? ids.exfilAt - 1 : 0)])).stdout);
  expect(since.nodes.map((n: { kind: string }) => n.kind).sort()).toEqual(['process', 'remote', 'socket']);
});

test('graph show, every export format, stats and rebuild', async () => {
  const show = JSON.parse((await alastor(['graph', 'show', ids.ac1.id, '--db', w.file, '--json'])).stdout);
  expect(show.nodes.map((n: { id: string }) => n.id)).toEqual(expect.arrayContaining([`inv:${ids.ac1.id}`, `inv:${ids.pp1.id}`, 'remote:127.0.0.1:7777']));
  const trace = JSON.parse((await alastor(['graph', 'show', ids.ac1.traceId, '--db', w.file, '--json', '--view', 'tracing'])).stdout);
  expect(trace.nodes.filter((n: { kind: string }) => n.kind === 'invocation')).toHaveLength(4);
  for (const format of ['dot', 'prov-json', 'otlp', 'html']) {
    const out = join(w.dir, `g.${format}`);
    const r = await alastor(['graph', 'export', '--db', w.file, '--format', format, '--out', out]);
    expect(r.stderr).toBe('');
    expect(readFileSync(out, 'utf8').length).toBeGreaterThan(1000);
  }
  const stats = JSON.parse((await alastor(['graph', 'stats', '--db', w.file, '--json'])).stdout);
  expect(stats.invocations).toBe(12);
  expect(stats.edgesAfter).toBeLessThan(stats.edgesBefore);
  const rules = join(w.dir, 'rules.json');
  writeFileSync(rules, '{"merge": false, "prune": []}');
  const none = JSON.parse((await alastor(['graph', 'stats', '--db', w.file, '--json', '--rules', rules])).stdout);
  expect(none.edgesAfter).toBe(none.edgesBefore);
  expect((await alastor(['graph', 'rebuild', '--db', w.file])).stdout).toMatch(/^rebuilt from \d+ events\n$/);
});

test('bad input: one clear line each', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['trace', 'back', 'nothing-like-this', '--db', w.file], /^alastor: no node matches "nothing-like-this" \(give a node id/],
    [['trace', 'back', ids.ac1.id, '--db', w.file, '--depth', 'x'], /^alastor: --depth: "x" is not a whole number of hops\n$/],
    [['trace', 'back', ids.ac1.id, '--db', w.file, '--until', 'soon'], /^alastor: not a time: "soon"/],
    [['trace', 'back', ids.ac1.id, '--db', join(w.dir, 'missing.db')], /^alastor: --db: .*missing\.db does not exist\n$/],
    [['graph', 'export', '--db', w.file, '--format', 'png'], /^alastor: --format: unknown format "png" \(dot, prov-json, otlp, html\)\n$/],
    [['graph', 'show', ids.ac1.id, '--db', w.file, '--view', 'xray'], /^alastor: --view: unknown view "xray"/],
  ];
  for (const [args, re] of cases) {
    const r = await alastor(args);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(re);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }
});

test('an act audit could only place by time among invocations in flight together is shown as a guess', async () => {
  const g = new World();
  try {
    const inst = g.instance('auth');
    const a = g.start('auth', inst);
    const b = g.start('auth', inst);
    // One upstream pid serves both; the connect fell inside both windows.
    const sock = g.syscall(inst, 'auth', b.id, { syscall: 'connect', pid: 100, exit: 0, sockaddr: { family: 'inet', address: '127.0.0.1', port: 6666 }, alsoIn: [a.id] });
    g.end(b);
    g.end(a);
    const r = await alastor(['trace', 'back', `sock:${sock.id}`, '--db', g.file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('attributed by time, a guess among invocations in flight together');
    expect(r.stdout).toMatch(new RegExp(`socket connect 127\\.0\\.0\\.1:6666 .*: could also be ${a.id}`));
    // The walk reaches both candidates, not only the one named.
    const t = JSON.parse((await alastor(['trace', 'back', `sock:${sock.id}`, '--db', g.file, '--json'])).stdout);
    expect(t.roots).toEqual(expect.arrayContaining([`req:${a.id}`, `req:${b.id}`]));
    expect(t.edges).toContainEqual(expect.objectContaining({ from: `sock:${sock.id}`, to: `inv:${a.id}`, relation: 'wasGeneratedBy', attributes: expect.objectContaining({ alternative: true }) }));
    const plain = await alastor(['trace', 'back', `sock:${ids.exfil}`, '--db', w.file]);
    expect(plain.stdout).not.toContain('a guess');
  } finally {
    g.close();
  }
});
