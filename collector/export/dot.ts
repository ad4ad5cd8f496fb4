// Graphviz DOT: one node per graph node, shaped by its PROV class, edges labelled with relation.
import type { Graph } from '../graph/model';

const SHAPE: Record<string, string> = {
  function: 'house', instance: 'house', workflow: 'box', invocation: 'box', process: 'box',
  request: 'ellipse', message: 'ellipse', file: 'ellipse', socket: 'ellipse', remote: 'doubleoctagon',
};
const COLOR: Record<string, string> = { confirmed: 'darkgreen', claimed: 'orange', flagged: 'red' };

export function toDot(g: Graph, name = 'provenance'): string {
  const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
  const lines = [`digraph ${q(name)} {`, '  rankdir=RL;', '  node [fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=8];'];
  for (const n of g.nodes) {
    const flagged = n.attributes.flagged ? ', color=red, penwidth=2' : '';
    lines.push(`  ${q(n.id)} [label=${q(`${n.kind}\n${n.label}`)}, shape=${SHAPE[n.kind] ?? 'ellipse'}${flagged}];`);
  }
  for (const e of g.edges) {
    const color = e.trust ? `, color=${COLOR[e.trust]}` : '';
    const style = e.evidence === 'instrumentation' ? ', style=dashed' : '';
    lines.push(`  ${q(e.from)} -> ${q(e.to)} [label=${q(e.trust ? `${e.relation} (${e.trust})` : e.relation)}${color}${style}];`);
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}
