// The verdict on an act of a process without a birth (the http upstream, or a process started
// outside every invocation): from the windows that fit its time and the claims that match it.
// See attribute.ts for the rules and the invariant they keep.
import type { Attributed } from '../../events/attribution';
import type { Claim } from '../../events/claims';
import type { Candidate } from './windows';

export interface Attribution extends Attributed {
  outsideInvocation: boolean;
}

/** The verdict on an unborn process's act, from the windows that fit it and the claims that match it. */
export function judge(cands: Candidate[], claims: Claim[], tsUs = 0): Attribution {
  const ids = cands.map((c) => c.window.invocation);
  if (claims.length > 0) {
    // The claims closest in time first.
    const byDistance = [...claims].sort((a, b) => Math.abs(a.tsUs - tsUs) - Math.abs(b.tsUs - tsUs));
    const claimed: string[] = [];
    for (const c of byDistance) if (!claimed.includes(c.invocation)) claimed.push(c.invocation);
    if (claimed.length === 1) {
      const inv = claimed[0];
      if (ids.includes(inv)) return { invocation: inv, outsideInvocation: false, attribution: 'corroborated', basis: 'claim' };
      const why = ids.length === 0
        ? `claimed by ${inv}, but no invocation was in flight then`
        : `claimed by ${inv}, which was not in flight then; in flight: ${ids.join(', ')}`;
      return { invocation: inv, outsideInvocation: false, attribution: 'claimed', basis: 'claim', contradiction: why };
    }
    // Several invocations claim the act: a guess among them, naming one in flight if any is.
    const ordered = [...claimed.filter((i) => ids.includes(i)), ...claimed.filter((i) => !ids.includes(i))];
    return { invocation: ordered[0], outsideInvocation: false, attribution: 'guess', basis: 'claim', alsoIn: ordered.slice(1) };
  }
  if (ids.length === 0) return { outsideInvocation: true };
  if (ids.length === 1) return { invocation: ids[0], outsideInvocation: false, attribution: 'exact', basis: 'window' };
  return { invocation: ids[0], outsideInvocation: false, attribution: 'guess', basis: 'time', alsoIn: ids.slice(1) };
}

