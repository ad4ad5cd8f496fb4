// Which invocation a call through the egress proxy belongs to, and how sure that is
// (events/attribution.ts). The process that connected decides, never "whatever is in flight":
//  - a process born in an invocation keeps it after that invocation ends (lineage): the forked
//    process of a fork-mode request, or anything the http upstream spawned, placed by the audit
//    tailer's record of its birth, else by the spawn claim of the template, else by its start time;
//  - the http upstream itself serves every request in flight, so its own calls are placed by what
//    its instrumentation says (the X-Alastor-Invocation claim, the trace context), checked against
//    what is in flight; with one request in flight, the watchdog knows it is that one.
import type { Attributed, Basis, Claim } from '../../events';
import type { Birth } from '../audit/index';
import type { Inflight } from './inflight';
import type { Invocation } from './invocation';
import type { Peer } from './peer';

export interface CallFacts {
  /** The connecting process, or undefined when the lookup found no process of the function's tree. */
  peer: Peer | undefined;
  /** X-Alastor-Invocation on the proxied request: what the caller's code says. */
  claimedId?: string;
  /** From the traceparent the caller's code sent. */
  traceId?: string;
  parentSpanId?: string;
  /** When the call began, us since the epoch. */
  atUs: number;
}

export interface OwnerContext {
  inflight: Inflight;
  /** The long-lived http upstream (undefined in the fork modes). */
  upstreamPid?: number;
  bornIn?(pid: number): Birth | undefined;
  spawnOf(pid: number): Claim | undefined;
}

export interface Owner extends Attributed {
  inv?: Invocation;
}

/** A process's start time read from /proc is good to a clock tick or two. */
const START_SLACK_US = 30000;
/** A spawn claim is written as the spawn returns: the kernel's start time is within this of it. */
const SPAWN_CLAIM_SLACK_US = 100000;

export function ownerOfCall(f: CallFacts, x: OwnerContext): Owner {
  const peer = f.peer;
  if (!peer) {
    // Nobody of the function's tree holds the connection (or it closed before the lookup): what
    // the request says is all there is, and that is a claim at best.
    const o = fromContext(f, x, true);
    return { ...o, contradiction: o.contradiction ?? 'no process of the function held the connection when the proxy looked' };
  }
  for (let k = 0; k < peer.lineage.length; k++) {
    const pid = peer.lineage[k];
    if (pid === x.upstreamPid) return k === 0 ? fromContext(f, x, false) : bornOf(peer, k - 1, x);
    const forked = x.inflight.byPid(pid);
    if (forked) return { inv: forked, invocation: forked.id, attribution: 'exact', basis: k === 0 ? 'fork' : 'lineage' };
  }
  return { contradiction: `process ${peer.pid} descends from no invocation this watchdog knows` };
}

/** A process the upstream spawned (lineage[top]) or one of its descendants made the call. */
function bornOf(peer: Peer, top: number, x: OwnerContext): Owner {
  for (let j = 0; j <= top; j++) {
    const b = x.bornIn?.(peer.lineage[j]);
    if (b?.invocation) return { inv: x.inflight.byId(b.invocation), invocation: b.invocation, attribution: b.attribution, basis: 'lineage', alsoIn: b.alsoIn };
  }
  const spawned = peer.lineage[top];
  const startedUs = peer.startedUs[top];
  const claim = x.spawnOf(spawned);
  if (claim) {
    const inv = x.inflight.byId(claim.invocation);
    const sameMoment = startedUs !== undefined && Math.abs(startedUs - claim.tsUs) <= SPAWN_CLAIM_SLACK_US;
    const inWindow = inv !== undefined && startedUs !== undefined && startedUs >= inv.startUs - START_SLACK_US && (inv.endUs === undefined || startedUs <= inv.endUs + START_SLACK_US);
    if (inv && sameMoment && inWindow) return { inv, invocation: inv.id, attribution: 'corroborated', basis: 'claim' };
    return {
      inv, invocation: claim.invocation, attribution: 'claimed', basis: 'claim',
      contradiction: !inv ? `the spawn claim names invocation ${claim.invocation}, unknown here` : `process ${spawned} started outside the window of the invocation its spawn claim names`,
    };
  }
  if (startedUs === undefined) return {};
  const fits = x.inflight.all().filter((w) => startedUs >= w.startUs - START_SLACK_US && (w.endUs === undefined || startedUs <= w.endUs + START_SLACK_US));
  return pick(fits, 'window');
}

/** The upstream's own call: its instrumentation's claim and trace context, checked against what is in flight. */
function fromContext(f: CallFacts, x: OwnerContext, unknownPeer: boolean): Owner {
  const live = x.inflight.live;
  const claimed = f.claimedId ? x.inflight.byId(f.claimedId) : undefined;
  const byTrace = f.traceId ? live.filter((w) => w.traceId === f.traceId) : [];
  const bySpan = f.parentSpanId ? x.inflight.bySpan(f.parentSpanId) : undefined;
  // Without knowing who connected, nothing here is better than a claim.
  const cap = (o: Owner): Owner => (unknownPeer && o.attribution && o.attribution !== 'guess' ? { ...o, attribution: 'claimed' } : o);
  if (claimed) {
    if (!live.includes(claimed)) return { inv: claimed, invocation: claimed.id, attribution: 'claimed', basis: 'claim', contradiction: `invocation ${claimed.id} had ended when the call began` };
    if (byTrace.length && !byTrace.includes(claimed)) {
      const o = pick([claimed, ...byTrace], 'time');
      return { ...o, contradiction: `the X-Alastor-Invocation claim (${claimed.id}) and the trace context disagree` };
    }
    return cap({ inv: claimed, invocation: claimed.id, attribution: 'corroborated', basis: 'claim' });
  }
  const unknownClaim = f.claimedId ? `the call claims invocation ${f.claimedId}, unknown here` : undefined;
  const withClaim = (o: Owner): Owner => (unknownClaim ? { ...o, contradiction: unknownClaim } : o);
  if (byTrace.length === 1) return withClaim(cap({ inv: byTrace[0], invocation: byTrace[0].id, attribution: 'corroborated', basis: 'trace' }));
  if (bySpan) return withClaim(cap({ inv: bySpan, invocation: bySpan.id, attribution: live.includes(bySpan) ? 'corroborated' : 'claimed', basis: 'trace' }));
  if (byTrace.length > 1) return withClaim(pick(byTrace, 'time'));
  if (unknownPeer) return withClaim(pick(live, 'time', true));
  return withClaim(pick(live, 'window'));
}

/** One candidate: exact by its basis; several: a guess naming the latest started, with the others. */
function pick(cands: Invocation[], basis: Basis, alwaysGuess = false): Owner {
  if (cands.length === 0) return {};
  const named = cands.reduce((a, b) => (b.startUs >= a.startUs ? b : a));
  if (cands.length === 1 && !alwaysGuess) return { inv: named, invocation: named.id, attribution: 'exact', basis };
  const alsoIn = [...new Set(cands.filter((w) => w !== named).map((w) => w.id))];
  return { inv: named, invocation: named.id, attribution: 'guess', basis: 'time', alsoIn: alsoIn.length ? alsoIn : undefined };
}
