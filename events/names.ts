// Header and environment names shared by every producer and the collector. Changing one here
// changes the wire; keep them lower-case for headers (Node lower-cases incoming headers).

export const HEADER = {
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  invocation: 'x-alastor-invocation',
  callId: 'x-call-id',
  startTime: 'x-start-time',
  forwardedFor: 'x-forwarded-for',
  durationSeconds: 'X-Duration-Seconds',
} as const;

export const ENV = {
  collectorUrl: 'ALASTOR_COLLECTOR_URL',
  provenance: 'ALASTOR_PROVENANCE',
  functionName: 'ALASTOR_FUNCTION',
  token: 'ALASTOR_TOKEN',
  tokenFile: 'ALASTOR_TOKEN_FILE',
  gatewayUrl: 'ALASTOR_GATEWAY_URL',
  audit: 'ALASTOR_AUDIT',
  spoolDir: 'ALASTOR_SPOOL_DIR',
  // Given to the function process (fork modes get it per request, http mode per request header).
  invocation: 'ALASTOR_INVOCATION',
  instance: 'ALASTOR_INSTANCE',
  traceparent: 'TRACEPARENT',
  // Where in-function instrumentation (the node template) reports its own claimed events.
  eventsUrl: 'ALASTOR_EVENTS_URL',
  // The fd on which the http upstream's instrumentation writes claims (events/claims.ts).
  claimFd: 'ALASTOR_CLAIM_FD',
  /** off: no egress proxy (calls known only from the function's own reports); for measuring its cost. */
  egress: 'ALASTOR_EGRESS',
  /** off: the node template loads no OpenTelemetry SDK and writes no claims; for measuring their cost. */
  instrumentation: 'ALASTOR_INSTRUMENTATION',
} as const;

/** Path prefix of the collector's ingest API. */
export const API = {
  batches: '/v1/batches',
  otlpTraces: '/v1/traces',
  health: '/healthz',
} as const;

/**
 * How OpenTelemetry spans carry Alastor's identity, so the collector's OTLP mapping and the node
 * template agree. Any OTel-instrumented function contributes; these attributes make it precise.
 * - resource: service.name = function name, alastor.instance = instance id (from ALASTOR_INSTANCE)
 * - every span: alastor.invocation = the invocation id (from the X-Alastor-Invocation header)
 * - CLIENT spans with http.* / url.* attributes become `http.out` events (evidence: claimed)
 * - spans named `alastor.app` carry alastor.kind = app.module | app.file | app.spawn and the
 *   fields below; they become the matching application event.
 */
export const OTEL_ATTR = {
  instance: 'alastor.instance',
  invocation: 'alastor.invocation',
  appSpanName: 'alastor.app',
  kind: 'alastor.kind',
  path: 'alastor.path',
  external: 'alastor.external',
  op: 'alastor.op',
  target: 'alastor.target',
  command: 'alastor.command',
  argv: 'alastor.argv',
  pid: 'alastor.pid',
} as const;
