// Application layer: instances, invocations, outgoing HTTP calls, and the caller link between
// invocations of different functions.
//
// A callee names its caller only through the traceparent it received (parentSpanId). That header
// is written by the caller's code, so it is a claim. It is checked against the outgoing calls the
// recorders saw with that span id: the caller's egress proxy (source "proxy", the watchdog's own
// observation) makes the link confirmed; in-function instrumentation alone makes it claimed; and a
// contradiction (no call recorded for a span that belongs to another invocation, recorders that
// disagree on the caller, or a call recorded to a different function) makes it flagged.
// Calls and callees arrive in any order (the caller reports its call when it completes), so the
// link is recomputed from everything seen so far whenever either side arrives.
import type { HttpOutEvent, InstanceStartEvent, InstanceStopEvent, InvocationEndEvent, InvocationStartEvent } from '../../events/schema';
import type { Context } from './context';
import { endpointName, nodeId, type Trust } from './model';
import { alternatives, levelAttrs } from './system';
import { onProxyMessage } from './proxy-join';
import { claimEdges, messageKey, onProxyRecord } from './call-claims';
import { endOf } from '../query/corroborate';

export function onInstanceStart(c: Context, e: InstanceStartEvent): void {
  const nid = c.instanceNode(e.instance, e.function, e.ts);
  c.w.mergeAttrs(nid, { hostname: e.hostname, mode: e.mode, fprocess: e.fprocess, watchdogPid: e.pid, containerId: e.containerId, egressProxy: e.egressProxy, startedAt: e.ts });
}

export function onInstanceStop(c: Context, e: InstanceStopEvent): void {
  const nid = c.instanceNode(e.instance, e.function, e.ts);
  c.w.mergeAttrs(nid, { stoppedAt: e.ts, stopReason: e.reason });
}

export function onInvocationStart(c: Context, e: InvocationStartEvent): void {
  const inst = c.instanceNode(e.instance, e.function, e.ts);
  const inv = c.invocationNode(e.invocation, e.function, e.instance, e.ts);
  c.w.relabel(inv, `${e.function} #${e.seq} ${e.method} ${e.path}`);
  c.w.mergeAttrs(inv, {
    function: e.function, instance: e.instance, seq: e.seq, method: e.method, path: e.path, query: e.query,
    traceId: e.traceId, spanId: e.spanId, parentSpanId: e.parentSpanId, callId: e.callId,
    forwardedFor: e.forwardedFor, remoteAddress: e.remoteAddress, startedAt: e.ts, pid: e.pid,
  });
  c.sql(`UPDATE graph_nodes SET time = ? WHERE nid = ?`).run(e.ts, inv);
  c.w.edge({ src: inv, dst: inst, relation: 'wasAssociatedWith', time: e.ts, evidence: 'watchdog' });
  const wf = c.w.node({ id: nodeId.workflow(e.traceId), kind: 'workflow', label: `trace ${e.traceId.slice(0, 8)}`, time: e.ts, attrs: { traceId: e.traceId } });
  c.w.edge({ src: inv, dst: wf, relation: 'wasInfluencedBy', time: e.ts, evidence: 'watchdog', attrs: { role: 'member' } });
  const req = c.w.node({
    id: nodeId.request(e.invocation), kind: 'request', label: `${e.method} ${e.path} -> ${e.function}`, time: e.ts, instance: e.instance, invocation: e.invocation,
    attrs: { method: e.method, path: e.path, function: e.function, callId: e.callId, forwardedFor: e.forwardedFor, traceparent: e.traceparentIn },
  });
  c.w.edge({ src: inv, dst: req, relation: 'used', time: e.ts, evidence: 'watchdog' });
  c.sql(`INSERT INTO graph_invocations (invocation, function, instance, trace_id, span_id, parent_span_id, start_ts)
                VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(invocation) DO UPDATE SET function = excluded.function, instance = excluded.instance, trace_id = excluded.trace_id,
           span_id = excluded.span_id, parent_span_id = excluded.parent_span_id, start_ts = excluded.start_ts`).run(e.invocation, e.function, e.instance, e.traceId, e.spanId, e.parentSpanId ?? null, e.ts);
  resolveCaller(c, e.invocation);
  // Unresolved parents in this workflow are judged against the invocations it has.
  for (const r of c.sql<[string, string], { invocation: string }>(
    `SELECT i.invocation FROM graph_invocations i WHERE i.trace_id = ? AND i.invocation != ? AND i.parent_span_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM graph_calls k WHERE k.span_id = i.parent_span_id)`).all(e.traceId, e.invocation)) {
    resolveCaller(c, r.invocation);
  }
  // A forged header may name this invocation's own span: re-check whoever claimed it.
  for (const r of c.sql<[string], { invocation: string }>(`SELECT invocation FROM graph_invocations WHERE parent_span_id = ?`).all(e.spanId)) {
    if (r.invocation !== e.invocation) resolveCaller(c, r.invocation);
  }
}

export function onInvocationEnd(c: Context, e: InvocationEndEvent): void {
  const inv = c.invocationNode(e.invocation, e.function, e.instance, e.ts);
  c.w.mergeAttrs(inv, { status: e.status, endedAt: e.ts, durationMs: e.durationMs, reqBytes: e.reqBytes, resBytes: e.resBytes, reqSha256: e.reqSha256, resSha256: e.resSha256, error: e.error });
}

export function onHttpOut(c: Context, e: HttpOutEvent, seq: number, actor: number): void {
  const key = messageKey(e);
  const evidence = e.source === 'proxy' ? 'watchdog' : 'instrumentation';
  const msg = c.w.node({
    id: nodeId.message(key), kind: 'message', label: `${e.method} ${e.callee ? `/function/${e.callee}` : e.url}`, time: e.ts, instance: e.instance, invocation: e.invocation,
    attrs: { method: e.method, url: e.url, host: e.host, port: e.port, callee: e.callee, status: e.status, traceId: e.traceId, spanId: e.spanId, reqSha256: e.reqSha256, resSha256: e.resSha256, durationMs: e.durationMs, error: e.error },
  });
  const level = levelAttrs(e);
  c.w.mergeAttrs(msg, {
    [`seenBy_${e.source}`]: true, evidence: e.source === 'proxy' ? 'confirmed' : undefined,
    ...(e.source === 'proxy' ? { pid: e.pid, lineage: e.lineage, claimedInvocation: e.claimedInvocation, ...level } : {}),
  });
  // A callee's answer reaches the caller when the call completes (the proxy stamps the start and
  // measures the duration), and carries what the callee did before it. An outside endpoint's answer
  // is used from the start of the call: the endpoint is a root, nothing before it matters, and the
  // proxy's end stamp can trail the function's use of the data (by 1.4 ms measured, more under load).
  const answeredAt = endOf(e);
  if (e.source === 'proxy') {
    c.w.edge({ src: msg, dst: actor, relation: 'wasGeneratedBy', time: e.ts, evidence, trust: e.evidence, attrs: level });
    if (e.pid != null) onProxyMessage(c, e.instance, e.pid, e.ts, msg);
    const alts = alternatives(c, e, actor);
    for (const alt of alts) c.w.edge({ src: msg, dst: alt, relation: 'wasGeneratedBy', time: e.ts, evidence, trust: e.evidence, attrs: { alternative: true } });
    c.w.edge({ src: actor, dst: msg, relation: 'used', time: e.callee ? answeredAt : e.ts, evidence, trust: e.evidence, attrs: { role: 'response', ...level } });
    for (const alt of alts) c.w.edge({ src: alt, dst: msg, relation: 'used', time: e.callee ? answeredAt : e.ts, evidence, trust: e.evidence, attrs: { role: 'response', alternative: true } });
    onProxyRecord(c, e);
  } else {
    claimEdges(c, e, msg, actor, answeredAt);
  }
  if (!e.callee) {
    // An endpoint outside the platform: data flows both ways, and the walk stops there (a root).
    const name = endpointName(e.host, e.port);
    const remote = c.w.node({ id: nodeId.remote(name), kind: 'remote', label: name, time: e.ts, attrs: { host: e.host, port: e.port } });
    c.w.edge({ src: msg, dst: remote, relation: 'wasDerivedFrom', time: e.ts, evidence, trust: e.evidence });
    c.w.edge({ src: remote, dst: msg, relation: 'wasDerivedFrom', time: e.ts, evidence, trust: e.evidence });
    return;
  }
  if (!e.spanId) return;
  c.sql(`INSERT INTO graph_calls (span_id, trace_id, invocation, function, callee, source, event_seq, answered_at, level, also_in) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    .run(e.spanId, e.traceId ?? null, e.invocation ?? null, e.function, e.callee, e.source, seq, answeredAt,
      e.alsoIn?.length ? 'guess' : (e.attribution ?? null), e.alsoIn?.length ? JSON.stringify(e.alsoIn) : null);
  for (const r of c.sql<[string], { invocation: string }>(`SELECT invocation FROM graph_invocations WHERE parent_span_id = ?`).all(e.spanId)) {
    resolveCaller(c, r.invocation);
  }
}

interface InvRow { invocation: string; function: string; trace_id: string | null; span_id: string | null; parent_span_id: string | null; start_ts: number }
interface CallRow { invocation: string | null; callee: string | null; source: string; trace_id: string | null; answered_at: number; level: string | null; also_in: string | null }

/** Recomputes the caller link of one invocation from all evidence seen so far. */
export function resolveCaller(c: Context, invocation: string): void {
  const me = c.sql<[string], InvRow>(`SELECT * FROM graph_invocations WHERE invocation = ?`).get(invocation);
  if (!me) return;
  const inv = c.w.lookup(nodeId.invocation(invocation))!;
  const req = c.w.lookup(nodeId.request(invocation));
  const key = `caller:${invocation}`;
  const verdict = judge(c, me);
  if (!verdict.caller) {
    c.w.dropKeyed(key);
    c.w.dropKeyed(`response:${invocation}`);
    dropAlternatives(c, invocation);
    const patch = { external: true, flagged: verdict.flag };
    c.w.mergeAttrs(inv, { callerTrust: verdict.flag ? 'flagged' : undefined, flagged: verdict.flag ?? null });
    if (req !== undefined) c.w.mergeAttrs(req, patch);
    return;
  }
  const callerNid = c.w.lookup(nodeId.invocation(verdict.caller)) ?? c.invocationNode(verdict.caller, verdict.callerFunction ?? '?', '?', me.start_ts);
  const evidence = verdict.trust === 'confirmed' ? 'watchdog' : 'instrumentation';
  c.w.edge({
    src: inv, dst: callerNid, relation: 'wasInformedBy', time: me.start_ts,
    evidence, trust: verdict.trust, attrs: { spanId: me.parent_span_id, flagged: verdict.flag, basis: verdict.basis, alsoIn: verdict.alsoIn }, key,
  });
  // A guessed caller: each other candidate gets the link too, so a walk reaches every one.
  dropAlternatives(c, invocation);
  (verdict.alsoIn ?? []).forEach((alt, i) => {
    const nid = c.w.lookup(nodeId.invocation(alt)) ?? c.invocationNode(alt, verdict.callerFunction ?? '?', '?', me.start_ts);
    c.w.edge({ src: inv, dst: nid, relation: 'wasInformedBy', time: me.start_ts, evidence, trust: 'guess', attrs: { spanId: me.parent_span_id, alternative: true }, key: `caller:${invocation}:alt${i}` });
  });
  // The callee's answer flows back: the call's message was generated (its response part) by the
  // callee, by the time the caller received it. Not for flagged links.
  const msg = verdict.trust !== 'flagged' && verdict.message ? c.w.lookup(nodeId.message(verdict.message.key)) : undefined;
  if (msg !== undefined) {
    c.w.edge({ src: msg, dst: inv, relation: 'wasGeneratedBy', time: Math.max(verdict.message!.answeredAt, me.start_ts), evidence, trust: verdict.trust, attrs: { role: 'response' }, key: `response:${invocation}` });
  } else c.w.dropKeyed(`response:${invocation}`);
  // A request is external (a root) unless a caller link is trusted.
  c.w.mergeAttrs(inv, { callerTrust: verdict.trust, flagged: verdict.flag ?? null, caller: verdict.caller });
  if (req !== undefined) c.w.mergeAttrs(req, { external: verdict.trust === 'flagged', flagged: verdict.flag ?? null });
}

interface Verdict { caller?: string; callerFunction?: string; trust?: Trust; flag?: string; message?: { key: string; answeredAt: number }; basis?: string; alsoIn?: string[] }

/** Most candidates a guessed caller link lists (the proxy names at most the invocations in flight). */
const MAX_ALTERNATIVES = 64;
function dropAlternatives(c: Context, invocation: string): void {
  for (let i = 0; i < MAX_ALTERNATIVES; i++) c.w.dropKeyed(`caller:${invocation}:alt${i}`);
}

function judge(c: Context, me: InvRow): Verdict {
  const span = me.parent_span_id;
  if (!span) return {};
  const calls = c.sql<[string], CallRow>(`SELECT invocation, callee, source, trace_id, answered_at, level, also_in FROM graph_calls WHERE span_id = ? ORDER BY event_seq`).all(span)
    .filter((r) => !r.trace_id || !me.trace_id || r.trace_id === me.trace_id);
  const fnOf = (inv: string) => c.sql<[string], { function: string }>(`SELECT function FROM graph_invocations WHERE invocation = ?`).get(inv)?.function;
  const messageOf = (r: CallRow) => ({ key: `${r.trace_id ?? '-'}:${span}`, answeredAt: r.answered_at });
  const proxy = calls.filter((r) => r.source === 'proxy');
  const claims = calls.filter((r) => r.source !== 'proxy');
  const wrongCallee = calls.find((r) => r.callee && r.callee !== me.function);
  if (proxy.length) {
    const caller = proxy[0].invocation;
    if (!caller) return { flag: 'the proxy saw this call outside any invocation' };
    // The proxy saw the call; how sure it was of the invocation that made it sets the link's trust:
    // a guess links every candidate, a bare claim stays a claim.
    const level = proxy[0].level;
    const alsoIn: string[] | undefined = proxy[0].also_in ? JSON.parse(proxy[0].also_in) : undefined;
    const candidates = new Set([caller, ...(alsoIn ?? [])]);
    const others = new Set(claims.map((r) => r.invocation).filter((x): x is string => !!x && !candidates.has(x)));
    let flag: string | undefined;
    if (wrongCallee) flag = `the recorded call went to ${wrongCallee.callee}, not ${me.function}`;
    else if (others.size) flag = `recorders disagree on the caller (${[...others].join(', ')} vs ${caller})`;
    const trust: Trust = flag ? 'flagged' : level === 'guess' ? 'guess' : level === 'claimed' ? 'claimed' : 'confirmed';
    return { caller, callerFunction: fnOf(caller), trust, flag, message: messageOf(proxy[0]), basis: level ?? undefined, alsoIn: trust === 'guess' ? alsoIn : undefined };
  }
  if (claims.length) {
    const callers = [...new Set(claims.map((r) => r.invocation).filter((x): x is string => !!x))];
    if (!callers.length) return { flag: 'the call was claimed outside any invocation' };
    let flag: string | undefined;
    if (wrongCallee) flag = `the claimed call went to ${wrongCallee.callee}, not ${me.function}`;
    else if (callers.length > 1) flag = `claims disagree on the caller (${callers.join(', ')})`;
    return { caller: callers[0], callerFunction: fnOf(callers[0]), trust: flag ? 'flagged' : 'claimed', flag, message: messageOf(claims[0]) };
  }
  // The header names a span that is some invocation's own span but no call was recorded from it:
  // the parent was forged (or copied) rather than made by an outgoing call.
  const owner = c.sql<[string], { invocation: string; function: string }>(`SELECT invocation, function FROM graph_invocations WHERE span_id = ?`).get(span);
  if (owner && owner.invocation !== me.invocation) {
    return { caller: owner.invocation, callerFunction: owner.function, trust: 'flagged', flag: `parent span ${span} is invocation ${owner.invocation}'s own span; no outgoing call from it was recorded` };
  }
  // A parent inside a workflow the platform knows, yet no recorder saw that call: claimed, not made.
  if (me.trace_id) {
    const peer = c.sql<[string, string], { n: number }>(`SELECT count(*) AS n FROM graph_invocations WHERE trace_id = ? AND invocation != ?`).get(me.trace_id, me.invocation);
    if (peer && peer.n > 0) return { flag: `parent span ${span} of trace ${me.trace_id} was recorded by no caller` };
  }
  return {};
}
