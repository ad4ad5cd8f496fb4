// A compact check of W3C PROV-JSON (the 2013 W3C member submission and its JSON schema): the
// top-level sections, literal attribute values, the required roles of each relation, date-time
// strings, declared prefixes, and that every relation names elements of the right PROV class.
import { Type, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const DATETIME = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$';
const QNAME = '^[A-Za-z_][A-Za-z0-9_.-]*:[^\\s]*$';
const Typed = Type.Object({ $: Type.String(), type: Type.Optional(Type.String()), lang: Type.Optional(Type.String()) }, { additionalProperties: false });
const Atom = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Typed]);
const Value_ = Type.Union([Atom, Type.Array(Atom, { minItems: 1 })]);
const QName = Type.String({ pattern: QNAME });
const Time = Type.String({ pattern: DATETIME });

function record(required: string[], optional: string[] = [], times: string[] = []): TSchema {
  const props: Record<string, TSchema> = {};
  for (const r of required) props[r] = QName;
  for (const o of optional) props[o] = Type.Optional(QName);
  for (const t of times) props[t] = Type.Optional(Time);
  return Type.Record(Type.String(), Type.Intersect([Type.Object(props), Type.Record(Type.String(), Value_)]));
}

const element = (times: string[] = []) => record([], [], times);

export const PROV_SECTIONS: Record<string, { schema: TSchema; roles: Record<string, 'entity' | 'activity' | 'agent' | 'any'> }> = {
  entity: { schema: element(), roles: {} },
  activity: { schema: element(['prov:startTime', 'prov:endTime']), roles: {} },
  agent: { schema: element(), roles: {} },
  used: { schema: record(['prov:activity'], ['prov:entity'], ['prov:time']), roles: { 'prov:activity': 'activity', 'prov:entity': 'entity' } },
  wasGeneratedBy: { schema: record(['prov:entity'], ['prov:activity'], ['prov:time']), roles: { 'prov:entity': 'entity', 'prov:activity': 'activity' } },
  wasInformedBy: { schema: record(['prov:informed', 'prov:informant']), roles: { 'prov:informed': 'activity', 'prov:informant': 'activity' } },
  wasStartedBy: { schema: record(['prov:activity'], ['prov:trigger', 'prov:starter'], ['prov:time']), roles: { 'prov:activity': 'activity', 'prov:trigger': 'entity', 'prov:starter': 'activity' } },
  wasEndedBy: { schema: record(['prov:activity'], ['prov:trigger', 'prov:ender'], ['prov:time']), roles: { 'prov:activity': 'activity', 'prov:trigger': 'entity', 'prov:ender': 'activity' } },
  wasDerivedFrom: { schema: record(['prov:generatedEntity', 'prov:usedEntity'], ['prov:activity', 'prov:generation', 'prov:usage']), roles: { 'prov:generatedEntity': 'entity', 'prov:usedEntity': 'entity' } },
  wasAttributedTo: { schema: record(['prov:entity', 'prov:agent']), roles: { 'prov:entity': 'entity', 'prov:agent': 'agent' } },
  wasAssociatedWith: { schema: record(['prov:activity'], ['prov:agent', 'prov:plan']), roles: { 'prov:activity': 'activity', 'prov:agent': 'agent' } },
  actedOnBehalfOf: { schema: record(['prov:delegate', 'prov:responsible'], ['prov:activity']), roles: { 'prov:delegate': 'agent', 'prov:responsible': 'agent' } },
  wasInfluencedBy: { schema: record(['prov:influencee', 'prov:influencer']), roles: { 'prov:influencee': 'any', 'prov:influencer': 'any' } },
};

const Document = Type.Object(
  {
    prefix: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_.-]*$' }), Type.String({ minLength: 1 }))),
    ...Object.fromEntries(Object.entries(PROV_SECTIONS).map(([k, v]) => [k, Type.Optional(v.schema)])),
  },
  { additionalProperties: false },
);

/** Returns the problems found (empty when the document is valid). */
export function provJsonProblems(doc: unknown): string[] {
  const problems = [...Value.Errors(Document, doc)].slice(0, 10).map((e) => `${e.path}: ${e.message}`);
  if (problems.length) return problems;
  const d = doc as Record<string, Record<string, Record<string, unknown>>>;
  const prefixes = new Set([...Object.keys(d.prefix ?? {}), 'prov', 'xsd']);
  const classOf = new Map<string, string>();
  for (const cls of ['entity', 'activity', 'agent']) for (const id of Object.keys(d[cls] ?? {})) {
    if (!prefixes.has(id.split(':')[0])) problems.push(`${cls} ${id}: undeclared prefix`);
    classOf.set(id, cls);
  }
  for (const [section, { roles }] of Object.entries(PROV_SECTIONS)) {
    for (const [rid, rec] of Object.entries(d[section] ?? {})) {
      for (const [role, cls] of Object.entries(roles)) {
        const ref = rec[role];
        if (ref === undefined) continue;
        const have = classOf.get(String(ref));
        if (!have) problems.push(`${section} ${rid}: ${role} names ${String(ref)}, which is not declared`);
        else if (cls !== 'any' && have !== cls) problems.push(`${section} ${rid}: ${role} must be an ${cls}, ${String(ref)} is an ${have}`);
      }
    }
  }
  return problems;
}
