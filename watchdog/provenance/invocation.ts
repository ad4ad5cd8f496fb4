// One request's provenance: its identity (invocation id, per-instance sequence, span in the
// caller's trace), the context handed to the function, digests of both bodies computed as the
// bytes stream through, and the invocation.start / invocation.end events.
import { createHash, type Hash } from 'node:crypto';
import type { SpanContext } from '@opentelemetry/api';
import { HEADER, ENV, SCHEMA_VERSION, nowUs, uuidv7 } from '../../events';
import type { InvocationScope, RequestInfo } from '../observer';
import { contextHeaders, extractContext, newSpanId, newTraceId } from './trace';

export interface InstanceInfo {
  instance: string;
  function: string;
  emit(ev: object): void;
  /** Default pid for requests (the http upstream); fork modes report theirs with setPid. */
  defaultPid?: number;
  onEnd(inv: Invocation): void;
  onPid?(inv: Invocation): void;
}

const EMPTY_SHA256 = createHash('sha256').digest('hex');

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export class Invocation implements InvocationScope {
  readonly id: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
  readonly upstreamHeaders: Record<string, string>;
  readonly env: Record<string, string>;
  readonly responseHeaders: Record<string, string>;
  readonly startUs: number;
  pid: number | undefined;
  private readonly t0 = performance.now();
  private reqHash: Hash | null = null;
  private resHash: Hash | null = null;
  private reqBytes = 0;
  private resBytes = 0;
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
    this.upstreamHeaders = { ...ctx, [HEADER.invocation]: this.id };
    this.env = {
      [ENV.invocation]: this.id,
      [ENV.traceparent]: ctx.traceparent,
      Http_X_Alastor_Invocation: this.id,
      Http_Traceparent: ctx.traceparent,
    };
    if (ctx.tracestate) this.env.Http_Tracestate = ctx.tracestate;
    this.responseHeaders = { 'X-Alastor-Invocation': this.id };

    const q = req.url.indexOf('?');
    const h = req.headers;
    inst.emit({
      v: SCHEMA_VERSION,
      id: `${this.id}.start`,
      ts: this.startUs,
      instance: inst.instance,
      function: inst.function,
      invocation: this.id,
      kind: 'invocation.start',
      seq,
      method: req.method,
      path: q < 0 ? req.url : req.url.slice(0, q),
      query: q < 0 ? undefined : req.url.slice(q + 1),
      traceId: this.traceId,
      spanId: this.spanId,
      parentSpanId: parent?.spanId,
      traceparentIn: first(h.traceparent),
      callId: first(h[HEADER.callId]),
      startTime: first(h[HEADER.startTime]),
      forwardedFor: first(h[HEADER.forwardedFor]),
      remoteAddress: req.remoteAddress,
      pid: this.pid,
    });
  }

  requestChunk(chunk: Uint8Array): void {
    (this.reqHash ??= createHash('sha256')).update(chunk);
    this.reqBytes += chunk.length;
  }

  responseChunk(chunk: Uint8Array): void {
    (this.resHash ??= createHash('sha256')).update(chunk);
    this.resBytes += chunk.length;
  }

  setPid(pid: number): void {
    this.pid = pid;
    this.inst.onPid?.(this);
  }

  end(result: { status: number; error?: string }): void {
    if (this.ended) return;
    this.ended = true;
    const inst = this.inst;
    inst.emit({
      v: SCHEMA_VERSION,
      id: `${this.id}.end`,
      ts: nowUs(),
      instance: inst.instance,
      function: inst.function,
      invocation: this.id,
      kind: 'invocation.end',
      seq: this.seq,
      status: result.status,
      reqBytes: this.reqBytes,
      resBytes: this.resBytes,
      reqSha256: this.reqHash ? this.reqHash.digest('hex') : EMPTY_SHA256,
      resSha256: this.resHash ? this.resHash.digest('hex') : EMPTY_SHA256,
      durationMs: Math.round((performance.now() - this.t0) * 1000) / 1000,
      pid: this.pid,
      error: result.error,
    });
    inst.onEnd(this);
  }
}
