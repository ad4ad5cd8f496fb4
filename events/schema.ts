// The wire vocabulary: every event kind that producers (fwatchdog, the audit tailer, the node
// template, OTLP mapping) send and the collector stores. One schema per kind, all sharing Base.
// Extra properties are allowed so a newer producer can add attributes without breaking an older
// collector; the known ones are type-checked.
import { Type, type Static, type TSchema } from '@sinclair/typebox';

export const SCHEMA_VERSION = 1;

const Str = Type.String;
const Int = (o = {}) => Type.Integer(o);
const Hex64 = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Opt = <T extends TSchema>(t: T) => Type.Optional(t);

const Base = {
  v: Type.Literal(SCHEMA_VERSION),
  /** UUIDv7, unique across every producer; the collector stores an id once. */
  id: Str({ minLength: 1, maxLength: 128 }),
  /** Microseconds since the Unix epoch (see events/time.ts). */
  ts: Int({ minimum: 0 }),
  instance: Str({ minLength: 1, maxLength: 256 }),
  function: Str({ minLength: 1, maxLength: 256 }),
  invocation: Opt(Str({ minLength: 1, maxLength: 128 })),
};

export const Evidence = Type.Union([Type.Literal('confirmed'), Type.Literal('claimed')]);

/** How sure the invocation named on an act is (events/attribution.ts). */
const Attribution = {
  attribution: Opt(Type.Union([Type.Literal('exact'), Type.Literal('corroborated'), Type.Literal('claimed'), Type.Literal('guess')])),
  basis: Opt(Str({ maxLength: 32 })),
  /** Other invocations that fit as well: `invocation` is then one guess among them. */
  alsoIn: Opt(Type.Array(Str())),
  /** A claim the watchdog or the kernel contradicts, and why it was not taken. */
  contradiction: Opt(Str()),
};

export const InstanceStart = Type.Object({
  ...Base,
  kind: Type.Literal('instance.start'),
  pid: Int(),
  hostname: Str(),
  mode: Str(),
  fprocess: Opt(Str()),
  containerId: Opt(Str()),
  /** ip:port of this instance's egress proxy: a connect there is the function's call through it, not an outside endpoint. */
  egressProxy: Opt(Str()),
});

export const InstanceStop = Type.Object({
  ...Base,
  kind: Type.Literal('instance.stop'),
  reason: Str(),
});

export const InvocationStart = Type.Object({
  ...Base,
  kind: Type.Literal('invocation.start'),
  invocation: Str({ minLength: 1 }),
  /** Per-instance sequence number: 1 is the cold start. */
  seq: Int({ minimum: 1 }),
  method: Str(),
  path: Str(),
  query: Opt(Str()),
  traceId: Str({ pattern: '^[0-9a-f]{32}$' }),
  spanId: Str({ pattern: '^[0-9a-f]{16}$' }),
  /** Span id from the incoming traceparent, when there was one. */
  parentSpanId: Opt(Str({ pattern: '^[0-9a-f]{16}$' })),
  traceparentIn: Opt(Str()),
  callId: Opt(Str()),
  startTime: Opt(Str()),
  forwardedFor: Opt(Str()),
  remoteAddress: Opt(Str()),
  pid: Opt(Int()),
});

export const InvocationEnd = Type.Object({
  ...Base,
  kind: Type.Literal('invocation.end'),
  invocation: Str({ minLength: 1 }),
  seq: Int({ minimum: 1 }),
  status: Int(),
  reqBytes: Int({ minimum: 0 }),
  resBytes: Int({ minimum: 0 }),
  reqSha256: Hex64,
  resSha256: Hex64,
  durationMs: Type.Number({ minimum: 0 }),
  pid: Opt(Int()),
  error: Opt(Str()),
});

export const HttpOut = Type.Object({
  ...Base,
  kind: Type.Literal('http.out'),
  method: Str(),
  url: Str(),
  host: Str(),
  port: Opt(Int()),
  /** Set when the call went to another function through the gateway (/function/NAME). */
  callee: Opt(Str()),
  status: Opt(Int()),
  reqBytes: Opt(Int({ minimum: 0 })),
  resBytes: Opt(Int({ minimum: 0 })),
  reqSha256: Opt(Hex64),
  resSha256: Opt(Hex64),
  traceId: Opt(Str({ pattern: '^[0-9a-f]{32}$' })),
  /** Span id of the outgoing call: the callee's parentSpanId when the context propagated. */
  spanId: Opt(Str({ pattern: '^[0-9a-f]{16}$' })),
  evidence: Evidence,
  source: Type.Union([Type.Literal('proxy'), Type.Literal('instrumentation'), Type.Literal('otlp')]),
  durationMs: Opt(Type.Number({ minimum: 0 })),
  error: Opt(Str()),
  /** Proxy only: the process that connected to the egress proxy, and its ancestors up to the function's root. */
  pid: Opt(Int()),
  lineage: Opt(Type.Array(Int())),
  /** The invocation the caller's own code named (X-Alastor-Invocation on the proxied request): a claim. */
  claimedInvocation: Opt(Str()),
  /**
   * Proxy only: the span the caller's traceparent named. The proxy stamps the call with a span of
   * its own (spanId, the callee's parent); an instrumented function reports the same call under
   * this one, which is how the two records of one call find each other.
   */
  parentSpanId: Opt(Str({ pattern: '^[0-9a-f]{16}$' })),
  ...Attribution,
});

export const AppModule = Type.Object({
  ...Base,
  kind: Type.Literal('app.module'),
  path: Str(),
  /** True when the module was loaded from outside the function's image (e.g. /tmp). */
  external: Type.Boolean(),
  pid: Opt(Int()),
});

export const AppFile = Type.Object({
  ...Base,
  kind: Type.Literal('app.file'),
  op: Type.Union([Type.Literal('read'), Type.Literal('write'), Type.Literal('create'), Type.Literal('rename'), Type.Literal('unlink')]),
  path: Str(),
  target: Opt(Str()),
  pid: Opt(Int()),
});

export const AppSpawn = Type.Object({
  ...Base,
  kind: Type.Literal('app.spawn'),
  command: Str(),
  argv: Type.Array(Str()),
  pid: Opt(Int()),
  ppid: Opt(Int()),
});

export const AuditPath = Type.Object({
  name: Str(),
  nametype: Str(),
  inode: Opt(Int()),
  mode: Opt(Str()),
});

export const SockAddr = Type.Object({
  family: Str(),
  address: Opt(Str()),
  port: Opt(Int()),
  path: Opt(Str()),
});

export const Syscall = Type.Object({
  ...Base,
  kind: Type.Literal('syscall'),
  serial: Int(),
  syscall: Str(),
  success: Type.Boolean(),
  exit: Int(),
  pid: Int(),
  ppid: Int(),
  uid: Opt(Int()),
  comm: Str(),
  exe: Str(),
  cwd: Opt(Str()),
  argv: Opt(Type.Array(Str())),
  paths: Type.Array(AuditPath),
  sockaddr: Opt(SockAddr),
  /** Set by the node-level agent, from /proc/PID/cgroup. */
  containerId: Opt(Str()),
  /** True when no invocation window contained it: the event belongs to the instance only. */
  outsideInvocation: Opt(Type.Boolean()),
  /** open/openat: whether its flags asked to write (outside the read directories both kinds are audited). */
  write: Opt(Type.Boolean()),
  ...Attribution,
});

/** Counters a producer reports about itself (audit lines skipped, spool drops), so losses are visible. */
export const SourceStats = Type.Object({
  ...Base,
  kind: Type.Literal('source.stats'),
  counters: Type.Record(Str(), Type.Number()),
});

export const Event = Type.Union([
  InstanceStart, InstanceStop, InvocationStart, InvocationEnd, HttpOut,
  AppModule, AppFile, AppSpawn, Syscall, SourceStats,
]);

export const KINDS = [
  'instance.start', 'instance.stop', 'invocation.start', 'invocation.end', 'http.out',
  'app.module', 'app.file', 'app.spawn', 'syscall', 'source.stats',
] as const;
export type Kind = (typeof KINDS)[number];

export const SCHEMAS: Record<Kind, TSchema> = {
  'instance.start': InstanceStart,
  'instance.stop': InstanceStop,
  'invocation.start': InvocationStart,
  'invocation.end': InvocationEnd,
  'http.out': HttpOut,
  'app.module': AppModule,
  'app.file': AppFile,
  'app.spawn': AppSpawn,
  syscall: Syscall,
  'source.stats': SourceStats,
};

/**
 * A batch as shipped: `mac` = HMAC-SHA256(token, batchMacInput(...)) and `prev` is the mac of
 * the source's previous batch (64 zeros for seq 1), so the collector can prove order and
 * completeness per source.
 */
export const Batch = Type.Object({
  v: Type.Literal(SCHEMA_VERSION),
  source: Str({ minLength: 1, maxLength: 256 }),
  seq: Int({ minimum: 1 }),
  prev: Hex64,
  events: Type.Array(Type.Object({}, { additionalProperties: true }), { maxItems: 100000 }),
  mac: Hex64,
});

export type InstanceStartEvent = Static<typeof InstanceStart>;
export type InstanceStopEvent = Static<typeof InstanceStop>;
export type InvocationStartEvent = Static<typeof InvocationStart>;
export type InvocationEndEvent = Static<typeof InvocationEnd>;
export type HttpOutEvent = Static<typeof HttpOut>;
export type AppModuleEvent = Static<typeof AppModule>;
export type AppFileEvent = Static<typeof AppFile>;
export type AppSpawnEvent = Static<typeof AppSpawn>;
export type SyscallEvent = Static<typeof Syscall>;
export type SourceStatsEvent = Static<typeof SourceStats>;
export type AlastorEvent = Static<typeof Event>;
export type BatchMessage = Static<typeof Batch>;
export type AuditPathT = Static<typeof AuditPath>;
export type SockAddrT = Static<typeof SockAddr>;
