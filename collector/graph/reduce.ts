// Graph reduction, measured as a ratio. Two rules, both configurable:
//
// 1. merge: parallel edges (same from, to and relation) collapse into their earliest one, as long as
//    the node they point to has no backward edge with a time between the merged ones. A backward walk
//    that reached `to` through any of them then enters it at a time from which exactly the same
//    edges are eligible, so every backward-trace answer (the nodes and roots reached) is unchanged.
// 2. prune: reads (used) of files under immutable runtime paths (any node_modules, /usr, /lib, the
//    template; a rule is a prefix, or '*fragment' found anywhere) are dropped, with the file nodes left isolated, provided the file version was never
//    written in the graph (a planted file in node_modules is kept). They are leaves of every walk.
import { TIME_SLACK_US, type Graph, type GraphEdge } from './model';

export interface ReductionRules {
  merge: boolean;
  /** Path prefixes ('*fragment' = anywhere in the path) whose never-written files are pruned when only read. */
  prune: string[];
}

export const DEFAULT_RULES: ReductionRules = {
  merge: true,
  prune: ['*/node_modules/', '/usr/', '/lib/', '/lib64/', '/bin/', '/sbin/', '/etc/ld.so.cache', '/proc/', '/sys/', '/dev/', '/home/app/node_modules/', '/home/app/function/node_modules/', '/home/app/index.js', '/home/app/package.json', '/home/app/alastor-otel.js'],
};

export interface ReductionStats { nodesBefore: number; edgesBefore: number; nodesAfter: number; edgesAfter: number; merged: number; pruned: number }

export function parseRules(text: string): ReductionRules {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`reduction rules are not JSON: ${(e as Error).message}`);
  }
  const r = raw as Partial<ReductionRules>;
  if (typeof r !== 'object' || r === null) throw new Error('reduction rules must be an object {"merge": bool, "prune": [prefixes]}');
  if (r.merge !== undefined && typeof r.merge !== 'boolean') throw new Error('reduction rules: "merge" must be true or false');
  if (r.prune !== undefined && (!Array.isArray(r.prune) || r.prune.some((p) => typeof p !== 'string'))) throw new Error('reduction rules: "prune" must be a list of path prefixes');
  return { merge: r.merge ?? DEFAULT_RULES.merge, prune: r.prune ?? DEFAULT_RULES.prune };
}

export function reduce(g: Graph, rules: ReductionRules = DEFAULT_RULES): { graph: Graph; stats: ReductionStats } {
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const written = new Set(g.edges.filter((e) => e.relation === 'wasGeneratedBy').map((e) => e.from));
  // A rule is a path prefix, or with a leading '*' a fragment found anywhere in the path.
  const matches = (p: string, rule: string) => (rule.startsWith('*') ? p.includes(rule.slice(1)) : p.startsWith(rule));
  const prunable = (id: string) => {
    const n = byId.get(id);
    if (!n || n.kind !== 'file' || written.has(id)) return false;
    const p = String(n.attributes.path ?? '');
    return rules.prune.some((x) => matches(p, x));
  };
  let pruned = 0;
  let edges = g.edges.filter((e) => {
    if (e.relation === 'used' && prunable(e.to)) {
      pruned++;
      return false;
    }
    return true;
  });
  let merged = 0;
  if (rules.merge) {
    const outTimes = new Map<string, number[]>(); // backward (causal) edge times per node, sorted
    for (const e of edges) {
      let a = outTimes.get(e.from);
      if (!a) outTimes.set(e.from, (a = []));
      a.push(e.time);
    }
    for (const a of outTimes.values()) a.sort((x, y) => x - y);
    const groups = new Map<string, GraphEdge[]>();
    for (const e of edges) {
      const k = `${e.from}\u0000${e.to}\u0000${e.relation}`;
      let a = groups.get(k);
      if (!a) groups.set(k, (a = []));
      a.push(e);
    }
    const kept: GraphEdge[] = [];
    for (const group of groups.values()) {
      if (group.length === 1) {
        kept.push(group[0]);
        continue;
      }
      group.sort((a, b) => a.time - b.time);
      const times = outTimes.get(group[0].to) ?? [];
      let cur = { ...group[0] };
      let count = 1;
      for (let i = 1; i < group.length; i++) {
        const e = group[i];
        // Entered at cur.time instead of e.time, the node's eligible edges are the same when none
        // falls between the two bounds (each widened by the walk's clock slack).
        if (!anyIn(times, cur.time + TIME_SLACK_US, e.time + TIME_SLACK_US) && sameMark(cur, e)) {
          count++;
          merged++;
          continue;
        }
        kept.push(count > 1 ? { ...cur, attributes: { ...cur.attributes, merged: count } } : cur);
        cur = { ...e };
        count = 1;
      }
      kept.push(count > 1 ? { ...cur, attributes: { ...cur.attributes, merged: count } } : cur);
    }
    edges = kept;
  }
  const used = new Set<string>();
  for (const e of edges) { used.add(e.from); used.add(e.to); }
  const nodes = g.nodes.filter((n) => used.has(n.id) || !prunable(n.id));
  return {
    graph: { nodes, edges },
    stats: { nodesBefore: g.nodes.length, edgesBefore: g.edges.length, nodesAfter: nodes.length, edgesAfter: edges.length, merged, pruned },
  };
}

/** True when some time t in the sorted list has lo < t <= hi. */
function anyIn(sorted: number[], lo: number, hi: number): boolean {
  let a = 0, b = sorted.length;
  while (a < b) {
    const m = (a + b) >> 1;
    if (sorted[m] <= lo) a = m + 1; else b = m;
  }
  return a < sorted.length && sorted[a] <= hi;
}

/** Edges whose trust differs are never merged: a flagged edge must not hide behind a confirmed one. */
function sameMark(a: GraphEdge, b: GraphEdge): boolean {
  return a.trust === b.trust;
}
