// `npm run e2e:containers`: Hello, Retail! in real containers (podman), as a user's
// `faas-cli build` + OpenFaaS would run it, with the audit agent on the host.
//  1. local base images (no registry here: scripts/container-base/build-bases.sh)
//  2. the fwatchdog image from the repository's Dockerfile
//  3. every function image from its template, the build context laid out as faas-cli lays it out
//     (template copied to build/<fn>/, handler overlaid on build/<fn>/function/), COPY --from the
//     fwatchdog image, base images through --build-arg
//  4. the collector and `alastor audit agent` on the host, each function as a container
//     (--network=host, own ports), the local gateway in front
//  5. normal traffic with the two-step attack, then the investigation: it must reach the
//     attacker's first request through the planted file, as the process-based demo does, with
//     syscall events captured by the host agent (host pids -> containers) joined to the
//     watchdogs' own events from inside the containers.
// Every step is an assertion; the first failure ends the run with a one-line reason.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, appendFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { startAttacker } from '../../examples/hello-retail/attacker/server.mjs';
import { runWorkload } from '../../examples/hello-retail/load.mjs';
import { openStore } from '../../collector/store/open';
import { updateGraph } from '../../collector/graph/index';
import { decideAudit } from '../../cli/stack/audit';
import { startGateway, type Gateway } from '../../cli/stack/gateway';
import { parseStackFile, type StackFunction } from '../../cli/stack/parse';
import { findTemplate, type Template } from '../../cli/stack/template';
import { copyConfigured } from '../../cli/stack/layout';
import { findRoot, freePort } from '../../cli/stack/runner';
import { investigate } from '../demo/investigate';

const PODMAN = ['--runtime', 'runc', '--cgroup-manager=cgroupfs'];
const ULIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];
const NODE_BASE = process.env.ALASTOR_NODE_BASE ?? 'localhost/alastor-node-base:bookworm';
const PYTHON_BASE = process.env.ALASTOR_PYTHON_BASE ?? 'localhost/alastor-python-base:bookworm';
const WATCHDOG_IMAGE = 'localhost/alastor-fwatchdog:e2e';
const PREFIX = `alastor-e2e-${process.pid}`;

const t0 = Date.now();
const since = () => `${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s`;
const say = (l: string) => process.stdout.write(`[${since()}] ${l}\n`);

class Failed extends Error {}
function assert(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Failed(`ASSERTION FAILED: ${what}`);
  say(`ok  ${what}`);
}

function podman(args: string[], opts: { log?: string; quiet?: boolean } = {}): string {
  const r = spawnSync('podman', [...PODMAN, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (opts.log) appendFileSync(opts.log, `$ podman ${args.join(' ')}\n${r.stdout}${r.stderr}\n`);
  if (r.status !== 0) {
    const tail = `${r.stderr || r.stdout}`.trim().split('\n').slice(-3).join(' | ');
    throw new Failed(`podman ${args[0]} failed (exit ${r.status}): ${tail}`);
  }
  return r.stdout.trim();
}

function build(tag: string, dir: string, args: Record<string, string>, log: string): void {
  const buildArgs = Object.entries(args).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]);
  // --format docker keeps the templates' HEALTHCHECK (OCI images drop it).
  podman(['build', '--isolation', 'chroot', '--format', 'docker', ...ULIMITS, ...buildArgs, '-t', tag, dir], { log });
}

/** The build context exactly as `faas-cli build` makes it: build/<fn>/ = template + handler in function/. */
function layOut(fn: StackFunction, t: Template, buildRoot: string): string {
  const dir = join(buildRoot, fn.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'function'), { recursive: true });
  cpSync(t.dir, dir, { recursive: true });
  for (const entry of readdirSync(fn.handler)) {
    // faas-cli skips these two folder names in a handler; node_modules is the user's local install.
    if (['build', 'template', 'node_modules'].includes(entry)) continue;
    cpSync(join(fn.handler, entry), join(dir, 'function', entry), { recursive: true });
  }
  // configuration.copy (Hello Retail's common/), after the handler, as faas-cli lays it out.
  copyConfigured(fn, join(dir, 'function'));
  return dir;
}

function health(port: number): Promise<number> {
  return new Promise((done) => {
    const req = request({ host: '127.0.0.1', port, path: '/_/health', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(0));
    req.end();
  });
}

interface Proc {
  proc: ChildProcess;
  exited: Promise<void>;
}
function startHost(name: string, args: string[], env: NodeJS.ProcessEnv, logFile: string, onLine?: (l: string) => void): Proc {
  const proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  for (const s of [proc.stdout!, proc.stderr!])
    createInterface({ input: s }).on('line', (l) => {
      appendFileSync(logFile, `[${name}] ${l}\n`);
      onLine?.(l);
    });
  return { proc, exited };
}
async function stopHost(p: Proc | undefined, graceMs: number): Promise<void> {
  if (!p || p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  p.proc.kill('SIGTERM');
  const timer = setTimeout(() => p.proc.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(timer);
}

export async function main(argv: string[]): Promise<void> {
  const root = findRoot(__dirname);
  const out = join(root, '.alastor', 'e2e-containers');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const buildLog = join(out, 'build.log');
  const runLog = join(out, 'run.log');
  const db = join(out, 'alastor.db');
  const token = randomBytes(24).toString('hex');
  const skipBuild = argv.includes('--no-build');
  // Default: the graph is built once every event is in (the agent's events are placed in the
  // watchdogs' windows, which must have arrived). --live-graph keeps the collector's live worker.
  const liveGraph = argv.includes('--live-graph');
  say(`container e2e: logs in ${out}`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Failed('podman (rootful) and Linux audit need root');
  for (const f of ['dist/alastor.js', 'dist/fwatchdog.js']) if (!existsSync(join(root, f))) throw new Failed(`${f} is missing: npm run build`);

  // 1-3: images
  const stack = parseStackFile(join(root, 'examples', 'hello-retail', 'stack.yml'), { ...process.env, REGISTRY: 'localhost/hello-retail', TAG: 'e2e' });
  const images = new Map<string, string>();
  if (!skipBuild) {
    say('building local base images (scripts/container-base/build-bases.sh)');
    const b = spawnSync('sh', [join(root, 'scripts', 'container-base', 'build-bases.sh')], { encoding: 'utf8' });
    appendFileSync(buildLog, `${b.stdout}${b.stderr}`);
    if (b.status !== 0) throw new Failed(`base images: ${(b.stderr || b.stdout).trim().split('\n').pop()}`);
    say(`building the fwatchdog image ${WATCHDOG_IMAGE} from ./Dockerfile`);
    build(WATCHDOG_IMAGE, root, { NODE_IMAGE: NODE_BASE }, buildLog);
  }
  const wdFiles = podman(['image', 'inspect', WATCHDOG_IMAGE, '--format', '{{.Size}}']);
  assert(Number(wdFiles) > 0 && Number(wdFiles) < 20e6, `fwatchdog image is a single small file (${(Number(wdFiles) / 1e6).toFixed(2)} MB)`);
  const buildRoot = join(out, 'build');
  for (const fn of stack.functions) {
    const t = findTemplate(fn.lang, stack.dir, root);
    const image = fn.image ?? `localhost/${fn.name}:e2e`;
    const tag = image.includes('/') ? image : `localhost/${image}`;
    images.set(fn.name, tag);
    if (skipBuild && podmanOk(['image', 'exists', tag])) continue;
    const dir = layOut(fn, t, buildRoot);
    const started = Date.now();
    build(tag, dir, { WATCHDOG_IMAGE, NODE_IMAGE: NODE_BASE, PYTHON_IMAGE: PYTHON_BASE, NODE_BIN: '/usr/bin/node', }, buildLog);
    say(`built ${tag} (${fn.lang}) in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  for (const [name, tag] of images) {
    const v = podman(['run', '--rm', '--network=host', ...ULIMITS, '--entrypoint', 'sh', tag, '-c', 'test -x /usr/bin/fwatchdog && node --version']);
    assert(/^v\d+/.test(v), `${name}: image ${tag} holds /usr/bin/fwatchdog and node ${v}`);
  }

  // 4: the running system
  const audit = decideAudit('on', say);
  say(audit.reason);
  const attacker = await startAttacker({ log: (l: string) => appendFileSync(runLog, `[attacker] ${l}\n`) });
  let collector: Proc | undefined;
  let agent: Proc | undefined;
  let gateway: Gateway | undefined;
  const containers: string[] = [];
  // Each container's /tmp is a host folder, as OpenFaaS gives a read-only-root function an
  // emptyDir /tmp. Under the host's /tmp it is inside the agent's read rules (-F dir= is a host
  // path subtree), so reads of a planted file are audited too; the container's own overlay /tmp
  // would not be (docs/audit.md).
  const tmpRoot = join(tmpdir(), PREFIX);
  const stopAll = async () => {
    if (containers.length) spawnSync('podman', [...PODMAN, 'stop', '-t', '15', ...containers], { encoding: 'utf8' });
    for (const c of containers) {
      const logs = spawnSync('podman', [...PODMAN, 'logs', c], { encoding: 'utf8' });
      appendFileSync(runLog, `---- ${c}\n${logs.stdout}${logs.stderr}`);
      spawnSync('podman', [...PODMAN, 'rm', '-f', c], { encoding: 'utf8' });
    }
    containers.length = 0;
    await gateway?.close();
    gateway = undefined;
    await stopHost(agent, 15000);
    await stopHost(collector, 10000);
    await attacker.close();
    rmSync(tmpRoot, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void stopAll().finally(() => process.exit(130)));

  let workload;
  const containerIds = new Map<string, string>();
  // Like a pod name: the watchdog's instance id starts with the hostname.
  const hostnames = new Map<string, string>();
  try {
    let collectorUrl = '';
    collector = startHost('collector', [join(root, 'dist', 'alastor.js'), 'collector', '--db', db, '--port', '0', ...(liveGraph ? [] : ['--graph', 'off'])], { ...process.env, ALASTOR_TOKEN: token }, runLog, (l) => {
      const m = /listening on (\S+)/.exec(l);
      if (m) collectorUrl = m[1];
    });
    for (let i = 0; !collectorUrl; i++) {
      if (i > 300 || collector.proc.exitCode !== null) throw new Failed('the collector did not start (see run.log)');
      await new Promise((r) => setTimeout(r, 50));
    }
    say(`collector on the host at ${collectorUrl}`);
    let agentReady = false;
    agent = startHost('agent', [join(root, 'dist', 'alastor.js'), 'audit', 'agent', '--collector', collectorUrl, '--token', token, '--spool-dir', join(out, 'agent-spool')], process.env, runLog, (l) => {
      if (/rules|following|watching|ready|started/i.test(l)) agentReady = true;
    });
    for (let i = 0; !agentReady && i < 400 && agent.proc.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
    if (agent.proc.exitCode !== null) throw new Failed('the audit agent exited at start (see run.log)');
    say('audit agent on the host (alastor audit agent)');

    const routes = stack.functions.map((fn) => ({ name: fn.name, port: 0, image: images.get(fn.name) }));
    gateway = await startGateway({ port: 0, routes, log: (l) => appendFileSync(runLog, `[gateway] ${l}\n`) });
    say(`gateway at ${gateway.url}`);
    await Promise.all(
      stack.functions.map(async (fn, i) => {
        const t = findTemplate(fn.lang, stack.dir, root);
        const [port, metricsPort, upstreamPort] = [await freePort(), await freePort(), await freePort()];
        // Host networking: every port must be the function's own, the upstream's too.
        const upstream = t.env.upstream_url ? new URL(t.env.upstream_url) : undefined;
        if (upstream) upstream.port = String(upstreamPort);
        const env: Record<string, string> = {
          ...Object.fromEntries(Object.entries(fn.environment ?? {}).filter(([, v]) => v !== '')),
          port: String(port),
          metrics_port: String(metricsPort),
          http_port: String(upstreamPort),
          ...(upstream ? { upstream_url: upstream.toString().replace(/\/$/, '') } : {}),
          healthcheck_interval: '1s',
          gateway_url: gateway!.url,
          ALASTOR_GATEWAY_URL: gateway!.url,
          ALASTOR_FUNCTION: fn.name,
          ALASTOR_PROVENANCE: 'on',
          // Inside a container audit belongs to the node agent, not to the watchdog.
          ALASTOR_AUDIT: 'off',
          ALASTOR_COLLECTOR_URL: collectorUrl,
          ALASTOR_TOKEN: token,
          ALASTOR_SPOOL_DIR: '/tmp/alastor-spool',
        };
        const name = `${PREFIX}-${fn.name}`;
        const fnTmp = join(tmpRoot, fn.name);
        mkdirSync(fnTmp, { recursive: true, mode: 0o1777 });
        chmodSync(fnTmp, 0o1777);
        const host = `${fn.name}-${randomBytes(3).toString('hex')}`;
        hostnames.set(fn.name, host);
        const id = podman(['run', '-d', '--name', name, '--hostname', host, '--network=host', '-v', `${fnTmp}:/tmp`, ...ULIMITS, ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]), images.get(fn.name)!]);
        containers.push(name);
        containerIds.set(fn.name, id);
        const deadline = Date.now() + 120000;
        while ((await health(port)) !== 200) {
          const state = spawnSync('podman', [...PODMAN, 'inspect', '-f', '{{.State.Running}}', name], { encoding: 'utf8' }).stdout.trim();
          if (state !== 'true') throw new Failed(`container ${name} stopped before it was healthy (see run.log)`);
          if (Date.now() > deadline) throw new Failed(`container ${name} not healthy within 120 s`);
          await new Promise((r) => setTimeout(r, 100));
        }
        routes[i].port = port;
        say(`  ${fn.name.padEnd(18)} container ${id.slice(0, 12)} healthy on :${port}`);
      }),
    );
    assert(containers.length === stack.functions.length, `${containers.length} function containers running behind the gateway`);

    // 5: traffic and the attack
    workload = await runWorkload({ gateway: gateway.url, requests: 40, concurrency: 2, attack: { payloadUrl: attacker.payloadUrl }, log: (l: string) => appendFileSync(runLog, `[load] ${l}\n`) });
    say(`sent ${workload.sent} requests (${Object.entries(workload.statuses).map(([k, v]) => `${v}x ${k}`).join(', ')})`);
    const non2xx = Object.entries(workload.statuses).filter(([k]) => !k.startsWith('2'));
    assert(workload.sent > 0 && workload.failed === 0 && non2xx.length === 0, 'containers served every request through the gateway (all 2xx)');
    assert(workload.attack.one?.status === 200 && workload.attack.two?.status === 200, 'both attack requests answered 200 by the authorize-cc container');
    assert(attacker.stolen.length > 0, `the attack ran inside the authorize-cc container (attacker received ${attacker.stolen[0]?.bytes} bytes)`);
    const seen = await waitFor(db, `SELECT count(*) AS n FROM events WHERE kind='syscall' AND json_extract(body,'$.syscall')='connect' AND json_extract(body,'$.sockaddr.port')=${attacker.port}`, 30000);
    assert(seen, 'the host agent delivered the exfiltration connect to the collector');
  } finally {
    await stopAll();
  }

  // Checks on what the collector holds.
  const ro = new Database(db, { readonly: true });
  const q = (sql: string) => ro.prepare(sql).all() as Record<string, unknown>[];
  const byFn = q(`SELECT function, count(*) AS n FROM events WHERE kind LIKE 'invocation.%' GROUP BY function`);
  assert(byFn.length >= 5, `collector holds invocation events from inside ${byFn.length} containers (${byFn.map((r) => `${r.function}:${r.n}`).join(', ')})`);
  const instances = q(`SELECT DISTINCT instance FROM events WHERE kind = 'instance.start'`).map((r) => String(r.instance));
  const fromContainers = [...hostnames.values()].filter((h) => instances.some((i) => i.startsWith(`${h}-`)));
  assert(fromContainers.length === hostnames.size, `every container's watchdog started an instance named after its hostname (${fromContainers.length}/${hostnames.size})`);
  const tagged = q(`SELECT json_extract(body,'$.containerId') AS c, function, count(*) AS n FROM events WHERE kind='syscall' AND json_extract(body,'$.containerId') IS NOT NULL GROUP BY c, function`);
  const ids = new Set(containerIds.values());
  assert(tagged.length > 0 && tagged.every((r) => ids.has(String(r.c))), `agent syscall events tagged with this run's container ids (${tagged.map((r) => `${r.function}:${r.n}`).join(', ')})`);
  const cc = containerIds.get('authorize-cc')!;
  const joined = q(`SELECT count(*) AS n FROM events s WHERE s.kind='syscall' AND json_extract(s.body,'$.containerId')='${cc}'
                     AND s.instance IN (SELECT instance FROM events WHERE kind='invocation.start' AND function='authorize-cc')`)[0];
  assert(Number(joined.n) > 0, `authorize-cc syscalls (host pids) share the instance id of the watchdog's own events inside the container (${joined.n} events)`);
  ro.close();

  const store = openStore(db);
  let result;
  try {
    updateGraph(store);
    const inv = investigate(store, `127.0.0.1:${attacker.port}`);
    say(`root cause: ${inv.rootCause.function} invocation ${inv.rootCause.invocation} (X-Call-Id ${inv.rootCause.callId})`);
    inv.path.forEach((s, i) => say(`   ${String(i + 1).padStart(2)}. ${s.kind.padEnd(10)} ${s.label}`));
    // The same expectations as the process-based demo's test (test/demo/demo.test.ts).
    assert(inv.rootCause.function === 'product-purchase', 'root cause is a product-purchase request (the workflow entry the attacker called)');
    assert(inv.rootCause.callId === workload!.attack.one?.callId, "root cause is the attacker's first request (malicious: one, by X-Call-Id)");
    assert(inv.path[0]?.kind === 'socket', 'the walk starts at the exfiltration socket seen by the host agent');
    for (const x of inv.files) say(`   file ${x.path}: written by ${x.writtenBy?.function}#${x.writtenBy?.seq} (${x.writtenBy?.invocation ?? '?'}), used by ${x.usedBy?.function}#${x.usedBy?.seq} (${x.usedBy?.invocation ?? '?'})`);
    const f = inv.files[0];
    if (f && f.writtenBy && !f.usedBy)
      say('   the read of the planted file is an agent event with no invocation: the collector has not placed it in the invocation window of its instance');
    assert(f && f.writtenBy && f.usedBy && f.writtenBy.invocation !== f.usedBy.invocation, `through the planted file ${f?.path}: written by one invocation, run by a later one`);
    assert(f.writtenBy!.function === 'authorize-cc' && f.usedBy!.function === 'authorize-cc', 'both in authorize-cc');
    assert(f.writtenBy!.instance === f.usedBy!.instance && f.writtenBy!.seq < f.usedBy!.seq, `on the same warm container instance ${f.usedBy!.instance} (#${f.writtenBy!.seq} then #${f.usedBy!.seq})`);
    assert(f.usedBy!.instance.startsWith(`${hostnames.get('authorize-cc')}-`), "that instance is the authorize-cc container's watchdog");
    assert(inv.path[inv.path.length - 1]?.invocation === inv.rootCause.invocation, 'the path ends at the root cause');
    assert(inv.tracingView.length === 2, 'a tracer alone shows 2 unrelated traces');
    result = { rootCause: inv.rootCause, file: f.path, path: inv.path.map((s) => `${s.kind} ${s.label}`), seconds: (Date.now() - t0) / 1000 };
  } finally {
    store.close();
  }
  if (argv.includes('--with-demo')) {
    // The same story from the process-based demo (functions as processes, audit inside each
    // watchdog): the root cause and the planted file must be the same.
    say('running the process-based demo for comparison (npm run demo -- --json)');
    const d = spawnSync(process.execPath, [join(root, 'scripts', 'demo.mjs'), '--json', '--out', join(out, 'demo')], { encoding: 'utf8', maxBuffer: 64 << 20 });
    appendFileSync(runLog, `---- demo\n${d.stderr}`);
    if (d.status !== 0) throw new Failed(`the process-based demo failed: ${d.stderr.trim().split('\n').pop()}`);
    const demo = JSON.parse(d.stdout.trim().split('\n').pop()!) as { rootCause: { function: string }; files: { path: string }[]; tracingView: unknown[] };
    assert(demo.rootCause.function === result!.rootCause.function, `same root-cause function as the process-based demo (${demo.rootCause.function})`);
    assert(demo.files.some((f) => basename(f.path) === basename(result!.file)), `same planted file as the process-based demo (${basename(result!.file)})`);
    assert(demo.tracingView.length >= 2, 'the demo too shows unrelated traces to a tracer');
  }
  writeFileSync(join(out, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
  say(`PASS in ${((Date.now() - t0) / 1000).toFixed(0)} s (result in ${join(out, 'result.json')})`);
}

function podmanOk(args: string[]): boolean {
  return spawnSync('podman', [...PODMAN, ...args]).status === 0;
}

async function waitFor(db: string, sql: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      const d = new Database(db, { readonly: true, fileMustExist: true });
      const n = (d.prepare(sql).get() as { n: number }).n;
      d.close();
      if (n > 0) return true;
    } catch {
      /* not created yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

