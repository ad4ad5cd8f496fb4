// Entry point of the provenance layer: on when ALASTOR_COLLECTOR_URL is set (ALASTOR_PROVENANCE=off
// turns it off). It gives each request its identity (invocation.ts), runs the egress proxy
// (egress.ts), optionally the audit tailer, and ships every event through the shipper, which
// never sits on the request's path.
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { API, ENV, OPENFAAS_TOKEN_FILE, SCHEMA_VERSION, newInstanceId, nowUs, otlpKey, readToken, uuidv7, type AlastorEvent } from '../../events';
import { noopObserver, type InvocationScope, type Observer, type RequestInfo } from '../observer';
import { startAuditTailer, type AuditTailer } from '../audit/index';
import { Shipper } from '../ship/shipper';
import { startEgressProxy } from './egress';
import { functionName } from './identity';
import { Inflight } from './inflight';
import { ClaimLog } from './claims';
import type { OwnerContext } from './call-owner';
import { Invocation } from './invocation';

export interface ProvenanceOptions {
  env: NodeJS.ProcessEnv;
  mode: string;
  fprocess: string;
  maxInflight: number;
  log: (line: string) => void;
}

const FORK_MODES = new Set(['streaming', 'serializing']);

/** Resolves before the function process is started, since processEnv must be known by then. */
export async function createObserver(opts: ProvenanceOptions): Promise<Observer> {
  const { env, log } = opts;
  // The chain key is the watchdog's alone: nothing started from here on (the function, the audit
  // tailer) inherits it, with provenance on or off (events/token.ts says why).
  const direct = env[ENV.token];
  delete env[ENV.token];
  const collectorUrl = env[ENV.collectorUrl]?.trim();
  const setting = (env[ENV.provenance] ?? '').trim().toLowerCase();
  if (setting === 'off' || setting === 'false' || setting === '0') return noopObserver;
  if (!collectorUrl) {
    if (setting === 'on') log(`provenance: off: ${ENV.collectorUrl} is not set`);
    return noopObserver;
  }
  let collector: URL;
  try {
    collector = new URL(collectorUrl);
  } catch {
    throw new Error(`${ENV.collectorUrl}: not a URL: "${collectorUrl}"`);
  }

  const host = hostname();
  const fn = functionName(env, host);
  const instance = newInstanceId(host);
  const token = direct ?? readToken(env, OPENFAAS_TOKEN_FILE);
  const spoolDir = env[ENV.spoolDir]?.trim() || join(tmpdir(), 'alastor-spool', fn);
  const shipper = new Shipper({ collectorUrl: collector.toString(), token, source: instance, spoolDir, log });
  const emit = (ev: object) => shipper.push(ev);
  if (!token) log(`provenance: no ${ENV.token}: batches are chained with an empty key (the collector must also run without a token)`);

  const inflight = new Inflight();
  let audit: AuditTailer | undefined;
  let defaultPid: number | undefined;
  // Claims of the http upstream's instrumentation: to the audit tailer, which checks them against
  // the kernel, and spawn claims kept for the proxy.
  const claimLog = new ClaimLog((c) => audit?.claim(c));
  const owners: OwnerContext = {
    inflight,
    get upstreamPid() {
      return defaultPid;
    },
    bornIn: (pid) => audit?.bornIn(pid),
    spawnOf: (pid) => claimLog.spawnOf(pid),
  };
  const gatewayUrl = env[ENV.gatewayUrl]?.trim() || undefined;
  // ALASTOR_EGRESS=off leaves the function's calls unproxied: they are then known only as the
  // function reports them (claims), and caller links are at best claimed. For measuring what the
  // proxy costs (scripts/bench-workflow.mjs), and for operators who accept that.
  const egressOff = (env[ENV.egress] ?? '').trim().toLowerCase() === 'off';
  const egress = egressOff ? undefined : await startEgressProxy({
    instance, function: fn, owners, birthsExpected: () => audit !== undefined, emit, gatewayUrl, collectorHostPort: collector.host, log,
  });

  if ((env[ENV.audit] ?? '').trim().toLowerCase() === 'on') {
    try {
      audit = await startAuditTailer({ rootPid: process.pid, instance, function: fn, emit: (ev: AlastorEvent) => shipper.push(ev), log });
    } catch (e) {
      log(`audit: off: ${(e as Error).message}`);
    }
  }

  // Audit windows open when the request begins. Fork modes learn the pid only when the process
  // is spawned (setPid -> invocationPid); http mode serves every request from the upstream whose
  // pid is known up front.
  const forkMode = FORK_MODES.has(opts.mode);
  const auditCall = (what: string, f: (a: AuditTailer) => void) => {
    if (!audit) return;
    try {
      f(audit);
    } catch (e) {
      log(`audit: ${what} failed: ${(e as Error).message}`);
    }
  };

  let seq = 0;
  const inst = {
    instance,
    function: fn,
    emitText: (text: string) => shipper.pushText(text),
    get defaultPid() {
      return defaultPid;
    },
    onPid: (inv: Invocation) => auditCall('invocationPid', (a) => a.invocationPid?.({ invocation: inv.id, pid: inv.pid! })),
    onEnd: (inv: Invocation) => {
      inflight.remove(inv);
      auditCall('invocationEnd', (a) => a.invocationEnd({ invocation: inv.id, tsUs: nowUs() }));
    },
  };

  const collectorOrigin = `${collector.protocol}//${collector.host}`;
  const processEnv: Record<string, string> = {
    [ENV.instance]: instance,
    [ENV.functionName]: fn,
    ...(egress ? {
      HTTP_PROXY: egress.url,
      http_proxy: egress.url,
      HTTPS_PROXY: egress.url,
      https_proxy: egress.url,
      // host:port so the function's own telemetry skips the proxy but other loopback calls do not.
      NO_PROXY: collector.host,
      no_proxy: collector.host,
      ALASTOR_EGRESS_URL: egress.url,
    } : {}),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: new URL(API.otlpTraces, collector).toString(),
    OTEL_SERVICE_NAME: fn,
    OTEL_RESOURCE_ATTRIBUTES: `alastor.instance=${encodeURIComponent(instance)}`,
  };
  // The function calls other functions through the proxy, which forwards to the real gateway.
  if (gatewayUrl && egress) processEnv[ENV.gatewayUrl] = egress.url;
  if (token) processEnv.OTEL_EXPORTER_OTLP_HEADERS = `Authorization=${encodeURIComponent(`Bearer ${otlpKey(token)}`)}`;

  const via = egress ? `egress proxy ${egress.url}${gatewayUrl ? ` -> gateway ${gatewayUrl}` : ''}` : `egress proxy off (${ENV.egress}=off): outgoing calls are known only as the function reports them`;
  log(`provenance: on: function ${fn}, instance ${instance}, collector ${collectorOrigin}, ${via}`);

  let closed = false;
  return {
    enabled: true,
    processEnv,
    instanceStart(info) {
      defaultPid = forkMode ? undefined : info.upstreamPid;
      emit({
        v: SCHEMA_VERSION,
        id: uuidv7(),
        ts: nowUs(),
        instance,
        function: fn,
        kind: 'instance.start',
        pid: info.upstreamPid ?? process.pid,
        hostname: host,
        mode: info.mode,
        fprocess: info.fprocess || undefined,
        egressProxy: egress ? `127.0.0.1:${egress.port}` : undefined,
      });
    },
    claims: forkMode ? undefined : (stream) => claimLog.read(stream),
    begin(req: RequestInfo): InvocationScope {
      const inv = new Invocation(++seq, req, inst);
      inflight.add(inv);
      auditCall('invocationStart', (a) => a.invocationStart({ invocation: inv.id, tsUs: inv.startUs, pid: inv.pid }));
      return inv;
    },
    async close(reason: string) {
      if (closed) return;
      closed = true;
      if (audit) await audit.stop().catch((e: Error) => log(`audit: stop failed: ${e.message}`));
      // Every producer stops before the count, so source.stats and instance.stop end the chain and
      // the collector can check it holds all the events counted (collector/query/closure.ts).
      await egress?.close();
      const s = shipper.snapshot();
      emit({
        v: SCHEMA_VERSION, id: uuidv7(), ts: nowUs(), instance, function: fn, kind: 'source.stats',
        counters: { invocations: seq, events: s.pushed + 1, spooledBatches: s.spooledBatches, droppedBatches: s.droppedBatches, droppedEvents: s.droppedEvents },
      });
      emit({ v: SCHEMA_VERSION, id: uuidv7(), ts: nowUs(), instance, function: fn, kind: 'instance.stop', reason });
      await shipper.close();
    },
  };
}
