// A call the function reported itself (an instrumentation http.out) links its message to the
// invocation at the level `alastor events` gives it: a claim, raised to corroborated when the
// egress proxy's record of the same call or the kernel's connect names the same invocation, or
// kept a claim with the contradiction said (collector/query/corroborate.ts decides; the graph and
// the events view must tell one story). Either record can be stored first, so the claim's two
// edges are keyed and rewritten when the record that settles them arrives.
import type { HttpOutEvent } from '../../events/schema';
import { endOf, findCorroboration, isCallClaim } from '../query/corroborate';
import type { Context } from './context';
import { nodeId } from './model';
// system.ts imports onConnect from here; this cycle is between functions called at run time only.
import { actorOf } from './system';

/** A kept-alive call has no connect: only connects within this long after a claim's start are looked for. */
const CLAIM_LOOKBACK_US = 5e6;

/** The message node's key of a recorded call: its trace and span, else the event itself. */
export const messageKey = (e: HttpOutEvent) => (e.spanId ? `${e.traceId ?? '-'}:${e.spanId}` : e.id);

/** Writes (or rewrites) the claim's edges between its message and the acting invocation or process. */
export function claimEdges(c: Context, e: HttpOutEvent, msg: number, actor: number, answeredAt: number): void {
  const found = findCorroboration(c.db, e);
  const corr = found?.verdict;
  const firm = corr?.attribution === 'corroborated';
  const level = corr ? { level: corr.attribution, basis: corr.by, corroboratedBy: corr.event, contradiction: corr.contradiction } : undefined;
  const trust = firm ? undefined : 'claimed';
  c.w.edge({ src: msg, dst: actor, relation: 'wasGeneratedBy', time: e.ts, evidence: 'instrumentation', trust, attrs: level, key: `claim:${e.id}:gen` });
  c.w.edge({ src: actor, dst: msg, relation: 'used', time: e.callee ? answeredAt : e.ts, evidence: 'instrumentation', trust, attrs: { role: 'response', ...level }, key: `claim:${e.id}:used` });
  if (!corr) return;
  const other = found!.record;
  c.w.mergeAttrs(msg, {
    level: corr.attribution, corroboratedBy: corr.event, contradiction: corr.contradiction,
    // The proxy's record of the same call is a node of its own (keyed by the proxy's span).
    sameCallAs: corr.by === 'proxy' && other.spanId ? nodeId.message(messageKey(other as HttpOutEvent)) : undefined,
  });
}

/**
 * A record that may settle claims already in the graph arrived: the proxy's record of a call (its
 * parentSpanId names the function's span) or a connect. Claims stored after it are settled when
 * they are applied; those before are rewritten here.
 */
export function reconsiderClaims(c: Context, instance: string, from: number, to: number, matches: (claim: HttpOutEvent) => boolean): void {
  const rows = c.sql<[number, number, string, number], { body: string }>(
    `SELECT body FROM events WHERE kind = 'http.out' AND ts BETWEEN ? AND ? AND instance = ? AND seq < ?`).all(from, to, instance, c.w.eventSeq);
  for (const r of rows) {
    const e = JSON.parse(r.body) as HttpOutEvent;
    if (!isCallClaim(e) || !matches(e)) continue;
    const msg = c.w.lookup(nodeId.message(messageKey(e)));
    if (msg === undefined) continue;
    // Applied already (seq < this event's), so its actor is there: the same one onHttpOut used.
    claimEdges(c, e, msg, actorOf(c, e), endOf(e));
  }
}

/** The proxy recorded a call: a claim of the same call (the function's span) may now be corroborated. */
export function onProxyRecord(c: Context, e: HttpOutEvent): void {
  if (!e.parentSpanId || !e.traceId) return;
  reconsiderClaims(c, e.instance, e.ts - 2e6 - CLAIM_LOOKBACK_US, e.ts + 2e6, (claim) => claim.traceId === e.traceId && claim.spanId === e.parentSpanId);
}

/** The kernel recorded a connect: a direct call claimed by the same process around it may now be corroborated. */
export function onConnect(c: Context, instance: string, pid: number, ts: number): void {
  reconsiderClaims(c, instance, ts - CLAIM_LOOKBACK_US, ts + 10_000, (claim) =>
    claim.pid === pid && claim.ts - 10_000 <= ts && ts <= endOf(claim));
}
