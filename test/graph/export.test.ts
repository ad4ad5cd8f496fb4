// Exports of a stitched graph: PROV-JSON valid against the PROV-JSON schema's rules, DOT, and
// OTLP/JSON traces of the tracing view (what a trace-only tool sees: requests and spans only).
import { World, helloRetailAttack, type AttackIds } from '../support/graph-world';
import { provJsonProblems } from '../support/prov-json-schema';
import { updateGraph } from '../../collector/graph/index';
import { loadGraph } from '../../collector/graph/read';
import { reduce } from '../../collector/graph/reduce';
import { traceBack } from '../../collector/graph/trace';
import { tracingView } from '../../collector/graph/views';
import { toDot, toOtlp, toProvJson } from '../../collector/export/index';
import type { Graph } from '../../collector/graph/model';

let w: World;
let ids: AttackIds;
let g: Graph;
beforeAll(() => {
  w = new World();
  ids = helloRetailAttack(w);
  updateGraph(w.db);
  g = loadGraph(w.db);
});
afterAll(() => w.close());

describe('PROV-JSON', () => {
  test('the whole graph, a reduced graph and a backward trace are valid PROV-JSON', () => {
    for (const graph of [g, reduce(g).graph, traceBack(w.db, `sock:${ids.exfil}`)]) {
      const doc = toProvJson(graph);
      expect(provJsonProblems(JSON.parse(JSON.stringify(doc)))).toEqual([]);
    }
  });

  test('the checker is not a rubber stamp', () => {
    const doc = JSON.parse(JSON.stringify(toProvJson(g)));
    const used = Object.values(doc.used)[0] as Record<string, unknown>;
    used['prov:activity'] = used['prov:entity'];
    expect(provJsonProblems(doc).join('\n')).toMatch(/prov:activity must be an activity/);
    expect(provJsonProblems({ prefix: {}, entity: { 'x:y': { attr: { nested: 1 } } } }).length).toBeGreaterThan(0);
    expect(provJsonProblems({ bogus: {} }).length).toBeGreaterThan(0);
    const noTime = JSON.parse(JSON.stringify(toProvJson(g)));
    (Object.values(noTime.wasGeneratedBy)[0] as Record<string, unknown>)['prov:time'] = 'yesterday';
    expect(provJsonProblems(noTime).length).toBeGreaterThan(0);
  });

  test('records carry PROV classes, roles, times and the trust of cross-function links', () => {
    const doc = toProvJson(g) as any;
    const inv = doc.activity[`alastor:${encodeURIComponent(`inv:${ids.ac1.id}`)}`];
    expect(inv['prov:startTime']).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(inv['alastor:function']).toBe('authorize-cc');
    const informed = Object.values(doc.wasInformedBy) as any[];
    expect(informed.length).toBe(9);
    expect(informed.every((r) => r['alastor:trust'] === 'confirmed' && r['alastor:evidence'] === 'watchdog')).toBe(true);
    expect(Object.keys(doc.agent).some((k) => k.includes('fn%3Aauthorize-cc'))).toBe(true);
  });
});

test('DOT names every node and edge, marking flagged and claimed links', () => {
  const dot = toDot(g);
  expect(dot.startsWith('digraph "provenance" {')).toBe(true);
  expect(dot.trim().endsWith('}')).toBe(true);
  expect(dot.split('\n').filter((l) => /^ {2}"(?:[^"\\]|\\.)*" -> "/.test(l)).length).toBe(g.edges.length);
  expect(dot).toContain(`"inv:${ids.ac1.id}"`);
});

describe('the tracing view and OTLP', () => {
  test('only requests and spans; requests one and two are unrelated', () => {
    const v = tracingView(g);
    expect(new Set(v.nodes.map((n) => n.kind))).toEqual(new Set(['workflow', 'invocation', 'message']));
    // From authorize-cc's second request, the tracing view reaches only its own workflow.
    const reach = new Set([`inv:${ids.ac2.id}`]);
    for (let changed = true; changed;) {
      changed = false;
      for (const e of v.edges) for (const [a, b] of [[e.from, e.to], [e.to, e.from]]) if (reach.has(a) && !reach.has(b) && !b.startsWith('wf:')) { reach.add(b); changed = true; }
    }
    expect(reach.has(`inv:${ids.pp2.id}`)).toBe(true);
    expect(reach.has(`inv:${ids.ac1.id}`)).toBe(false);
    expect(reach.has(`inv:${ids.pp1.id}`)).toBe(false);
  });

  test('OTLP/JSON: one server span per invocation, one client span per call, callees parented on the calls', () => {
    const otlp = toOtlp(tracingView(g));
    const spans = otlp.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((sp) => ({ ...sp, service: (r.resource.attributes[0].value as { stringValue: string }).stringValue }))));
    const server = spans.filter((s) => s.kind === 2);
    const client = spans.filter((s) => s.kind === 3);
    expect(server).toHaveLength(12);
    expect(new Set(server.map((s) => s.traceId)).size).toBe(3);
    for (const s of spans) {
      expect(s.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(s.spanId).toMatch(/^[0-9a-f]{16}$/);
      expect(BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano)).toBe(true);
    }
    const clientBySpan = new Map(client.map((c) => [c.spanId, c]));
    for (const s of server.filter((x) => x.parentSpanId)) {
      const parent = clientBySpan.get(s.parentSpanId!)!;
      expect(parent.traceId).toBe(s.traceId);
      expect(parent.service).toBe('product-purchase');
    }
    const ac1 = server.find((s) => s.attributes.some((a) => a.key === 'alastor.invocation' && (a.value as { stringValue: string }).stringValue === ids.ac1.id))!;
    expect(ac1.service).toBe('authorize-cc');
    // The download is a client span of authorize-cc: what a tracer shows of the attack's first step.
    expect(client.some((c) => c.service === 'authorize-cc' && c.attributes.some((a) => a.key === 'url.full' && String((a.value as { stringValue: string }).stringValue).includes('payload.js')))).toBe(true);
  });
});
