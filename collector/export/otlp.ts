// OTLP/JSON traces (the OpenTelemetry protocol's JSON encoding: hex ids, times as nanosecond
// strings) of the tracing view: invocations as SERVER spans, outgoing calls as CLIENT spans.
// Loading the file into a tracer shows exactly what a trace-only tool knows.
import type { Graph, GraphNode } from '../graph/model';

type AnyValue = { stringValue: string } | { intValue: string } | { boolValue: boolean } | { doubleValue: number };
interface KeyValue { key: string; value: AnyValue }
interface Span {
  traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number;
  startTimeUnixNano: string; endTimeUnixNano: string; attributes: KeyValue[]; status: { code: number; message?: string };
}
export interface OtlpTraces {
  resourceSpans: { resource: { attributes: KeyValue[] }; scopeSpans: { scope: { name: string; version: string }; spans: Span[] }[] }[];
}

const SERVER = 2, CLIENT = 3;

function kv(key: string, v: unknown): KeyValue | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return { key, value: { stringValue: v } };
  if (typeof v === 'boolean') return { key, value: { boolValue: v } };
  if (typeof v === 'number') return Number.isInteger(v) ? { key, value: { intValue: String(v) } } : { key, value: { doubleValue: v } };
  return undefined;
}

const ns = (us: number) => `${Math.round(us)}000`;

function status(code: unknown): { code: number; message?: string } {
  if (typeof code !== 'number') return { code: 0 };
  return code >= 500 ? { code: 2, message: `HTTP ${code}` } : { code: 0 };
}

export function toOtlp(view: Graph): OtlpTraces {
  const byFn = new Map<string, Span[]>();
  const add = (fn: string, s: Span) => {
    let a = byFn.get(fn);
    if (!a) byFn.set(fn, (a = []));
    a.push(s);
  };
  const invById = new Map(view.nodes.filter((n) => n.kind === 'invocation').map((n) => [n.id, n]));
  const senderOf = new Map<string, GraphNode>();
  for (const e of view.edges) if (e.relation === 'wasGeneratedBy' && invById.has(e.to) && e.attributes?.role !== 'response') senderOf.set(e.from, invById.get(e.to)!);
  const clientSpans = new Set<string>();
  for (const n of view.nodes) {
    const a = n.attributes;
    if (n.kind === 'invocation' && typeof a.traceId === 'string' && typeof a.spanId === 'string') {
      const start = Number(a.startedAt ?? n.time ?? 0);
      const end = typeof a.durationMs === 'number' ? start + a.durationMs * 1000 : Number(a.endedAt ?? start);
      add(String(a.function), {
        traceId: a.traceId, spanId: a.spanId, parentSpanId: typeof a.parentSpanId === 'string' ? a.parentSpanId : undefined,
        name: `${a.method ?? 'POST'} ${a.path ?? '/'}`, kind: SERVER, startTimeUnixNano: ns(start), endTimeUnixNano: ns(end),
        attributes: [kv('http.request.method', a.method), kv('url.path', a.path), kv('http.response.status_code', a.status),
          kv('alastor.invocation', n.id.slice(4)), kv('alastor.instance', a.instance), kv('faas.invocation_id', a.callId)].filter((x): x is KeyValue => !!x),
        status: status(a.status),
      });
    }
    if (n.kind === 'message' && typeof a.spanId === 'string' && typeof a.traceId === 'string') {
      const sender = senderOf.get(n.id);
      if (clientSpans.has(a.spanId)) continue;
      clientSpans.add(a.spanId);
      const start = Number(n.time ?? 0);
      add(String(sender?.attributes.function ?? 'unknown'), {
        traceId: a.traceId, spanId: a.spanId, parentSpanId: typeof sender?.attributes.spanId === 'string' ? sender.attributes.spanId : undefined,
        name: `${a.method ?? 'GET'} ${a.callee ? `/function/${a.callee}` : a.host ?? ''}`, kind: CLIENT,
        startTimeUnixNano: ns(start), endTimeUnixNano: ns(start + Number(a.durationMs ?? 0) * 1000),
        attributes: [kv('http.request.method', a.method), kv('url.full', a.url), kv('server.address', a.host), kv('server.port', a.port),
          kv('http.response.status_code', a.status), kv('faas.invoked_name', a.callee)].filter((x): x is KeyValue => !!x),
        status: status(a.status),
      });
    }
  }
  return {
    resourceSpans: [...byFn].map(([fn, spans]) => ({
      resource: { attributes: [{ key: 'service.name', value: { stringValue: fn } }] },
      scopeSpans: [{ scope: { name: 'alastor', version: '0.1.0' }, spans }],
    })),
  };
}
