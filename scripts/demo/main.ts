// `npm run demo`: the main job, end to end. Starts Hello, Retail! under fwatchdog with the
// collector (audit on where the machine allows it), sends normal traffic with the two-step attack
// hidden in it, stops the stack so every event is in, then starts from the exfiltration connection,
// walks the provenance graph backward and prints the investigator's answer beside what a tracer
// alone would show, and writes the interactive graph. `--json` ends with one JSON object.
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { startAttacker } from '../../examples/hello-retail/attacker/server.mjs';
import { runWorkload } from '../../examples/hello-retail/load.mjs';
import Database from 'better-sqlite3';
import { openStore } from '../../collector/store/open';
import { updateGraph } from '../../collector/graph/index';
import { toHtml } from '../../collector/export/html';
import { parseAuditMode } from '../../cli/stack/audit';
import { findRoot, startStack, type RunningStack } from '../../cli/stack/runner';
import { investigate, invocationByCallId, tracerConnects } from './investigate';
import { compareStolen, conclude, type ConclusionInput } from './conclude';

interface Args {
  json: boolean;
  out: string;
  audit: 'on' | 'off' | 'auto';
  requests: number;
}

function parseArgs(argv: string[], root: string): Args {
  const a: Args = { json: false, out: join(root, '.alastor', 'demo'), audit: 'auto', requests: 40 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${k}: missing value`);
      return argv[++i];
    };
    if (k === '--json') a.json = true;
    else if (k === '--out') a.out = resolve(v());
    else if (k === '--audit') a.audit = parseAuditMode(v());
    else if (k === '--requests') {
      a.requests = Number(v());
      if (!Number.isInteger(a.requests) || a.requests < 4) throw new Error('--requests: a whole number of at least 4');
    } else if (k === '--help' || k === '-h') {
      process.stdout.write('npm run demo -- [--json] [--out DIR] [--audit on|off|auto] [--requests N]\n');
      process.exit(0);
    } else throw new Error(`unknown option ${k} (try --help)`);
  }
  return a;
}

const time = (us: number) => new Date(Math.floor(us / 1000)).toISOString().replace('T', ' ').replace('Z', ' UTC');
const short = (id: string) => (id.length > 13 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id);

/** The credit-card table as kv-store serves it now, to set beside what the attacker received. */
async function cardTable(gateway: string): Promise<unknown> {
  try {
    const res = await fetch(`${gateway}/function/kv-store/tables/creditcards`);
    return res.ok ? await res.json() : undefined;
  } catch {
    return undefined;
  }
}

/** Polls the store (read-only, beside the running collector) for a connect to the attacker's port. */
async function waitForConnect(dbFile: string, port: number, sinceUs: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const store = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const q = store.prepare<[number, number], { n: number }>(
      `SELECT count(*) AS n FROM events WHERE kind = 'syscall' AND ts >= ?
         AND json_extract(body, '$.syscall') = 'connect' AND json_extract(body, '$.sockaddr.port') = ?`,
    );
    while (Date.now() < deadline) {
      if ((q.get(sinceUs, port)?.n ?? 0) > 0) return true;
      await new Promise((r) => setTimeout(r, 250));
    }
    return false;
  } finally {
    store.close();
  }
}

export async function main(argv: string[]): Promise<void> {
  const root = findRoot(__dirname);
  const args = parseArgs(argv, root);
  // In --json mode the story goes to stderr so stdout carries only the JSON object.
  const say = (l = '') => (args.json ? process.stderr : process.stdout).write(`${l}\n`);
  rmSync(args.out, { recursive: true, force: true });
  mkdirSync(args.out, { recursive: true });
  const db = join(args.out, 'alastor.db');
  const html = join(args.out, 'investigation.html');
  const fnLog = join(args.out, 'functions.log');

  say('Alastor demo: Hello, Retail! with a two-step warm-container attack hidden in normal traffic');
  say();
  const attacker = await startAttacker({ log: (l) => say(`  ${l}`) });
  let stack: RunningStack | undefined;
  const stopAll = async () => {
    await stack?.stop();
    stack = undefined;
    await attacker.close();
  };
  const onSignal = () => void stopAll().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let workload;
  const secret: ConclusionInput['secret'] = { name: 'the credit-card table', holder: 'kv-store' };
  let audit: { on: boolean; reason: string } = { on: false, reason: 'not started' };
  try {
    say(`1. Starting the stack (examples/hello-retail/stack.yml), collector store ${db}`);
    stack = await startStack({
      stackFile: join(root, 'examples', 'hello-retail', 'stack.yml'),
      root,
      stateDir: join(args.out, 'state'),
      db,
      gatewayPort: 0,
      audit: args.audit,
      log: (l) => say(`   ${l}`),
      functionLog: (name, line) => appendFileSync(fnLog, `[${name}] ${line}\n`),
      env: { ...process.env },
    });
    audit = stack.audit;
    say(`   ${audit.on ? 'AUDIT ON: ' : 'AUDIT OFF: '}${audit.reason}`);
    say(`   function logs: ${fnLog}`);
    say();
    say(`2. Normal traffic: ${args.requests} requests through ${stack.gatewayUrl}, the attack hidden inside (attacker on ${attacker.url})`);
    workload = await runWorkload({
      gateway: stack.gatewayUrl,
      requests: args.requests,
      concurrency: 2,
      attack: { payloadUrl: attacker.payloadUrl },
      log: (l) => say(`  ${l}`),
    });
    say(`   sent ${workload.sent} requests (${Object.entries(workload.statuses).map(([k, v]) => `${v}x HTTP ${k}`).join(', ')})`);
    if (!attacker.stolen.length) throw new Error('the attack did not reach the attacker: nothing was exfiltrated (see the function logs)');
    // Read after the attack, so the request is no part of the trace back from the exfiltration.
    secret.content = await cardTable(stack.gatewayUrl);
    say(`   ${compareStolen(attacker.stolen, secret).sentence}`);
    if (audit.on) {
      // The audit tailer follows auditd's log a little behind real time: wait until the collector
      // holds the exfiltration connect before the stack stops (stopping drains the rest).
      const seen = await waitForConnect(db, attacker.port, (workload.attack.two?.at ?? Date.now()) * 1000, 20000);
      say(seen ? '   the collector has the exfiltration connect from the audit layer' : '   (the audit layer has not delivered the exfiltration connect within 20 s; going on)');
    }
    say();
    say('3. Stopping the stack: every watchdog flushes its events to the collector');
  } catch (e) {
    await stopAll();
    throw e;
  }
  await stopAll();

  const store = openStore(db);
  try {
    const g = updateGraph(store);
    const counts = store.prepare<[], { kind: string; n: number }>(`SELECT kind, count(*) AS n FROM events GROUP BY kind ORDER BY n DESC`).all();
    say(`   ${counts.reduce((s, c) => s + c.n, 0)} events stored (${counts.map((c) => `${c.n} ${c.kind}`).join(', ')})${g.events ? `; graph extended by ${g.events}` : '; graph up to date'}`);
    say();
    const endpoint = `127.0.0.1:${attacker.port}`;
    say(`4. The investigation starts from the exfiltration connection to ${endpoint} and walks backward`);
    const inv = investigate(store, endpoint);
    say(`   point of interest: ${inv.poi.label} by ${inv.poi.function ?? '?'} at ${inv.poi.time ? time(inv.poi.time) : '?'}`);
    say(`   backward trace: ${inv.trace.nodes.length} nodes, ${inv.trace.edges.length} edges; path to the root cause:`);
    inv.path.forEach((s, i) =>
      say(`     ${String(i + 1).padStart(2)}. ${s.kind.padEnd(10)} ${s.label}${s.invocation ? `   [invocation ${short(s.invocation)}${s.function ? `, ${s.function}` : ''}]` : ''}`),
    );
    say();
    const writer = inv.files[0]?.writtenBy?.invocation;
    const runner = inv.files[0]?.usedBy?.invocation;
    const concluded = conclude({
      investigation: inv,
      pathLevel: inv.trace.pathLevel,
      attack: Object.fromEntries((['one', 'two'] as const).map((k) => {
        const callId = workload?.attack[k]?.callId;
        return [k, { callId, invocation: callId ? invocationByCallId(store, callId) : undefined }];
      })),
      received: attacker.stolen,
      secret,
      tracesLinked: writer && runner ? tracerConnects(store, writer, runner) : undefined,
    });
    say("   THE INVESTIGATOR'S ANSWER");
    for (const l of concluded.answer) say(`   ${l}`);
    say(`   ${concluded.stolen}`);
    say();
    say('   WHAT A TRACER ALONE SHOWS (X-Ray / Epsagon style: requests and spans only)');
    inv.tracingView.forEach((t, i) => {
      say(`   trace ${i + 1} (${t.traceId}): ${t.invocations.map((x) => `${x.function}#${x.seq}`).join(' -> ')}`);
    });
    for (const l of concluded.tracer) say(`   ${l}`);
    const failed = Object.entries(concluded.checks).filter(([, v]) => v === false).map(([k]) => k);
    if (failed.length) say(`   CHECKS THAT FAILED: ${failed.join(', ')}`);
    say();
    writeFileSync(html, toHtml(inv.trace, 'Hello, Retail!: backward trace from the exfiltration connection'));
    say(`5. Interactive graph of the backward trace: ${html}`);
    say(`   (open it in a browser; ${relative(process.cwd(), db) || db} holds everything: try  node dist/alastor.js trace back ${endpoint} --db ${db})`);

    const result = {
      db,
      html,
      audit: audit,
      auditLayer: inv.path.some((s) => s.kind === 'process' || s.kind === 'socket'),
      poi: { id: inv.poi.id, kind: inv.poi.kind, label: inv.poi.label, invocation: inv.poi.invocation, function: inv.poi.function, time: inv.poi.time, endpoint },
      rootCause: { invocation: inv.rootCause.invocation, function: inv.rootCause.function, time: inv.rootCause.time, callId: inv.rootCause.callId },
      path: inv.path.map((s) => ({ kind: s.kind, label: s.label, ...(s.invocation ? { invocation: s.invocation } : {}), ...(s.function ? { function: s.function } : {}) })),
      files: inv.files.map((f) => ({ path: f.path, writtenBy: f.writtenBy?.invocation, usedBy: f.usedBy?.invocation, instance: f.usedBy?.instance })),
      sameInstance: inv.sameInstance.map((i) => ({ invocation: i.invocation, function: i.function, instance: i.instance, seq: i.seq })),
      read: inv.read,
      tracingView: inv.tracingView.map((t) => t.invocations.map((i) => i.invocation)),
      attack: { one: workload?.attack.one?.callId, two: workload?.attack.two?.callId, exfiltratedBytes: attacker.stolen[0]?.bytes },
      conclusion: concluded,
    };
    if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    store.close();
  }
}
