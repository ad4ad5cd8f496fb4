// The demo's conclusion in words. Every sentence states something the demo checked against what it
// knows about the attack it ran (the X-Call-Id each attack request was sent with, the bytes the
// attacker's server received, the secret as its owner serves it, the tracing view), and says so
// plainly when the check failed or could not be made: a demo that prints "the attacker's first
// request" as fixed words would go on saying it the day the trace names another request.
import { isDeepStrictEqual } from 'node:util';
import type { Investigation, InvocationInfo } from './investigate';

export interface AttackRequest {
  /** The X-Call-Id the workload sent it with (from the gateway's answer). */
  callId?: string;
  /** The invocation the gateway started with that X-Call-Id, when the store has it. */
  invocation?: InvocationInfo;
}

export interface ConclusionInput {
  investigation: Pick<Investigation, 'rootCause' | 'files' | 'read' | 'poi' | 'tracingView'>;
  /** The weakest attribution on the path to the root cause (TraceResult.pathLevel). */
  pathLevel?: string;
  attack: { one?: AttackRequest; two?: AttackRequest };
  /** What the attacker's server received, in order. */
  received: Array<{ bytes: number; body: string }>;
  /** The secret the attack was after, as its owner holds it; content undefined when it could not be read. */
  secret: { name: string; holder: string; content?: unknown };
  /**
   * Whether the tracing view (spans only) links the invocation that wrote the planted file with the
   * one that ran it; undefined when there is no planted file on the path to ask about.
   */
  tracesLinked?: boolean;
}

/** true: checked and holds; false: checked and does not; undefined: could not be checked. */
export type Check = boolean | undefined;

export interface Conclusion {
  /** The investigator's answer, a sentence a line. */
  answer: string[];
  /** What the attacker's server received, compared with the secret. */
  stolen: string;
  /** What a tracer alone shows. */
  tracer: string[];
  checks: {
    rootIsAttackOne: Check;
    plantedInAttackOne: Check;
    ranInAttackTwo: Check;
    ranLaterOnSameInstance: Check;
    stolenIsSecret: Check;
    tracerSeesNoLink: Check;
  };
}

const time = (us: number) => new Date(Math.floor(us / 1000)).toISOString().replace('T', ' ').replace('Z', ' UTC');
const who = (i?: InvocationInfo) => (i ? `${i.function} invocation ${i.invocation} (#${i.seq} on instance ${i.instance}) at ${time(i.startUs)}` : 'an invocation the store does not describe');

function asJson(x: unknown): unknown {
  if (typeof x !== 'string') return x;
  try {
    return JSON.parse(x);
  } catch {
    return x;
  }
}

/** Whether an invocation belongs to the request: the same trace as the invocation the request started. */
function inRequest(i: InvocationInfo | undefined, req: AttackRequest | undefined): Check {
  if (!i || !req?.invocation) return undefined;
  return i.traceId === req.invocation.traceId;
}

/** What the attacker's server received, set against the secret as its owner holds it. */
export function compareStolen(got: ConclusionInput['received'], secret: ConclusionInput['secret']): { sentence: string; check: Check } {
  const bytes = got.reduce((s, r) => s + r.bytes, 0);
  if (!got.length) return { sentence: 'the attacker received nothing', check: false };
  if (secret.content === undefined) {
    return { sentence: `the attacker received ${bytes} bytes; ${secret.name} could not be read from ${secret.holder} to compare them with`, check: undefined };
  }
  const want = asJson(secret.content);
  const same = got.some((r) => isDeepStrictEqual(asJson(r.body), want));
  const rows = want && typeof want === 'object' ? ` (${Object.keys(want).length} rows)` : '';
  return same
    ? { sentence: `the attacker received ${bytes} bytes: ${secret.name}, exactly as ${secret.holder} holds it${rows}`, check: true }
    : { sentence: `the attacker received ${bytes} bytes, which are NOT ${secret.name} as ${secret.holder} holds it`, check: false };
}

export function conclude(input: ConclusionInput): Conclusion {
  const { investigation: inv, attack } = input;
  const answer: string[] = [];
  const root = inv.rootCause;
  const rootWhere = `${root.label}${root.label.endsWith(`-> ${root.function}`) ? '' : ` to ${root.function}`}, invocation ${root.invocation} at ${time(root.time)}`;
  const rootIsAttackOne: Check = attack.one?.callId ? root.callId === attack.one.callId : undefined;
  if (rootIsAttackOne) {
    answer.push(`root cause: request X-Call-Id=${root.callId} (${rootWhere}), the attacker's first request`);
  } else if (rootIsAttackOne === false) {
    answer.push(`the root cause found (${rootWhere}, X-Call-Id=${root.callId ?? 'none recorded'}) is NOT the attacker's first request (X-Call-Id=${attack.one!.callId}${attack.one!.invocation ? `, ${who(attack.one!.invocation)}` : ''})`);
  } else {
    answer.push(`root cause found: ${rootWhere} (X-Call-Id=${root.callId ?? 'none recorded'}); the attacker's first request has no X-Call-Id to check it against`);
  }
  if (input.pathLevel && input.pathLevel !== 'exact') {
    const basis = input.pathLevel === 'guess' ? 'a guess by time' : input.pathLevel === 'claimed' ? 'a claim by the function that nothing outside it confirms' : input.pathLevel === 'corroborated' ? 'a claim the kernel corroborates' : `a ${input.pathLevel} attribution`;
    answer.push(`the path to it is not exact throughout: it rests on ${basis}; \`alastor trace back\` lists the other candidates`);
  }

  let plantedInAttackOne: Check;
  let ranInAttackTwo: Check;
  let ranLaterOnSameInstance: Check;
  // Checks over several files: false if any fails, true if all hold, undefined if none could be made.
  const all = (have: Check, next: Check): Check => (have === false || next === false ? false : have === true || next === true ? true : undefined);
  if (!inv.files.length) answer.push('no file written by one invocation and used by another lies on the path: the trace does not show a planted file');
  for (const f of inv.files) {
    const w = f.writtenBy;
    const u = f.usedBy;
    const planted = inRequest(w, attack.one);
    plantedInAttackOne = all(plantedInAttackOne, planted);
    answer.push(`it planted ${f.path}: written by ${who(w)}${
      planted ? ", in the attacker's first request" : planted === false ? `, NOT in the attacker's first request (X-Call-Id=${attack.one!.callId})` : ''}`);

    const ran = inRequest(u, attack.two);
    ranInAttackTwo = all(ranInAttackTwo, ran);
    const later = w && u ? u.startUs > w.startUs : undefined;
    const sameInstance = w && u ? w.function === u.function && w.instance === u.instance : undefined;
    const unrelated = w && u ? w.traceId !== u.traceId : undefined;
    ranLaterOnSameInstance = all(ranLaterOnSameInstance, later === undefined ? undefined : later && !!sameInstance);
    const how = !w || !u
      ? 'a request ran it'
      : `${later ? 'a later' : 'an earlier'}${unrelated ? ', unrelated request' : ' request of the same trace'} ran it, ${sameInstance ? 'on the same warm instance' : `on another instance (${u.function} ${u.instance})`}`;
    answer.push(`${how}: ${who(u)}${
      ran ? ", in the attacker's second request" : ran === false ? `, NOT in the attacker's second request (X-Call-Id=${attack.two!.callId})` : ''}`);
  }
  if (inv.read.length) answer.push(`and that invocation read: ${inv.read.join('; ')}`);
  answer.push(`then it sent the data out: ${inv.poi.label}${inv.poi.time ? ` at ${time(inv.poi.time)}` : ''}`);

  const { sentence: stolen, check: stolenIsSecret } = compareStolen(input.received, input.secret);

  const tracer: string[] = [];
  const n = inv.tracingView.length;
  const tracerSeesNoLink: Check = input.tracesLinked === undefined ? undefined : !input.tracesLinked;
  if (tracerSeesNoLink === undefined) tracer.push('no planted file on the path, so nothing to set beside a tracer');
  else if (tracerSeesNoLink) tracer.push(`${n} separate trace${n === 1 ? '' : 's'} with no link between the invocation that planted the file and the one that ran it: the planted file is invisible there.`);
  else tracer.push('the tracing view itself links the invocation that planted the file with the one that ran it: a tracer alone shows this connection.');
  return { answer, stolen, tracer, checks: { rootIsAttackOne, plantedInAttackOne, ranInAttackTwo, ranLaterOnSameInstance, stolenIsSecret, tracerSeesNoLink } };
}
