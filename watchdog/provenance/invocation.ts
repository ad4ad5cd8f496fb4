// One request's provenance: its identity (invocation id, per-instance sequence, span in the
// caller's trace), the context handed to the function, digests of both bodies computed as the
// bytes stream through, and the invocation.start / invocation.end events.
//
// This runs on every request, so it is written for the request path: events are JSON text built
// directly (no object then JSON.stringify), the fork-mode environment is built only when asked
// for, and digests of small bodies avoid a native Hash object per request.
import type { SpanContext } from '@opentelemetry/api';
import { HEADER, ENV, SCHEMA_VERSION, StreamDigest, EMPTY_SHA256, nowUs, uuidv7 } from '../../events';
import type { InvocationScope, RequestInfo } from '../observer';
import { contextHeaders, extractContext, newSpanId, newTraceId } from './trace';

export interface InstanceInfo {
  instance: string;
  function: string;
  /** Queues one event's JSON text. */
  emitText(text: string): void;
  /** Default pid for requests (the http upstream); fork modes report theirs with setPid. */
  defaultPid?: number;
  onEnd(inv: Invocation): void;
  onPid?(inv: Invocation): void;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** `,"name":value` for a string that came from the request (escaped), or nothing when absent. */
function strField(name: string, v: string | undefined): string {
  return v === undefined ? '' : `,"${name}":${JSON.stringify(v)}`;
}

function intField(name: string, v: number | undefined): string {
  return v === undefined ? '' : `,"${name}":${v}`;
}

/** The fields every event of an instance shares, escaped once per instance. */
const prefixes = new WeakMap<InstanceInfo, string>();
function instancePrefix(inst: InstanceInfo): string {
  let p = prefixes.get(inst);
  if (p === undefined) {
    p = `"instance":${JSON.stringify(inst.instance)},"function":${JSON.stringify(inst.function)}`;
    prefixes.set(inst, p);
  }
  return p;
}

export class Invocation implements InvocationScope {
  readonly id: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
  readonly startUs: number;
  pid: number | undefined;
  /** Set when the request's own process was forked for it (fork modes). */
  forked = false;
  endUs: number | undefined;
  private readonly t0 = performance.now();
  private readonly traceparent: string;
  private readonly tracestate: string | undefined;
  private reqDigest: StreamDigest | null = null;
  private resDigest: StreamDigest | null = null;
  private ended = false;

  constructor(readonly seq: number, req: RequestInfo, private readonly inst: InstanceInfo) {
    this.id = uuidv7();
    this.startUs = nowUs();
    this.pid = inst.defaultPid;
    const parent: SpanContext | undefined = extractContext(req.headers);
    this.traceId = parent?.traceId ?? newTraceId();
    this.spanId = newSpanId();
    this.traceFlags = parent?.traceFlags ?? 1;
    const ctx = contextHeaders(this.traceId, this.spanId, this.traceFlags, parent?.traceState);
    this.traceparent = ctx.traceparent;
    this.tracestate = ctx.tracestate;

    const url = req.url;
    const q = url.indexOf('?');
    const h = req.headers;
    inst.emitText(
      `{"v":${SCHEMA_VERSION},"id":"${this.id}.start","ts":${this.startUs},${instancePrefix(inst)},"invocation":"${this.id}","kind":"invocation.start","seq":${seq}` +
        strField('method', req.method) +
        strField('path', q < 0 ? url : url.slice(0, q)) +
        strField('query', q < 0 ? undefined : url.slice(q + 1)) +
        `,"traceId":"${this.traceId}","spanId":"${this.spanId}"` +
        (parent ? `,"parentSpanId":"${parent.spanId}"` : '') +
        strField('traceparentIn', first(h.traceparent)) +
        strField('callId', first(h[HEADER.callId])) +
        strField('startTime', first(h[HEADER.startTime])) +
        strField('forwardedFor', first(h[HEADER.forwardedFor])) +
        strField('remoteAddress', req.remoteAddress) +
        intField('pid', this.pid) +
        '}',
    );
  }

  // Headers and environment are built when a mode asks, not kept: ended invocations stay
  // referenced for a while (inflight.ts), and whatever they hold survives into the old space.
  get upstreamHeaders(): Record<string, string> {
    const h: Record<string, string> = { traceparent: this.traceparent };
    if (this.tracestate) h.tracestate = this.tracestate;
    h[HEADER.invocation] = this.id;
    return h;
  }

  get responseHeaders(): Record<string, string> {
    return { 'X-Alastor-Invocation': this.id };
  }

  /** Extra environment for a forked process: built only in the fork modes that ask for it. */
  get env(): Record<string, string> {
    const env: Record<string, string> = {
      [ENV.invocation]: this.id,
      [ENV.traceparent]: this.traceparent,
      Http_X_Alastor_Invocation: this.id,
      Http_Traceparent: this.traceparent,
    };
    if (this.tracestate) env.Http_Tracestate = this.tracestate;
    return env;
  }

  requestChunk(chunk: Uint8Array): void {
    (this.reqDigest ??= new StreamDigest()).update(chunk);
  }

  responseChunk(chunk: Uint8Array): void {
    (this.resDigest ??= new StreamDigest()).update(chunk);
  }

  setPid(pid: number): void {
    this.pid = pid;
    // http mode reports the upstream it shares with every other request: that is no fork.
    this.forked = pid !== this.inst.defaultPid;
    this.inst.onPid?.(this);
  }

  end(result: { status: number; error?: string }): void {
    if (this.ended) return;
    this.ended = true;
    const inst = this.inst;
    const req = this.reqDigest;
    const res = this.resDigest;
    const durationMs = Math.round((performance.now() - this.t0) * 1000) / 1000;
    this.endUs = nowUs();
    inst.emitText(
      `{"v":${SCHEMA_VERSION},"id":"${this.id}.end","ts":${this.endUs},${instancePrefix(inst)},"invocation":"${this.id}","kind":"invocation.end","seq":${this.seq}` +
        `,"status":${result.status},"reqBytes":${req ? req.bytes : 0},"resBytes":${res ? res.bytes : 0}` +
        `,"reqSha256":"${req ? req.hex() : EMPTY_SHA256}","resSha256":"${res ? res.hex() : EMPTY_SHA256}","durationMs":${durationMs}` +
        intField('pid', this.pid) +
        strField('error', result.error) +
        '}',
    );
    this.reqDigest = this.resDigest = null;
    inst.onEnd(this);
  }
}
