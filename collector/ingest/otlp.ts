// OTLP/HTTP JSON traces -> application events, so any OpenTelemetry-instrumented function
// contributes. The convention (events/names.ts OTEL_ATTR): CLIENT spans with HTTP attributes
// become `http.out` (claimed: only the function says so), spans named `alastor.app` become
// app.module / app.file / app.spawn. Other spans carry nothing the graph uses and are skipped.
// Event ids derive from trace and span id, so a retried export is stored once.
import { OTEL_ATTR, SCHEMA_VERSION, validateEvent, type AlastorEvent } from '../../events';

type AnyValue = {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
};
type KeyValue = { key: string; value?: AnyValue };
interface OtlpSpan {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  name?: string;
  kind?: number | string;
  startTimeUnixNano?: string | number;
  endTimeUnixNano?: string | number;
  attributes?: KeyValue[];
  status?: { code?: number | string; message?: string };
}
interface OtlpRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: Array<{ spans?: OtlpSpan[] }>;
  }>;
}

export interface MappedEvent {
  event: AlastorEvent;
  text: string;
}

export interface OtlpMapping {
  events: MappedEvent[];
  spans: number;
  rejected: number;
  firstError?: string;
}

function plain(v: AnyValue | undefined): unknown {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(plain);
  return undefined;
}

function attrs(list: KeyValue[] | undefined): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (const kv of list ?? []) if (kv && typeof kv.key === 'string') m.set(kv.key, plain(kv.value));
  return m;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' ? String(v) : undefined);
const int = (v: unknown): number | undefined => {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) ? n : undefined;
};

function nanosToUs(v: string | number | undefined): number | undefined {
  if (v === undefined) return undefined;
  try {
    return Number(BigInt(v) / 1000n);
  } catch {
    return undefined;
  }
}

const isClient = (k: number | string | undefined) => k === 3 || k === 'SPAN_KIND_CLIENT';
const isError = (c: number | string | undefined) => c === 2 || c === 'STATUS_CODE_ERROR';

/** Drops undefined fields so the stored JSON text has only what is known. */
function compact<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

export function mapOtlpTraces(body: unknown): OtlpMapping {
  const out: OtlpMapping = { events: [], spans: 0, rejected: 0 };
  if (typeof body !== 'object' || body === null || !Array.isArray((body as OtlpRequest).resourceSpans)) {
    out.firstError = 'resourceSpans: missing (expected an OTLP/HTTP JSON ExportTraceServiceRequest)';
    return out;
  }
  for (const rs of (body as OtlpRequest).resourceSpans!) {
    const res = attrs(rs?.resource?.attributes);
    const fn = str(res.get('service.name')) ?? 'unknown';
    for (const ss of rs?.scopeSpans ?? []) {
      for (const span of ss?.spans ?? []) {
        out.spans++;
        const ev = mapSpan(span, res, fn);
        if (!ev) continue;
        const v = validateEvent(ev, `span ${span.spanId ?? '?'}`);
        if (!v.ok) {
          out.rejected++;
          out.firstError ??= v.error;
          continue;
        }
        out.events.push({ event: v.value, text: JSON.stringify(v.value) });
      }
    }
  }
  return out;
}

function mapSpan(span: OtlpSpan, res: Map<string, unknown>, fn: string): Record<string, unknown> | undefined {
  const a = attrs(span.attributes);
  const start = nanosToUs(span.startTimeUnixNano);
  const end = nanosToUs(span.endTimeUnixNano);
  const instance = str(a.get(OTEL_ATTR.instance)) ?? str(res.get(OTEL_ATTR.instance)) ?? str(res.get('service.instance.id')) ?? `${fn}:otlp`;
  const base = {
    v: SCHEMA_VERSION,
    id: `otlp-${span.traceId ?? ''}-${span.spanId ?? ''}`,
    ts: start ?? 0,
    instance,
    function: fn,
    invocation: str(a.get(OTEL_ATTR.invocation)) ?? str(res.get(OTEL_ATTR.invocation)),
  };
  const pid = int(a.get(OTEL_ATTR.pid)) ?? int(res.get('process.pid'));
  if (span.name === OTEL_ATTR.appSpanName) {
    const kind = str(a.get(OTEL_ATTR.kind));
    if (kind === 'app.module') {
      return compact({ ...base, kind, path: str(a.get(OTEL_ATTR.path)), external: a.get(OTEL_ATTR.external) === true || a.get(OTEL_ATTR.external) === 'true', pid });
    }
    if (kind === 'app.file') {
      return compact({ ...base, kind, op: str(a.get(OTEL_ATTR.op)), path: str(a.get(OTEL_ATTR.path)), target: str(a.get(OTEL_ATTR.target)), pid });
    }
    if (kind === 'app.spawn') {
      let argv = a.get(OTEL_ATTR.argv);
      if (typeof argv === 'string') {
        try {
          argv = JSON.parse(argv);
        } catch {
          argv = [argv];
        }
      }
      return compact({ ...base, kind, command: str(a.get(OTEL_ATTR.command)), argv: Array.isArray(argv) ? argv.map(String) : [], pid, ppid: int(res.get('process.pid')) });
    }
    return { ...base, kind: kind ?? '(missing alastor.kind)' };
  }
  if (!isClient(span.kind)) return undefined;
  const spanUrl = str(a.get('url.full')) ?? str(a.get('http.url'));
  const method = str(a.get('http.request.method')) ?? str(a.get('http.method'));
  if (!spanUrl && !method) return undefined; // a CLIENT span that is not HTTP (db, rpc)
  // A request sent to an HTTP proxy (axios and others honouring HTTP_PROXY) carries the absolute
  // URL as its path, and instrumentation-http glues it to the proxy's address
  // ("http://127.0.0.1:42559http://target/path"), with the proxy as server.address/port. The call
  // is to the target, as the egress proxy's record of it says.
  const viaProxy = spanUrl ? /^https?:\/\/[^/]+?(https?:\/\/.+)$/i.exec(spanUrl)?.[1] : undefined;
  const urlText = viaProxy ?? spanUrl;
  let u: URL | undefined;
  try {
    u = urlText ? new URL(urlText) : undefined;
  } catch {
    u = undefined;
  }
  const target = viaProxy && u ? { host: u.hostname, port: u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80 } : undefined;
  const host = target?.host ?? str(a.get('server.address')) ?? str(a.get('net.peer.name')) ?? u?.hostname ?? '';
  const port = target?.port ?? int(a.get('server.port')) ?? int(a.get('net.peer.port')) ?? (u?.port ? Number(u.port) : undefined);
  const callee = /^\/function\/([^/?#]+)/.exec(u?.pathname ?? '')?.[1];
  return compact({
    ...base,
    kind: 'http.out',
    method: method ?? 'GET',
    url: urlText ?? `${host}${port ? `:${port}` : ''}`,
    host,
    port,
    callee,
    status: int(a.get('http.response.status_code')) ?? int(a.get('http.status_code')),
    traceId: span.traceId,
    spanId: span.spanId,
    evidence: 'claimed',
    source: 'instrumentation',
    durationMs: start !== undefined && end !== undefined && end >= start ? (end - start) / 1000 : undefined,
    error: isError(span.status?.code) ? span.status?.message || 'error' : undefined,
    // The process that made the call: the kernel's connect by that pid can corroborate the claim.
    pid,
  });
}
