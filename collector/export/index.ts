// Export formats of the provenance graph.
import type { Graph } from '../graph/model';
import { toDot } from './dot';
import { toHtml } from './html';
import { toOtlp } from './otlp';
import { toProvJson } from './prov-json';

export const FORMATS = ['dot', 'prov-json', 'otlp', 'html'] as const;
export type Format = (typeof FORMATS)[number];

/** `otlp` expects the tracing view (see graph/views.ts); the others take any graph. */
export function exportGraph(g: Graph, format: Format, title?: string): string {
  switch (format) {
    case 'dot': return toDot(g);
    case 'prov-json': return JSON.stringify(toProvJson(g), null, 1) + '\n';
    case 'otlp': return JSON.stringify(toOtlp(g)) + '\n';
    case 'html': return toHtml(g, title);
  }
}

export { toDot, toHtml, toOtlp, toProvJson };
