// W3C PROV-JSON (the W3C member submission's serialization): records grouped by type, each keyed by
// a qualified name; relations carry their PROV roles, attributes are literals (objects become JSON text).
import type { Graph, GraphEdge, GraphNode } from '../graph/model';
import { AGENT_KINDS, ACTIVITY_KINDS } from '../graph/model';
import { usToIso } from '../../events/time';

export const NAMESPACE = 'https://github.com/alastor-openfaas/ns#';

type Literal = string | number | boolean | { $: string; type: string };
type Record_ = Record<string, Literal | Literal[]>;

export interface ProvDocument {
  prefix: Record<string, string>;
  [section: string]: Record<string, Record_> | Record<string, string>;
}

/** The qualified name of a node id; percent-escapes keep it a valid local part. */
export function qname(id: string): string {
  return `alastor:${encodeURIComponent(id).replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

function literal(v: unknown): Literal | Literal[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? { $: String(v), type: 'xsd:long' } : v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.length ? (v as string[]) : undefined;
  return JSON.stringify(v);
}

const TIME_ATTRS = new Set(['startedAt', 'endedAt', 'execAt', 'exitedAt', 'deletedAt', 'stoppedAt']);

function attributes(n: GraphNode): Record_ {
  const out: Record_ = { 'prov:label': n.label, 'alastor:kind': n.kind };
  for (const [k, v] of Object.entries(n.attributes)) {
    const lit = TIME_ATTRS.has(k) && typeof v === 'number' ? { $: usToIso(v), type: 'xsd:dateTime' } : literal(v);
    if (lit !== undefined) out[`alastor:${k.replace(/[^A-Za-z0-9_.-]/g, '_')}`] = lit;
  }
  if (n.kind === 'invocation' || n.kind === 'process') {
    if (typeof n.attributes.startedAt === 'number' || typeof n.attributes.execAt === 'number' || typeof n.time === 'number') {
      out['prov:startTime'] = usToIso(Number(n.attributes.startedAt ?? n.attributes.execAt ?? n.time));
    }
    const end = n.attributes.endedAt ?? n.attributes.exitedAt;
    if (typeof end === 'number') out['prov:endTime'] = usToIso(end);
  }
  if (AGENT_KINDS.has(n.kind)) out['prov:type'] = { $: 'prov:SoftwareAgent', type: 'xsd:QName' };
  return out;
}

function roles(e: GraphEdge, kindOf: (id: string) => string | undefined): { section: string; rec: Record_ } | undefined {
  const from = qname(e.from), to = qname(e.to);
  const time = usToIso(e.time);
  switch (e.relation) {
    case 'used': return { section: 'used', rec: { 'prov:activity': from, 'prov:entity': to, 'prov:time': time } };
    case 'wasGeneratedBy': return { section: 'wasGeneratedBy', rec: { 'prov:entity': from, 'prov:activity': to, 'prov:time': time } };
    case 'wasInformedBy': return { section: 'wasInformedBy', rec: { 'prov:informed': from, 'prov:informant': to } };
    case 'wasStartedBy':
      return ACTIVITY_KINDS.has(kindOf(e.to) ?? '')
        ? { section: 'wasStartedBy', rec: { 'prov:activity': from, 'prov:starter': to, 'prov:time': time } }
        : { section: 'wasStartedBy', rec: { 'prov:activity': from, 'prov:trigger': to, 'prov:time': time } };
    case 'wasDerivedFrom': return { section: 'wasDerivedFrom', rec: { 'prov:generatedEntity': from, 'prov:usedEntity': to } };
    case 'wasAssociatedWith': return { section: 'wasAssociatedWith', rec: { 'prov:activity': from, 'prov:agent': to } };
    case 'actedOnBehalfOf': return { section: 'actedOnBehalfOf', rec: { 'prov:delegate': from, 'prov:responsible': to } };
    case 'wasInfluencedBy': return { section: 'wasInfluencedBy', rec: { 'prov:influencee': from, 'prov:influencer': to } };
    default: return undefined;
  }
}

export function toProvJson(g: Graph): ProvDocument {
  const doc: ProvDocument = { prefix: { alastor: NAMESPACE, xsd: 'http://www.w3.org/2001/XMLSchema#', prov: 'http://www.w3.org/ns/prov#' } };
  const section = (name: string) => ((doc[name] as Record<string, Record_> | undefined) ?? (doc[name] = {})) as Record<string, Record_>;
  const kinds = new Map(g.nodes.map((n) => [n.id, n.kind]));
  for (const n of g.nodes) {
    const s = AGENT_KINDS.has(n.kind) ? 'agent' : ACTIVITY_KINDS.has(n.kind) ? 'activity' : 'entity';
    section(s)[qname(n.id)] = attributes(n);
  }
  g.edges.forEach((e, i) => {
    const r = roles(e, (id) => kinds.get(id));
    if (!r) return;
    r.rec['alastor:evidence'] = e.evidence;
    if (e.trust) r.rec['alastor:trust'] = e.trust;
    if (!('prov:time' in r.rec)) r.rec['alastor:time'] = { $: usToIso(e.time), type: 'xsd:dateTime' };
    for (const [k, v] of Object.entries(e.attributes ?? {})) {
      const lit = literal(v);
      if (lit !== undefined) r.rec[`alastor:${k.replace(/[^A-Za-z0-9_.-]/g, '_')}`] = lit;
    }
    section(r.section)[`_:e${i + 1}`] = r.rec;
  });
  return doc;
}
