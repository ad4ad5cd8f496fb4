// W3C Trace Context in and out, through OpenTelemetry's propagator (no hand parsing), and cheap
// random ids for new traces and spans.
import { ROOT_CONTEXT, defaultTextMapGetter, defaultTextMapSetter, isSpanContextValid, trace, type SpanContext } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { randomHex } from '../../events';
import type { IncomingHttpHeaders } from 'node:http';

const propagator = new W3CTraceContextPropagator();

/** The caller's span context from `traceparent`/`tracestate`, when valid. */
export function extractContext(headers: IncomingHttpHeaders): SpanContext | undefined {
  if (headers.traceparent === undefined) return undefined;
  const sc = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter));
  return sc && isSpanContextValid(sc) ? sc : undefined;
}

/** traceparent (and tracestate when there is one) naming `spanId` as the parent. */
export function contextHeaders(traceId: string, spanId: string, traceFlags: number, traceState?: SpanContext['traceState']): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagator.inject(trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags, traceState }), carrier, defaultTextMapSetter);
  return carrier;
}

const ZERO_SPAN = '0'.repeat(16);
const ZERO_TRACE = '0'.repeat(32);
export function newSpanId(): string {
  const s = randomHex(8);
  return s === ZERO_SPAN ? newSpanId() : s;
}
export function newTraceId(): string {
  const s = randomHex(16);
  return s === ZERO_TRACE ? newTraceId() : s;
}
