// Which invocation each event belongs to, and how sure that is (events/attribution.ts).
//
// A born process (births.ts) acts for the invocation it was born in, at its birth's level, even
// after that invocation ended: process lineage is the kernel's own record. Only processes without
// a birth (the http upstream, which serves every request, or a process started outside every
// invocation) are judged by time and claims:
//   - candidates: every window that fits the event's time (windows.ts), slack included;
//   - a claim of the function's instrumentation that matches the event (claim-index.ts) and names
//     a candidate: that invocation, corroborated; matching claims naming several invocations: a
//     guess among them; a claim naming an invocation that was not in flight (a timer of an ended
//     request, or a lie): claimed, with the contradiction said;
//   - no claim: one candidate is exact, several are a guess (the others in alsoIn), none leaves
//     the event with the instance (outsideInvocation).
// THE INVARIANT: a wrong invocation may be named only at the guess level, with the right one among
// the candidates. Time alone is therefore never exact when two windows fit, however they fit.
//
// A process creation also decides the child's birth: its parent's birth if it has one (lineage),
// else the creation's own attribution.
import type { Attributed, Level } from '../../events/attribution';
import { Births, type Birth } from './births';
import { ClaimIndex } from './claim-index';
import type { AuditEvent } from './event';
import type { ProcessTree } from './tree';
import { judge, type Attribution } from './verdict';
import { START_SLACK_US, Windows } from './windows';

export { ProcessTree } from './tree';
export { Windows, START_SLACK_US } from './windows';
export { judge } from './verdict';

export type { Attribution } from './verdict';

export interface AttributorCounters {
  births: number;
  corroborated: number;
  claimedOnly: number;
  guesses: number;
}

export class Attributor {
  readonly births = new Births();
  readonly claims = new ClaimIndex();
  readonly counters: AttributorCounters = { births: 0, corroborated: 0, claimedOnly: 0, guesses: 0 };

  constructor(
    readonly tree: ProcessTree,
    readonly windows: Windows = new Windows(),
  ) {
    const prev = tree.onRetire;
    tree.onRetire = (pid) => {
      prev?.(pid);
      this.births.retire(pid);
    };
  }

  /**
   * The watchdog names the process serving an invocation (setPid). In fork modes that is the
   * process forked for it: born in it, exact. The watchdog says the same of the http upstream,
   * which serves every request and was born before any: that is no birth. Returns the fork birth.
   */
  servedBy(invocation: string, pid: number): Birth | undefined {
    const w = this.windows.get(invocation);
    if (!w) return undefined;
    const shared = w.pidAtStart === true || this.windows.sharedPid(pid, invocation);
    this.windows.setPid(invocation, pid);
    if (shared || this.tree.preexisting(pid)) return undefined;
    // Created (and attributed) before the request began: not forked for it.
    const known = this.births.get(pid);
    if (known && known.basis !== 'fork' && known.tsUs < w.startUs - START_SLACK_US) return undefined;
    return this.births.forked(pid, invocation, w.startUs);
  }

  /**
   * Attributes a batch of events, oldest first, and returns the births decided on the way.
   * Creations go first: a child's first records can precede its parent's clone record in the log
   * (the clone is written when the parent returns), and the child's events depend on its birth.
   */
  attributeAll(evs: AuditEvent[]): { verdicts: Attribution[]; births: Birth[] } {
    const births: Birth[] = [];
    const verdicts: Attribution[] = new Array(evs.length);
    for (let i = 0; i < evs.length; i++) {
      const ev = evs[i];
      if (ev.creates !== 'process') continue;
      verdicts[i] = this.attribute(ev, births);
      const b = this.births.created(this.childBirth(ev.pid, ev.exit, ev.ts, verdicts[i]));
      if (b) births.push(b);
    }
    for (let i = 0; i < evs.length; i++) verdicts[i] ??= this.attribute(evs[i], births);
    for (const v of verdicts) {
      if (v.attribution === 'corroborated') this.counters.corroborated++;
      else if (v.attribution === 'claimed') this.counters.claimedOnly++;
      else if (v.attribution === 'guess') this.counters.guesses++;
    }
    this.counters.births += births.length;
    return { verdicts, births };
  }

  /** One event's verdict; a process seen for the first time may get its birth decided here. */
  attribute(ev: { ts: number; pid: number } & Partial<AuditEvent>, births: Birth[] = []): Attribution {
    const b = this.birthOf(ev.pid, ev.ts, births);
    if (b?.invocation !== undefined) return fromBirth(b, b.basis === 'fork' ? 'fork' : 'lineage');
    const claims = ev.syscall ? this.claims.matching(ev as AuditEvent) : [];
    return judge(this.windows.candidates(ev.ts, ev.pid, this.tree), claims, ev.ts);
  }

  /**
   * A member's birth; for a process first seen through its own records (its clone not read yet,
   * or lost), decided now from its parent as its clone would have been.
   */
  private birthOf(pid: number, ts: number, births: Birth[]): Birth | undefined {
    const known = this.births.get(pid);
    if (known || this.tree.preexisting(pid)) return known;
    const ppid = this.tree.parent.get(pid);
    if (ppid === undefined || ppid === 0) return undefined;
    const made = this.attribute({ ts, pid: ppid, syscall: 'clone', success: true, exit: pid, paths: [] }, births);
    const b = this.births.created(this.childBirth(ppid, pid, ts, made));
    if (b) births.push(b);
    return b;
  }

  private childBirth(parent: number, child: number, ts: number, creation: Attribution): Birth {
    const pb = this.births.get(parent);
    // Born of a born parent: its birth, by lineage. Else the creation's own verdict.
    const from: Attributed = pb?.invocation !== undefined ? { ...pb, basis: 'lineage' } : creation;
    if (from.invocation === undefined) return { pid: child, attribution: 'exact', basis: 'window', tsUs: ts };
    const b: Birth = { pid: child, invocation: from.invocation, attribution: from.attribution as Level, basis: from.basis!, tsUs: ts };
    if (from.alsoIn?.length) b.alsoIn = from.alsoIn;
    return b;
  }
}

function fromBirth(b: Birth, basis: 'fork' | 'lineage'): Attribution {
  const a: Attribution = { invocation: b.invocation, outsideInvocation: false, attribution: b.attribution, basis };
  if (b.alsoIn?.length) a.alsoIn = b.alsoIn;
  // A claimed birth carries its contradiction only on the creation itself; its acts say lineage.
  return a;
}
