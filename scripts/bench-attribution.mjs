// Attribution benchmark: how exactly the recorders name the request behind each act, measured on a
// generated workload whose every act the generator knows, run through a real local stack
// (`alastor up examples/attribution-bench/stack.yml`: gateway, fwatchdog in http mode with the
// node-alastor template, collector, audit) at several numbers of requests in flight.
//
//   npm run bench:attribution [-- --requests 40] [--concurrency 1,4,8,16] [--audit on|off|auto] [--seed N] [--json] [--check] [--keep]
//   node scripts/bench-attribution.mjs --rescore DIR [--json] [--check]     (score a kept run again)
//
// Each request gets a unique id (ab-<run>-c<in flight>-r<n>) in its path, X-Call-Id and JSON body,
// and a plan the handler carries out (examples/attribution-bench/functions/ab-main/handler.js):
// files /tmp/ab/<id>.*, a fetch to this bench's loopback sink through the egress proxy, a node:http
// call to the request's own loopback address, a call to ab-callee through the gateway route, a
// child shell, a background shell that acts after the response, and for some requests a module
// planted in the function's folder that a later request loads. Every act names the id, so the
// score (bench-attribution-score.mjs) finds each act's true request from names, not from any
// recorder, and then checks the invocation each recorded event names and how sure it says it is.
//
// Why one stack for all phases: starting a stack with audit costs seconds on this machine, and a
// warm instance that has served other phases is the realistic case. Phases are separated by a
// drain (every background process done, then a pause longer than the audit tailer's attribution
// delay), so one phase's late acts cannot land in the next.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CORE_ACTS, corroborationsOf, score } from './bench-attribution-score.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const arg = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : def;
};
const flag = (name) => argv.includes(`--${name}`);
const REQUESTS = Number(arg('requests', 40));
const CONCURRENCY = String(arg('concurrency', '1,4,8,16')).split(',').map(Number);
const AUDIT = arg('audit', 'on');
const SEED = Number(arg('seed', Date.now() % 1e9));
const JSON_OUT = flag('json');
const CHECK = flag('check');
const KEEP = flag('keep');
const RESCORE = arg('rescore');
// Files every request writes: a directory under /tmp, which the audit layer also reads-audits.
const AB_DIR = '/tmp/ab';
// With --json, stdout is the one JSON object; everything for people goes to stderr.
const say = JSON_OUT ? (l = '') => process.stderr.write(`${l}\n`) : (l = '') => process.stdout.write(`${l}\n`);
const log = (l) => process.stderr.write(`${l}\n`);

if (!Number.isInteger(REQUESTS) || REQUESTS < 1 || REQUESTS > 5000) throw new Error('--requests: 1..5000');
if (CONCURRENCY.some((c) => !Number.isInteger(c) || c < 1 || c > 99)) throw new Error('--concurrency: a list of 1..99');
if (!['on', 'off', 'auto'].includes(AUDIT)) throw new Error('--audit: on, off or auto');

// ---- deterministic choices (a seed reproduces a plan) ----
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(SEED);
const between = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
function shuffle(a) {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

// ---- the loopback sink: the destination of every outgoing call, and a witness that it happened ----
function startSink() {
  const hits = [];
  const handler = (req, res) => {
    const u = new URL(req.url, 'http://x');
    const m = /^\/(sink|direct|bg)\/([^/]+)$/.exec(u.pathname);
    req.resume();
    if (!m) {
      res.writeHead(404).end();
      return;
    }
    // The egress proxy always adds a traceparent; curl does not: tells whether the background
    // call went through the proxy (and so must have an http.out event).
    hits.push({ kind: m[1], id: m[2], at: Date.now(), traceparent: !!req.headers.traceparent, local: req.socket.localAddress });
    setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n'), Math.min(200, Number(u.searchParams.get('d')) || 0));
  };
  const servers = [];
  const listen = (host) =>
    new Promise((resolve, reject) => {
      const s = createServer(handler);
      s.keepAliveTimeout = 1000;
      s.once('error', reject);
      s.listen(0, host, () => {
        servers.push(s);
        resolve({ server: s, port: s.address().port });
      });
    });
  return {
    hits,
    listen,
    close: (s) => new Promise((r) => (s.closeAllConnections(), s.close(() => r()))),
    closeAll: () => Promise.all(servers.map((s) => new Promise((r) => (s.closeAllConnections(), s.close(() => r()))))),
  };
}

// The direct (no proxy) call of request k goes to its own loopback address, so the kernel's
// connect event names the request: 127.0.0.0/8 is all loopback on Linux.
const directHost = (k) => `127.77.${1 + Math.floor(k / 250)}.${1 + (k % 250)}`;

// ---- the stack ----
function up(stateDir, audit) {
  const logFile = join(stateDir, 'up.log');
  const args = [join(root, 'dist', 'alastor.js'), 'up', join(root, 'examples', 'attribution-bench', 'stack.yml'), '--port', '0', '--state-dir', stateDir, '--audit', audit];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (b) => (out += b));
  proc.stderr.on('data', (b) => (out += b));
  const exited = new Promise((r) => proc.once('exit', r));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => log(`alastor up (pid ${proc.pid}) still stopping after 90 s; waiting`), 90000);
      await exited;
      clearTimeout(t);
    }
    writeFileSync(logFile, out);
  };
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 180000;
    const t = setInterval(() => {
      const m = /stack ready: \d+ functions behind (\S+?)[,.] /.exec(out);
      if (m) {
        clearInterval(t);
        // cli/stack/audit.ts says "audit layer on (...)", "audit layer off: why" or "audit off (--audit off)".
        const auditLine = /^(audit layer on.*|audit layer off.*|audit off.*)$/m.exec(out)?.[1] ?? 'audit: no decision printed';
        resolve({ gateway: m[1], auditLine, pid: proc.pid, logFile, output: () => out, stop });
      } else if (proc.exitCode !== null || Date.now() > deadline) {
        clearInterval(t);
        void stop().then(() => reject(new Error(`alastor up did not start (log ${logFile}):\n${out.split('\n').slice(-20).join('\n')}`)));
      }
    }, 100);
  });
}

// ---- the workload ----
function planPhase(c, firstK, run, sink) {
  const plans = [];
  for (let i = 0; i < REQUESTS; i++) {
    const k = firstK + i;
    const id = `ab-${run}-c${String(c).padStart(2, '0')}-r${String(k).padStart(4, '0')}`;
    plans.push({ id, k, steps: shuffle(['file', 'sink', 'direct', 'callee', 'child']) });
  }
  // Every 5th request plants a module; the request c+1 places later loads it (and waits for the
  // planter's answer first, so the file exists): a warm-container hand-over between two requests.
  for (let i = 1; i + c + 1 < plans.length; i += 5) {
    const planter = plans[i];
    const loader = plans[i + c + 1];
    planter.steps.splice(between(0, planter.steps.length), 0, 'plant');
    loader.steps.splice(between(0, loader.steps.length), 0, 'load');
    loader.load = `planted-${planter.id}.js`;
    loader.after = planter.id;
  }
  for (const p of plans) {
    p.steps.push('bg'); // last: its acts come after the response
    const waits = {};
    for (const s of p.steps) waits[s] = between(0, 12);
    Object.assign(waits, { fileRead: between(2, 20), sinkDelay: between(5, 25), callee: between(5, 30) });
    p.body = { id: p.id, dir: AB_DIR, sink: `http://127.0.0.1:${sink.port}`, direct: { host: directHost(p.k), port: 0 }, steps: p.steps, waits, load: p.load, bg: sink.bg };
  }
  return plans;
}

async function send(gateway, p) {
  const t0 = Date.now();
  try {
    const res = await fetch(`${gateway}/function/ab-main/${p.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-call-id': p.id },
      body: JSON.stringify(p.body),
      signal: AbortSignal.timeout(30000),
    });
    const text = await res.text();
    let answer;
    try {
      answer = JSON.parse(text);
    } catch {
      answer = undefined;
    }
    const ok = res.status === 200 && answer?.id === p.id && answer.steps?.length === p.steps.length;
    return { status: res.status, ok, answer: res.status === 200 ? answer : undefined, error: ok ? undefined : text.slice(0, 300), sentAt: t0, doneAt: Date.now() };
  } catch (e) {
    return { status: 0, ok: false, error: String(e?.cause?.message ?? e.message), sentAt: t0, doneAt: Date.now() };
  }
}

async function runPhase(c, plans, gateway) {
  const results = new Map();
  const done = new Map(plans.map((p) => [p.id, Promise.withResolvers ? Promise.withResolvers() : defer()]));
  let next = 0;
  const worker = async () => {
    while (next < plans.length) {
      const p = plans[next++];
      if (p.after) await done.get(p.after).promise;
      const r = await send(gateway, p);
      results.set(p.id, r);
      done.get(p.id).resolve();
    }
  };
  await Promise.all(Array.from({ length: c }, worker));
  return results;
}
function defer() {
  let resolve;
  const promise = new Promise((r) => (resolve = r));
  return { promise, resolve };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- printing ----
const fmtPct = (x) => (x === null ? '   -  ' : `${x.toFixed(1).padStart(5)}%`);
function printReport(m, s) {
  say(`Attribution benchmark: ${m.requests.length} requests (${m.concurrency.map((c) => `${m.requests.filter((r) => r.phase === c).length} at ${c}`).join(', ')} in flight), ab-main -> ab-callee, http mode, seed ${m.seed}`);
  say(`  ${m.auditLine}; background calls with ${m.bg}${m.bgNote ? ` (${m.bgNote})` : ''}`);
  say(`  load average at start ${m.load.start.map((x) => x.toFixed(2)).join(' ')}, at end ${m.load.end.map((x) => x.toFixed(2)).join(' ')} (${m.cores} cores); ${((m.finishedAt - m.startedAt) / 1000).toFixed(0)} s`);
  say(`  store ${m.db}${m.kept ? '' : ' (removed; --keep keeps it)'}`);
  say();
  const head = ['in flight', 'peak/mean', 'req ok', 'acts', 'exact', 'corrob', 'claimed', 'strong', 'w/o spans', 'wrong>guess', 'guess ok/all', 'unattr', 'missing', 'callers confirmed/all'];
  const rows = s.phases.map((p) => [
    String(p.concurrency),
    m.inFlight?.[p.concurrency] ? `${m.inFlight[p.concurrency].peak}/${m.inFlight[p.concurrency].mean}` : '-',
    `${p.requestsOk}/${p.requests}`,
    String(p.acts),
    `${p.correct.exact}${p.unlabelled.exact ? '*' : ''}`,
    String(p.correct.corroborated),
    `${p.correct.claimed}${p.unlabelled.claimed ? '*' : ''}`,
    fmtPct(p.strongCorrectPct),
    fmtPct(p.strongWithoutSpansPct),
    `${p.wrongAboveGuess + p.other.wrongAboveGuess + p.callers.wrong}${p.callers.wrong + p.other.wrongAboveGuess ? ` (${[p.other.wrongAboveGuess && `${p.other.wrongAboveGuess} other`, p.callers.wrong && `${p.callers.wrong} links`].filter(Boolean).join(', ')})` : ''}`,
    `${p.guess.right}/${p.guess.all}`,
    String(p.unattributed),
    String(p.missing),
    `${p.callers.confirmed}/${p.callers.calls}${p.callers.confirmedPct === null ? '' : ` ${fmtPct(p.callers.confirmedPct).trim()}`}${p.callers.guessRight + p.callers.guessWrong ? ` (${p.callers.guessRight + p.callers.guessWrong} guessed)` : ''}`,
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  say(head.map((h, i) => h.padStart(w[i])).join('  '));
  for (const r of rows) say(r.map((x, i) => x.padStart(w[i])).join('  '));
  say('  peak/mean: requests really in flight together, measured from the client (loads wait for their planters);');
  say('  exact/corrob/claimed: acts named to the right invocation at that level; strong = (exact + corroborated correct) / acts;');
  say('  w/o spans: the same without the OpenTelemetry spans\' http.out records (*.otlp acts), which stay claims unless corroborated;');
  say('  wrong>guess: named to a wrong invocation at exact, corroborated or claimed (must be 0), acts + other events + caller links;');
  say('  missing: acts that happened but no event records. Other events of the requests (exit_group, vfork, /dev/null opens,');
  say('  failed nscd connects, the template\'s app.* spans), not in the rates but in wrong>guess:');
  for (const p of s.phases) say(`    at ${String(p.concurrency).padStart(2)}: ${p.other.acts} events, ${p.other.wrongAboveGuess} wrong above guess, ${p.other.guess.right}/${p.other.guess.all} guesses right, ${p.other.unattributed} unattributed`);
  if (s.phases.some((p) => p.unlabelled.exact + p.unlabelled.claimed)) {
    say(`  * includes events without an attribution label (a producer not yet labelling): read as exact, or as claimed for an`);
    say(`    http.out whose evidence says claimed (OpenTelemetry spans): ${s.phases.map((p) => `${p.unlabelled.exact} + ${p.unlabelled.claimed} at ${p.concurrency}`).join(', ')}`);
  }
  say();

  // Per act: where the recorders are strong and where they are not.
  const acts = Object.keys(s.byAct).sort();
  if (acts.length) {
    say('per act, all phases: acts  strong  claimed  WRONG  guess ok/wrong  unattributed   (strong: exact or corroborated, right)');
    const others = acts.filter((a) => !CORE_ACTS.has(a));
    for (const a of [...acts.filter((a) => CORE_ACTS.has(a)), ...others]) {
      if (a === others[0]) say('  other events (not in the rates):');
      const x = s.byAct[a];
      say(`  ${a.padEnd(16)} ${String(x.acts).padStart(5)}  ${String(x.strong).padStart(6)}  ${String(x.claimed).padStart(7)}  ${String(x.wrong).padStart(5)}  ${`${x.guessRight}/${x.guessWrong}`.padStart(14)}  ${String(x.unattributed).padStart(12)}`);
    }
    say();
  }

  if (s.wrong.length) {
    // First who made them, then each one.
    const groups = new Map();
    for (const x of s.wrong) {
      const g = `${x.producer} | ${x.level}${x.basis ? `, basis ${x.basis}` : ''}`;
      if (!groups.has(g)) groups.set(g, new Map());
      const acts = groups.get(g);
      acts.set(`${x.act}@${x.phase}`, (acts.get(`${x.act}@${x.phase}`) ?? 0) + 1);
    }
    say(`WRONG ABOVE GUESS: ${s.wrong.length}, by producer and level (act@in flight count):`);
    for (const [g, acts] of groups) say(`  ${g}: ${[...acts].map(([a, n]) => `${a} ${n}`).join(', ')}`);
    say(`each one (windows are [start, end] of the invocation relative to the act, in ms; the true one should hold 0):`);
    for (const x of s.wrong) {
      say(`  [${x.phase} in flight] ${x.act}${x.core === false ? ' (other event)' : ''} at ${x.level}${x.basis ? ` (basis ${x.basis})` : ''} by ${x.producer}`);
      say(`      true request ${x.truth.request} (${x.truth.function}${x.truth.how && x.truth.how !== 'name' ? `, by ${x.truth.how}` : ''}: ${x.truth.invocations.join(', ') || 'no invocation'})${x.windows?.truth ? ` window ${x.windows.truth}` : ''}`);
      say(`      named ${x.named}${x.windows?.named ? ` window ${x.windows.named}` : ''}${x.alsoIn?.length ? `; alsoIn ${x.alsoIn.join('; ')}` : ''}`);
      if (x.callee) say(`      callee invocation ${x.callee}`);
      if (x.what) say(`      ${JSON.stringify(x.what)}${x.contradiction ? ` contradiction: ${x.contradiction}` : ''}  event ${x.event}`);
    }
    say();
  }
  if (s.missing.length) {
    const by = {};
    for (const x of s.missing) by[x.act] = (by[x.act] ?? 0) + 1;
    say(`missing acts (happened, no event): ${s.missing.length}: ${Object.entries(by).map(([k, v]) => `${k} ${v}`).join(', ')}; e.g. ${s.missing.slice(0, 3).map((x) => `${x.act} of ${x.request}`).join(', ')}`);
  }
  const callerIssues = s.callers.filter((x) => x.verdict !== 'confirmed');
  if (callerIssues.length) {
    const by = {};
    for (const x of callerIssues) by[x.verdict] = (by[x.verdict] ?? 0) + 1;
    say(`caller links not confirmed: ${Object.entries(by).map(([k, v]) => `${k} ${v}`).join(', ')}; e.g. ${callerIssues.slice(0, 2).map((x) => `${x.request}: ${x.verdict}${x.flagged ? ` (${x.flagged})` : ''}`).join('; ')}`);
  }
  if (s.inconsistent.length) say(`labels that contradict their candidates (a firm level with alsoIn, or a guess without): ${s.inconsistent.length}, e.g. ${JSON.stringify(s.inconsistent[0])}`);
  if (s.conflicts.length) {
    say(`GROUND TRUTH CONFLICTS (not scored; the bench cannot tell): ${s.conflicts.length}`);
    for (const x of s.conflicts.slice(0, 20)) say(`  ${x.kind} ${x.key}: ${x.conflict} (event ${x.event})`);
  }
  const failed = m.requests.filter((r) => !r.ok);
  if (failed.length) say(`failed requests: ${failed.length}, e.g. ${failed.slice(0, 3).map((r) => `${r.id}: HTTP ${r.status} ${r.error ?? ''}`).join('; ')}`);
  if (m.workloadShort.length) say(`acts the workload should have done but did not (sink or file not seen): ${m.workloadShort.slice(0, 5).join('; ')}${m.workloadShort.length > 5 ? ` and ${m.workloadShort.length - 5} more` : ''}`);
  if (Object.keys(s.losses).length) say(`producers report losses: ${JSON.stringify(s.losses)}`);
  say(`events naming no request (not scored): ${Object.entries(s.unnamed).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`);
  say();
}

function targetsOf(m, s) {
  const at = (c) => s.phases.find((p) => p.concurrency === c);
  const t = [];
  for (const p of s.phases) {
    const w = p.wrongAboveGuess + p.other.wrongAboveGuess + p.callers.wrong;
    t.push({ target: `wrong above guess = 0 at ${p.concurrency} in flight`, value: w, met: w === 0 });
  }
  const p8 = at(8);
  const p1 = at(1);
  t.push({ target: 'correct at exact or corroborated >= 99.6% at 8 in flight', value: p8?.strongCorrectPct ?? null, met: p8 ? (p8.strongCorrectPct ?? 0) >= 99.6 : null });
  t.push({ target: 'correct at exact or corroborated = 100% at 1 in flight', value: p1?.strongCorrectPct ?? null, met: p1 ? p1.strongCorrectPct === 100 : null });
  t.push({ target: 'caller links 100% confirmed at 8 in flight', value: p8?.callers.confirmedPct ?? null, met: p8 ? p8.callers.confirmedPct === 100 : null });
  // A run whose requests failed did not measure what it claims to.
  const failed = m.requests.filter((r) => !r.ok).length;
  t.push({ target: 'every request answered', value: failed, met: failed === 0 });
  return t;
}

function finish(m, s) {
  const targets = targetsOf(m, s);
  printReport(m, s); // to stderr with --json
  say('targets:');
  for (const x of targets) say(`  ${x.met === null ? 'NOT RUN' : x.met ? 'met    ' : 'MISSED '} ${x.target}${x.value === null ? '' : ` (${typeof x.value === 'number' && !Number.isInteger(x.value) ? x.value.toFixed(2) : x.value})`}`);
  if (JSON_OUT) {
    const { requests, ...meta } = m;
    process.stdout.write(`${JSON.stringify({ ...meta, requests: requests.length, score: s, targets })}\n`);
  }
  const missed = targets.some((x) => x.met === false || x.met === null);
  process.exitCode = CHECK && missed ? 1 : 0;
}

// ---- main ----
if (RESCORE) {
  const manifest = JSON.parse(readFileSync(join(RESCORE, 'bench-attribution.json'), 'utf8'));
  const db = join(RESCORE, 'alastor.db');
  finish(manifest, score(db, manifest, corroborationsOf(db, join(root, 'dist', 'alastor.js'))));
} else {
  await main();
}

async function main() {
  for (const f of ['dist/alastor.js', 'dist/fwatchdog.js']) if (!existsSync(join(root, f))) throw new Error(`${f} is missing: npm run build first`);
  const startedAt = Date.now();
  const loadStart = loadavg();
  const run = randomBytes(3).toString('hex');
  // curl is what a real background job would use; without it the background call is made by node
  // (which ignores HTTP_PROXY, so then no proxy record is expected for it).
  const hasCurl = spawnSync('sh', ['-c', 'command -v curl'], { encoding: 'utf8' }).status === 0;
  mkdirSync(AB_DIR, { recursive: true, mode: 0o1777 });
  // The stack's folder (with the function's own folder, where modules are planted) under the system
  // temp folder: reads are audited under /tmp, so the planted module's load is visible to audit.
  const stateDir = mkdtempSync(join(tmpdir(), 'alastor-bench-attr-'));
  const readDirs = (process.env.ALASTOR_AUDIT_READ_DIRS ?? '/tmp,/dev/shm,/var/tmp').split(',').filter(Boolean);
  const real = realpathSync(stateDir);
  const plantedReadAudited = readDirs.some((d) => real === d || real.startsWith(d.endsWith('/') ? d : `${d}/`));

  const sink = startSink();
  const main = await sink.listen('127.0.0.1');
  log(`sink on 127.0.0.1:${main.port}; starting the stack (audit ${AUDIT}, state ${stateDir})`);
  const stack = await up(stateDir, AUDIT);
  // The stack may decide "on" and a watchdog's tailer still fail to start ("audit: off: why"):
  // then that function's acts have no kernel events, and the expected acts must say so.
  const tailerOff = () => /^\[(ab-main|ab-callee)\] .*audit: off: .*$/m.exec(stack.output())?.[0];
  let auditOn = /^audit layer on/.test(stack.auditLine);
  log(`stack ready at ${stack.gateway}: ${stack.auditLine}`);

  let stopped = false;
  const onSignal = async () => {
    if (stopped) return;
    stopped = true;
    log('interrupted: stopping the stack');
    await stack.stop();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const requests = [];
  const inFlight = {};
  let k = 1;
  try {
    for (const c of CONCURRENCY) {
      const plans = planPhase(c, k, run, { port: main.port, bg: hasCurl ? 'curl' : 'node' });
      k += plans.length;
      // One listener per request on its own loopback address, for this phase only.
      const direct = await Promise.all(plans.map((p) => sink.listen(p.body.direct.host)));
      plans.forEach((p, i) => (p.body.direct.port = direct[i].port));
      log(`${c} in flight: ${plans.length} requests`);
      const t0 = Date.now();
      const results = await runPhase(c, plans, stack.gateway);
      // Drain: every background process has made its call (or 10 s passed), then a pause longer
      // than the audit tailer's hold-back (150 ms) plus the coarse audit clock, so this phase's
      // late acts are in before the next phase starts.
      const want = plans.filter((p) => results.get(p.id).answer?.bgPid).map((p) => p.id);
      const deadline = Date.now() + 10000;
      while (Date.now() < deadline && !want.every((id) => sink.hits.some((h) => h.kind === 'bg' && h.id === id))) await sleep(50);
      await sleep(800);
      await Promise.all(direct.map((d) => sink.close(d.server)));
      const fails = plans.filter((p) => !results.get(p.id).ok).length;
      // How many were really in flight together (the loads wait for their planters): the peak, and
      // the time-weighted mean over the phase's requests.
      const rs = [...results.values()];
      const span = Math.max(...rs.map((r) => r.doneAt)) - Math.min(...rs.map((r) => r.sentAt));
      const mean = rs.reduce((a, r) => a + (r.doneAt - r.sentAt), 0) / Math.max(1, span);
      let peak = 0;
      for (const r of rs) peak = Math.max(peak, rs.filter((x) => x.sentAt <= r.sentAt && r.sentAt < x.doneAt).length);
      inFlight[c] = { peak, mean: Math.round(mean * 10) / 10, seconds: (Date.now() - t0) / 1000 };
      log(`${c} in flight: done in ${inFlight[c].seconds.toFixed(1)} s, measured in flight: peak ${peak}, mean ${inFlight[c].mean}${fails ? `, ${fails} failed` : ''}`);
      for (const p of plans) requests.push({ id: p.id, phase: c, plan: p.body, after: p.after, ...results.get(p.id) });
    }
    // Spans leave the function in 200 ms batches; the stop flushes them too.
    await sleep(500);
  } finally {
    log('stopping the stack (functions flush, then the collector builds the graph a last time)');
    await stack.stop();
    stopped = true;
    await sink.closeAll();
  }

  // What the workload did, from the outside: the sink's hits and the files. An act the generator
  // planned but that did not happen is not the recorders' fault; it is reported, not scored.
  const hit = (kind, id) => sink.hits.find((h) => h.kind === kind && h.id === id);
  const workloadShort = [];
  for (const r of requests) {
    if (!r.answer) continue;
    for (const [kind, step] of [['sink', 'sink'], ['direct', 'direct'], ['bg', 'bg']]) if (r.answer.steps?.includes(step) && !hit(kind, r.id)) workloadShort.push(`${r.id} ${kind} call`);
    for (const [ext, step] of [['w', 'file'], ['s', 'child'], ['bg', 'bg'], ['c', 'callee']]) if (r.answer.steps?.includes(step) && !existsSync(join(AB_DIR, `${r.id}.${ext}`))) workloadShort.push(`${r.id}.${ext}`);
    if (r.plan.load && r.answer.loaded !== r.after) workloadShort.push(`${r.id} loaded ${JSON.stringify(r.answer.loaded)} instead of ${r.after}`);
  }
  const bgDone = requests.filter((r) => hit('bg', r.id) && existsSync(join(AB_DIR, `${r.id}.bg`))).map((r) => r.id);
  const bgViaProxy = requests.filter((r) => hit('bg', r.id)?.traceparent).map((r) => r.id);

  if (auditOn && tailerOff()) {
    log(`a watchdog ran without its audit tailer: ${tailerOff()}`);
    auditOn = false;
    stack.auditLine += `, but ${tailerOff()}`;
  }
  const manifest = {
    run,
    seed: SEED,
    concurrency: CONCURRENCY,
    audit: auditOn,
    auditLine: stack.auditLine,
    bg: hasCurl ? 'curl' : 'node (curl not found)',
    bgNote: hasCurl && bgViaProxy.length < bgDone.length ? `${bgDone.length - bgViaProxy.length} background calls bypassed the egress proxy` : undefined,
    plantedReadAudited,
    bgDone,
    bgViaProxy,
    workloadShort,
    inFlight,
    load: { start: loadStart, end: loadavg() },
    cores: (await import('node:os')).cpus().length,
    startedAt,
    finishedAt: Date.now(),
    db: join(stateDir, 'alastor.db'),
    kept: KEEP,
    requests,
  };
  writeFileSync(join(stateDir, 'bench-attribution.json'), JSON.stringify(manifest));
  const s = score(manifest.db, manifest, corroborationsOf(manifest.db, join(root, 'dist', 'alastor.js')));
  manifest.load.end = loadavg();
  finish(manifest, s);

  // Only this run's files: /tmp/ab may be shared with another run.
  for (const r of requests) for (const ext of ['w', 's', 'bg', 'c']) rmSync(join(AB_DIR, `${r.id}.${ext}`), { force: true });
  if (!KEEP) rmSync(stateDir, { recursive: true, force: true });
  else say(`kept ${stateDir} (rescore with: node scripts/bench-attribution.mjs --rescore ${stateDir})`);
}
