// `alastor graph show|export|stats|rebuild`
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { usToIso } from '../../events';
import { rebuildGraph } from '../../collector/graph/index';
import { loadGraph } from '../../collector/graph/read';
import { DEFAULT_RULES, parseRules, reduce, type ReductionRules } from '../../collector/graph/reduce';
import { traceBack, traceForward } from '../../collector/graph/trace';
import { showInvocations, tracingView } from '../../collector/graph/views';
import type { Graph } from '../../collector/graph/model';
import { exportGraph, FORMATS, type Format } from '../../collector/export/index';
import { openGraphStore, traceOptions } from './trace';
import { isPostgresUrl } from '../../collector/store/target';
import { openStore } from '../../collector/store/open';

function rulesFrom(file?: string): ReductionRules {
  return file ? parseRules(readFileSync(file, 'utf8')) : DEFAULT_RULES;
}

function view(g: Graph, name?: string): Graph {
  if (!name || name === 'provenance') return g;
  if (name === 'tracing') return tracingView(g);
  throw new Error(`--view: unknown view "${name}" (provenance or tracing)`);
}

function printGraph(g: Graph): string {
  const lines = [`${g.nodes.length} nodes, ${g.edges.length} edges`, ''];
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  for (const n of [...g.nodes].sort((a, b) => (a.time ?? 0) - (b.time ?? 0))) {
    lines.push(`${n.time ? usToIso(n.time) : '-'.padEnd(27)}  ${n.kind.padEnd(10)} ${n.label}${n.attributes.flagged ? `  FLAGGED: ${String(n.attributes.flagged)}` : ''}`);
  }
  lines.push('');
  for (const e of [...g.edges].sort((a, b) => a.time - b.time)) {
    lines.push(`${usToIso(e.time)}  ${byId.get(e.from)?.label ?? e.from}  -${e.relation}${e.trust ? ` (${e.trust})` : ''}->  ${byId.get(e.to)?.label ?? e.to}  [${e.evidence}]`);
  }
  return lines.join('\n') + '\n';
}

export function register(program: Command): void {
  const graph = program.command('graph').description('the global provenance graph: show, export, reduction figures');

  graph
    .command('show <selector>')
    .description('an invocation (or every invocation of a trace id) with what it touched and its caller/callees')
    .requiredOption('--db <file|url>', 'SQLite store or postgres:// URL written by the collector')
    .option('--json', 'JSON for scripts: { nodes, edges }')
    .option('--view <name>', 'provenance (default) or tracing (only requests and spans)')
    .option('--reduce', 'apply the reduction rules')
    .option('--rules <file>', 'reduction rules (JSON: {"merge": bool, "prune": [prefixes]})')
    .action((selector: string, o: { db: string; json?: boolean; view?: string; reduce?: boolean; rules?: string }) => {
      const db = openGraphStore(o.db);
      try {
        let g = view(showInvocations(db, selector), o.view);
        if (o.reduce) g = reduce(g, rulesFrom(o.rules)).graph;
        process.stdout.write(o.json ? `${JSON.stringify(g, null, 2)}\n` : printGraph(g));
      } finally {
        db.close();
      }
    });

  graph
    .command('export')
    .description('write the graph (or a part of it) as Graphviz DOT, W3C PROV-JSON, OTLP/JSON traces, or one interactive HTML page')
    .requiredOption('--db <file|url>', 'SQLite store or postgres:// URL written by the collector')
    .requiredOption('--format <format>', FORMATS.join(' | '))
    .option('--out <file>', 'write here instead of stdout')
    .option('--view <name>', 'provenance (default) or tracing; otlp always uses tracing')
    .option('--select <selector>', 'only this invocation or trace id (as `graph show`)')
    .option('--back <node>', 'only the backward trace from this node')
    .option('--forward <node>', 'only the forward trace from this node')
    .option('--reduce', 'apply the reduction rules')
    .option('--rules <file>', 'reduction rules (JSON)')
    .action((o: { db: string; format: string; out?: string; view?: string; select?: string; back?: string; forward?: string; reduce?: boolean; rules?: string }) => {
      if (!(FORMATS as readonly string[]).includes(o.format)) throw new Error(`--format: unknown format "${o.format}" (${FORMATS.join(', ')})`);
      const db = openGraphStore(o.db);
      try {
        let g: Graph;
        let title = 'Alastor provenance graph';
        if (o.select) { g = showInvocations(db, o.select); title += `: ${o.select}`; }
        else if (o.back) { g = traceBack(db, o.back, traceOptions({ db: o.db })); title += `: backward from ${o.back}`; }
        else if (o.forward) { g = traceForward(db, o.forward, traceOptions({ db: o.db })); title += `: forward from ${o.forward}`; }
        else g = loadGraph(db);
        // A trace's path (and direction) go with it to the HTML page, which draws the path strongest.
        const { nodes, edges, ...traceFacts } = g as Graph & Record<string, unknown>;
        g = { nodes, edges };
        if (o.reduce) g = reduce(g, rulesFrom(o.rules)).graph;
        g = view(g, o.format === 'otlp' ? 'tracing' : o.view);
        if (o.format === 'html') g = { ...traceFacts, ...g };
        if (o.view === 'tracing') title += ' (tracing view)';
        const text = exportGraph(g, o.format as Format, title);
        if (o.out) writeFileSync(o.out, text);
        else process.stdout.write(text);
      } finally {
        db.close();
      }
    });

  graph
    .command('stats')
    .description('graph size before and after reduction, in total and per invocation')
    .requiredOption('--db <file|url>', 'SQLite store or postgres:// URL written by the collector')
    .option('--rules <file>', 'reduction rules (JSON)')
    .option('--json', 'JSON for scripts')
    .action((o: { db: string; rules?: string; json?: boolean }) => {
      const db = openGraphStore(o.db);
      try {
        const g = loadGraph(db);
        const { stats } = reduce(g, rulesFrom(o.rules));
        const invocations = g.nodes.filter((n) => n.kind === 'invocation').length;
        const per = (x: number) => (invocations ? Math.round((x / invocations) * 10) / 10 : 0);
        const out = { ...stats, invocations, perInvocation: { nodesBefore: per(stats.nodesBefore), edgesBefore: per(stats.edgesBefore), nodesAfter: per(stats.nodesAfter), edgesAfter: per(stats.edgesAfter) }, edgeRatio: stats.edgesBefore ? stats.edgesAfter / stats.edgesBefore : 1 };
        if (o.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        else process.stdout.write(
          `invocations: ${invocations}\nnodes: ${stats.nodesBefore} -> ${stats.nodesAfter} (per invocation ${out.perInvocation.nodesBefore} -> ${out.perInvocation.nodesAfter})\n` +
          `edges: ${stats.edgesBefore} -> ${stats.edgesAfter} (per invocation ${out.perInvocation.edgesBefore} -> ${out.perInvocation.edgesAfter}; ratio ${out.edgeRatio.toFixed(3)})\n` +
          `merged: ${stats.merged}  pruned reads: ${stats.pruned}\n`);
      } finally {
        db.close();
      }
    });

  graph
    .command('rebuild')
    .description('drop the derived graph and build it again from the raw events')
    .requiredOption('--db <file|url>', 'SQLite store or postgres:// URL written by the collector')
    .action((o: { db: string }) => {
      if (!isPostgresUrl(o.db) && !existsSync(o.db)) throw new Error(`--db: ${o.db} does not exist`);
      const db = openStore(o.db);
      try {
        const r = rebuildGraph(db);
        process.stdout.write(`rebuilt from ${r.events} events\n`);
      } finally {
        db.close();
      }
    });
}

