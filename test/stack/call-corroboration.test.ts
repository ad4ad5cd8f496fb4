// A node-alastor function reports its outgoing calls as OpenTelemetry spans: claims, since code in
// the function could report anything. The collector checks each against the recorders outside the
// function (collector/query/corroborate.ts): the egress proxy's record of the same call (fetch goes
// through the proxy) and the kernel's connect of the same process (node:http, direct). Real
// `alastor up`, real fwatchdog, real auditd, real SQLite store; `alastor events` shows the result.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALASTOR_CLI, stackAuditSkip, startUp } from '../support/stack-up';

const skipReason = stackAuditSkip('the call corroboration test');
const maybe = skipReason ? test.skip : test;

const HANDLER = `
const http = require('node:http');
function direct(host, port, id) {
  return new Promise((resolve, reject) => {
    // agent: false: a connection of its own, so the call has its own connect.
    http.get({ host, port, path: '/direct/' + id, agent: false }, (res) => { res.resume(); res.on('end', resolve); }).on('error', reject);
  });
}
module.exports = async (event, context) => {
  const { port, dhost, dport, id } = event.query;
  const viaProxy = await fetch('http://127.0.0.1:' + port + '/proxied/' + id);
  await viaProxy.text();
  await direct(dhost, Number(dport), id);
  return context.status(200).succeed(id);
};
`;

interface Ev {
  kind: string;
  id: string;
  invocation?: string;
  source: string;
  url: string;
  attribution?: string;
  corroboration?: { attribution: string; by: string; event: string; contradiction?: string };
}

describe('calls a function reports, checked against the egress proxy and the kernel', () => {
  let dir: string;
  let sink: Server;
  // Direct calls of the two requests go to different addresses: two connects of one process to
  // one address within the claims' tolerance are a guess between the requests (the kernel's record
  // of a connect names no local port to tell them apart).
  const direct: Record<string, Server> = {};
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'alastor-corrob-'));
    mkdirSync(join(dir, 'caller'));
    writeFileSync(join(dir, 'caller', 'handler.js'), HANDLER);
    writeFileSync(join(dir, 'stack.yml'), 'provider:\n  name: openfaas\nfunctions:\n  caller:\n    lang: node-alastor\n    handler: ./caller\n');
    sink = createServer((req, res) => res.end('ok'));
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    for (const [id, host] of [['one', '127.0.0.2'], ['two', '127.0.0.3']]) {
      direct[id] = createServer((req, res) => res.end('ok'));
      await new Promise<void>((r) => direct[id].listen(0, host, r));
    }
  });
  afterAll(() => {
    sink.close();
    for (const s of Object.values(direct)) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  maybe('a call through the proxy is corroborated by its record, a direct one by the connect', async () => {
    const up = await startUp(join(dir, 'stack.yml'), ['--audit', 'on', '--db', join(dir, 'store.db')]);
    const port = (sink.address() as AddressInfo).port;
    const ids: Record<string, string> = {};
    try {
      // Two requests in flight together: time alone could not tell their calls apart.
      await Promise.all(['one', 'two'].map(async (id) => {
        const d = direct[id].address() as AddressInfo;
        const res = await fetch(`${up.gatewayUrl}/function/caller?port=${port}&dhost=${d.address}&dport=${d.port}&id=${id}`);
        expect(`${res.status} ${await res.text()}`).toBe(`200 ${id}`);
        ids[id] = res.headers.get('x-alastor-invocation')!;
      }));
      // The spans are exported in batches (200 ms) and the tailer follows the log: let both land.
      await new Promise((r) => setTimeout(r, 2000));
    } finally {
      expect(await up.stop()).toBe(0);
    }
    const evs = JSON.parse(execFileSync(process.execPath, [ALASTOR_CLI, 'events', '--db', up.db!, '--kind', 'http.out', '--json'], { encoding: 'utf8' })) as Ev[];
    for (const [id, invocation] of Object.entries(ids)) {
      const claimOf = (what: string) => evs.find((e) => e.source !== 'proxy' && e.url.endsWith(`/${what}/${id}`));
      const proxied = claimOf('proxied');
      const proxyRecord = evs.find((e) => e.source === 'proxy' && e.url.endsWith(`/proxied/${id}`));
      expect(proxied).toMatchObject({ invocation, corroboration: { attribution: 'corroborated', by: 'proxy', event: proxyRecord!.id } });
      expect(proxied!.corroboration!.contradiction).toBeUndefined();
      expect(claimOf('direct')).toMatchObject({ invocation, corroboration: { attribution: 'corroborated', by: 'kernel' } });
    }
    // The graph tells the same story: the claim's message is linked to its invocation at the
    // corroborated level, and names the proxy's record of the same call.
    for (const [id, invocation] of Object.entries(ids)) {
      const g = JSON.parse(execFileSync(process.execPath, [ALASTOR_CLI, 'graph', 'show', invocation, '--db', up.db!, '--json'], { encoding: 'utf8' })) as {
        nodes: Array<{ id: string; kind: string; attributes: Record<string, unknown> }>;
        edges: Array<{ from: string; to: string; relation: string; trust?: string; attributes?: Record<string, unknown> }>;
      };
      for (const what of ['proxied', 'direct']) {
        const msg = g.nodes.find((n) => n.kind === 'message' && n.attributes.seenBy_instrumentation && String(n.attributes.url).endsWith(`/${what}/${id}`))!;
        expect(msg).toBeDefined();
        const gen = g.edges.find((e) => e.from === msg.id && e.to === `inv:${invocation}` && e.relation === 'wasGeneratedBy')!;
        expect(gen.attributes).toMatchObject({ level: 'corroborated', basis: what === 'proxied' ? 'proxy' : 'kernel' });
        expect(gen.trust).toBeUndefined();
        if (what === 'proxied') expect(g.nodes.map((n) => n.id)).toContain(msg.attributes.sameCallAs);
      }
    }
    // The table says so in words.
    const table = execFileSync(process.execPath, [ALASTOR_CLI, 'events', '--db', up.db!, '--kind', 'http.out'], { encoding: 'utf8' });
    expect(table).toMatch(/\/direct\/one .*\[corroborated by the kernel's connect /);
    expect(table).toMatch(/\/proxied\/two .*\[corroborated by the egress proxy's record /);
  }, 180000);
});
