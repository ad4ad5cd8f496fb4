// Reduction: measured, and every backward-trace answer (nodes and roots reached, from every node,
// with and without a time bound) is the same before and after, apart from the pruned runtime files.
import { World, helloRetailAttack } from '../support/graph-world';
import { updateGraph } from '../../collector/graph/index';
import { loadGraph } from '../../collector/graph/read';
import { traceBack } from '../../collector/graph/trace';
import { walkGraph } from '../../collector/graph/walk';
import { DEFAULT_RULES, parseRules, reduce } from '../../collector/graph/reduce';
import type { Graph, GraphEdge, GraphNode, Relation } from '../../collector/graph/model';

function sameAnswers(full: Graph, reduced: Graph, bounds: Array<number | undefined>): number {
  const kept = new Set(reduced.nodes.map((n) => n.id));
  let compared = 0;
  for (const n of full.nodes) {
    if (!kept.has(n.id)) continue;
    for (const until of bounds) {
      const a = walkGraph(full, [n.id], 'backward', { until });
      const b = walkGraph(reduced, [n.id], 'backward', { until });
      expect([...b.nodes].sort()).toEqual([...a.nodes].filter((x) => kept.has(x)).sort());
      expect([...b.roots].sort()).toEqual([...a.roots].sort());
      compared++;
    }
  }
  return compared;
}

test('on the attack graph: runtime reads pruned, repeated loads merged, answers unchanged', () => {
  const w = new World();
  try {
    helloRetailAttack(w);
    updateGraph(w.db);
    const full = loadGraph(w.db);
    // The in-memory walk is the store's walk: same nodes and roots from the exfiltration socket.
    const exfil = full.nodes.find((n) => n.kind === 'socket' && n.attributes.remote === '127.0.0.1:9999')!;
    const sql = traceBack(w.db, exfil.id);
    const mem = walkGraph(full, [exfil.id], 'backward');
    expect([...mem.nodes].sort()).toEqual(sql.nodes.map((n) => n.id).sort());
    expect([...mem.roots].sort()).toEqual([...sql.roots!].sort());

    const { graph, stats } = reduce(full);
    expect(stats.pruned).toBeGreaterThan(0);
    expect(stats.edgesAfter).toBeLessThan(stats.edgesBefore);
    expect(graph.nodes.some((n) => String(n.attributes.path).includes('node_modules'))).toBe(false);
    expect(graph.nodes.some((n) => n.attributes.path === '/tmp/evil.js')).toBe(true);
    const times = [...new Set(full.edges.map((e) => e.time))].sort((a, b) => a - b);
    expect(sameAnswers(full, graph, [undefined, times[Math.floor(times.length / 3)], times[Math.floor((2 * times.length) / 3)]])).toBeGreaterThan(100);
  } finally {
    w.close();
  }
});

test('on random graphs with many parallel edges: merges happen and no backward answer changes', () => {
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const kinds: GraphNode['kind'][] = ['process', 'file', 'invocation', 'socket', 'remote', 'request'];
  const rels: Relation[] = ['used', 'wasGeneratedBy', 'wasStartedBy', 'wasDerivedFrom', 'wasInformedBy'];
  let merged = 0;
  for (let round = 0; round < 5; round++) {
    const nodes: GraphNode[] = Array.from({ length: 40 }, (_, i) => {
      const kind = kinds[rnd(kinds.length)];
      return { id: `n${i}`, kind, label: `n${i}`, attributes: kind === 'request' ? { external: rnd(2) === 0 } : kind === 'file' ? { path: rnd(3) ? `/tmp/f${i}` : `/usr/lib/f${i}` } : {} };
    });
    const edges: GraphEdge[] = [];
    for (let i = 0; i < 300; i++) {
      const from = `n${rnd(40)}`, to = `n${rnd(40)}`;
      const k = 1 + rnd(4);
      const rel = rels[rnd(rels.length)];
      for (let j = 0; j < k; j++) edges.push({ from, to, relation: rel, time: rnd(200), evidence: 'syscall' });
    }
    const full = { nodes, edges };
    const { graph, stats } = reduce(full, { merge: true, prune: ['/usr/'] });
    merged += stats.merged;
    sameAnswers(full, graph, [undefined, 50, 100, 150]);
  }
  expect(merged).toBeGreaterThan(20);
});

test('rules are configurable and bad rules are refused with one clear line', () => {
  expect(parseRules('{"merge": false}')).toEqual({ merge: false, prune: DEFAULT_RULES.prune });
  expect(parseRules('{"prune": ["/opt/"]}').prune).toEqual(['/opt/']);
  expect(() => parseRules('{"prune": "/usr"}')).toThrow(/"prune" must be a list of path prefixes/);
  expect(() => parseRules('nope')).toThrow(/not JSON/);
});
