// One self-contained interactive page: the graph data and Cytoscape.js inlined, no network needed.
// It is read as a story in time: nodes laid out left to right by time, a lane per function
// instance (timeline-layout.ts), and, for a backward trace, the path to the root cause drawn first
// and strongest with the file that carried the attack from one invocation to the next called out.
// Click a node to see its attributes; walk backward (causes) or forward (impact) from it with the
// same time-respecting rule the CLI uses.
import { readFileSync } from 'node:fs';
import type { Graph, GraphEdge, GraphNode } from '../graph/model';
import { STRUCTURAL, TIME_SLACK_US } from '../graph/model';
import { assignLanes, fitText, formatOffset, layoutTimeline, wrapText, FONT, LABEL_MARGIN, LANE_FONT, LINE_HEIGHT, TICK_FONT, type TimelineItem } from './timeline-layout';

// scripts/build.mjs defines this as the text of cytoscape.min.js, so the bundled CLI carries it;
// when running from sources (tests, ts-node) it is read from node_modules instead.
declare const __ALASTOR_CYTOSCAPE__: string | undefined;

export function cytoscapeSource(): string {
  if (typeof __ALASTOR_CYTOSCAPE__ === 'string') return __ALASTOR_CYTOSCAPE__;
  // Built from parts so the bundler leaves this fallback alone.
  return readFileSync(require.resolve(['cytoscape', 'dist', 'cytoscape.min.js'].join('/')), 'utf8');
}

/** JSON that is safe inside a <script> element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const STYLE = `
body{margin:0;font:13px/1.4 system-ui,sans-serif;display:flex;height:100vh;color:#222}
#cy{flex:1;min-width:0}
#side{width:380px;border-left:1px solid #ccc;padding:10px;overflow:auto;background:#fafafa}
#side h1{font-size:15px;margin:0 0 6px} #side h2{font-size:13px;margin:12px 0 4px}
table{border-collapse:collapse;width:100%} td{border-top:1px solid #e4e4e4;padding:2px 4px;vertical-align:top;word-break:break-all}
td.k{color:#555;white-space:nowrap;width:1%} button{margin:2px 4px 2px 0}
.legend span{display:inline-block;margin-right:8px} .sw{width:10px;height:10px;display:inline-block;margin-right:3px;vertical-align:middle}
.legend .ln{width:18px;height:0;border-top:4px solid #c62828;display:inline-block;margin-right:3px;vertical-align:middle}
#result li,#story li{cursor:pointer} #story ol{padding-left:22px;margin:4px 0} #story .t{color:#666;font-variant-numeric:tabular-nums}
#story .planted{color:#a34d00;font-weight:bold}
`;

const COLORS: Record<string, string> = {
  function: '#7b5ea7', instance: '#9d86c7', workflow: '#777', invocation: '#2a6fdb', process: '#2aa198',
  request: '#e0a100', message: '#e07b00', file: '#5c9e31', socket: '#b35c00', remote: '#d33',
};

const PATH_COLOR = '#c62828';
const PLANTED_COLOR = '#e07b00';
/** Widest label line drawn; the full text is in the side panel. */
const LABEL_MAX = 190;
// Drawn sizes (diameter and border) per role; the layout spaces nodes by the same numbers.
const SIZE = { quiet: [12, 3], path: [18, 2], marked: [22, 4] } as const;

/** How sure the edge's attribution is, as collector/graph/trace.ts edgeLevel() says. */
function level(e: GraphEdge): string {
  const a = e.attributes ?? {};
  if (a.alternative || a.alsoIn || e.trust === 'guess' || a.level === 'guess') return 'guess';
  if (e.trust === 'claimed' || a.level === 'claimed') return 'claimed';
  if (a.level === 'corroborated') return 'corroborated';
  return 'exact';
}

/** What a trace adds to a graph (collector/graph/trace.ts TraceResult); a plain graph has none. */
export interface PathInfo { path?: string[]; start?: string[]; direction?: string }

interface Planted { file: string; writer: string; reader: string; text: string[] }

/** The invocation a node acted in: itself, the one a process was born in, or its starter's. */
function ownerOf(id: string, byId: Map<string, GraphNode>, startedBy: Map<string, string>, madeBy: Map<string, string>): string {
  let cur = id;
  for (let hop = 0; hop < 16; hop++) {
    const n = byId.get(cur);
    if (n?.kind === 'invocation') return cur;
    if (typeof n?.attributes.bornIn === 'string') return `inv:${n.attributes.bornIn}`;
    const next = startedBy.get(cur) ?? madeBy.get(cur);
    if (!next) break;
    cur = next;
  }
  return id;
}

/**
 * Files on the path written by one invocation and read by another: how the attack crossed from
 * the request that planted the file to the later one that ran it in the same warm container.
 */
function plantedFiles(g: Graph, path: string[]): Planted[] {
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const startedBy = new Map<string, string>(), madeBy = new Map<string, string>();
  const rel = new Set<string>();
  for (const e of g.edges) {
    if (e.relation === 'wasStartedBy') startedBy.set(e.from, e.to);
    if (e.relation === 'wasGeneratedBy' && !madeBy.has(e.from)) madeBy.set(e.from, e.to);
    rel.add(`${e.from}|${e.relation}|${e.to}`);
  }
  const name = (inv: string) => {
    const n = byId.get(inv);
    if (!n) return inv;
    const a = n.attributes;
    return n.kind === 'invocation' && a.function && a.seq !== undefined ? `${String(a.function)} #${String(a.seq)}` : n.label;
  };
  const out: Planted[] = [];
  for (let i = 1; i + 1 < path.length; i++) {
    const [reader, file, writer] = [path[i - 1], path[i], path[i + 1]];
    if (byId.get(file)?.kind !== 'file') continue;
    if (!rel.has(`${reader}|used|${file}`) || !rel.has(`${file}|wasGeneratedBy|${writer}`)) continue;
    const r = ownerOf(reader, byId, startedBy, madeBy), w = ownerOf(writer, byId, startedBy, madeBy);
    if (r === w) continue;
    out.push({ file, writer, reader, text: [`PLANTED FILE, warm-container link:`, `written by ${name(w)}, read by ${name(r)}`] });
  }
  return out;
}

interface Element { group: 'nodes' | 'edges'; data: Record<string, unknown>; position?: { x: number; y: number }; classes?: string; selectable?: boolean; grabbable?: boolean }

/** The page's elements: the graph's nodes at their timeline places, its edges, and the lanes and time axis behind them. */
export function pageElements(g: Graph & PathInfo): { elements: Element[]; planted: Planted[]; path: string[] } {
  const ids = new Set(g.nodes.map((n) => n.id));
  // A reduced or filtered graph may lack some of the trace's nodes; the path is what is still joined.
  const path: string[] = [];
  for (const id of g.path ?? []) {
    if (!ids.has(id)) break;
    path.push(id);
  }
  const onPath = new Set(path);
  const pathStep = new Set(path.slice(1).map((id, i) => `${path[i]}|${id}`));
  const planted = plantedFiles(g, path);
  const plantedIds = new Set(planted.map((p) => p.file));
  const root = path.length > 1 ? path[path.length - 1] : undefined;
  const start = path.length > 1 ? path[0] : undefined;

  const { laneOf, lanes } = assignLanes(g);
  const items: TimelineItem[] = [];
  const roleOf = (id: string) => (id === root || plantedIds.has(id) ? 'marked' : onPath.has(id) ? 'path' : 'quiet');
  const lines = new Map<string, string[]>();
  for (const n of g.nodes) {
    const l = [fitText(n.label, LABEL_MAX)];
    if (n.id === root) l.push('ROOT CAUSE');
    if (n.id === start) l.push(g.direction === 'forward' ? 'the walk starts here' : 'walked back from here');
    for (const p of planted) if (p.file === n.id) l.push(...p.text.flatMap((t) => wrapText(t, LABEL_MAX)));
    lines.set(n.id, l);
    const [size, border] = SIZE[roleOf(n.id)];
    items.push({ id: n.id, time: n.time, lane: laneOf.get(n.id)!, lines: l, radius: size / 2 + border, first: onPath.has(n.id) });
  }
  const t = layoutTimeline(items, lanes);

  const els: Element[] = [];
  const width = t.right - t.left;
  t.lanes.forEach((lane, i) => {
    els.push({ group: 'nodes', data: { id: `lane:${lane.key}`, w: width, h: lane.height }, position: { x: t.left + width / 2, y: lane.top + lane.height / 2 }, classes: `deco band ${i % 2 ? 'odd' : 'even'}`, selectable: false, grabbable: false });
    els.push({ group: 'nodes', data: { id: `lanelabel:${lane.key}`, display: lane.label.join('\n') }, position: { x: lane.labelX, y: lane.labelY }, classes: 'deco lanelabel', selectable: false, grabbable: false });
  });
  const axisTop = t.lanes.length ? t.lanes[0].top : t.bottom;
  t.ticks.forEach((tick, i) => {
    els.push({ group: 'nodes', data: { id: `grid:${i}`, h: t.bottom - axisTop }, position: { x: tick.x, y: (axisTop + t.bottom) / 2 }, classes: 'deco grid', selectable: false, grabbable: false });
    els.push({ group: 'nodes', data: { id: `tick:${i}`, display: tick.label }, position: { x: tick.x, y: tick.y }, classes: 'deco tick', selectable: false, grabbable: false });
  });
  const quiet = path.length > 1 ? ' quiet' : '';
  for (const n of g.nodes) {
    const cls = ['g', onPath.has(n.id) ? 'path' : quiet.trim(), n.id === root ? 'root' : '', n.id === start ? 'start' : '', plantedIds.has(n.id) ? 'planted' : ''].filter(Boolean).join(' ');
    els.push({
      group: 'nodes', position: t.positions[n.id], classes: cls,
      data: { id: n.id, label: n.label, display: lines.get(n.id)!.join('\n'), kind: n.kind, color: COLORS[n.kind] ?? '#999', flagged: n.attributes.flagged ? 1 : 0, lane: laneOf.get(n.id), time: n.time ?? null },
    });
  }
  const link = new Set(planted.flatMap((p) => [`${p.reader}|${p.file}`, `${p.file}|${p.writer}`]));
  g.edges.forEach((e, i) => {
    const l = level(e);
    const k = `${e.from}|${e.to}`;
    const cls = pathStep.has(k) ? `g path${link.has(k) ? ' link' : ''}` : `g${quiet}`;
    els.push({ group: 'edges', classes: cls, data: { id: `e${i}`, source: e.from, target: e.to, label: e.relation + (e.trust ? ` (${e.trust})` : '') + (l !== 'exact' ? ` [${l}]` : ''), trust: e.trust ?? '', level: l, idx: i } });
  });
  return { elements: els, planted, path };
}

/** Cytoscape's stylesheet; sizes and fonts match what the layout planned for. */
function styles(): unknown[] {
  const node = (role: keyof typeof SIZE) => ({ width: SIZE[role][0], height: SIZE[role][0], 'border-width': SIZE[role][1] });
  return [
    { selector: 'node', style: {
      'background-color': 'data(color)', label: 'data(display)', 'font-size': FONT, 'text-halign': 'right', 'text-valign': 'center', 'text-margin-x': LABEL_MARGIN,
      'text-wrap': 'wrap', 'text-max-width': 4000, 'text-justification': 'left', 'line-height': LINE_HEIGHT, 'border-width': 0, 'border-color': '#fff', width: 12, height: 12,
      'text-background-color': '#fff', 'text-background-opacity': 0.8, 'text-background-padding': 1, 'z-index-compare': 'manual', 'z-index': 4 } },
    { selector: 'node[flagged = 1]', style: { 'border-width': SIZE.quiet[1], 'border-color': '#d00' } },
    { selector: 'node.deco', style: { events: 'no', 'background-opacity': 0, 'text-background-opacity': 0, 'z-index': 0, width: 1, height: 1 } },
    { selector: 'node.band', style: { shape: 'rectangle', width: 'data(w)', height: 'data(h)', 'background-opacity': 1, label: '' } },
    { selector: 'node.band.even', style: { 'background-color': '#f3f3f8' } },
    { selector: 'node.band.odd', style: { 'background-color': '#ffffff' } },
    { selector: 'node.grid', style: { shape: 'rectangle', width: 1, height: 'data(h)', 'background-opacity': 1, 'background-color': '#e2e2e8', label: '', 'z-index': 1 } },
    { selector: 'node.lanelabel', style: { 'font-size': LANE_FONT, 'font-weight': 'bold', color: '#555', 'text-margin-x': 0 } },
    { selector: 'node.tick', style: { 'font-size': TICK_FONT, color: '#666', shape: 'rectangle', width: 1, height: 8, 'background-opacity': 1, 'background-color': '#999', 'text-margin-x': 3 } },
    { selector: 'edge', style: { width: 1, 'line-color': '#bbb', 'target-arrow-color': '#bbb', 'target-arrow-shape': 'triangle', 'curve-style': 'bezier', 'font-size': 7, label: '', color: '#555', 'z-index-compare': 'manual', 'z-index': 2, 'text-background-color': '#fff', 'text-background-opacity': 0.9 } },
    { selector: 'edge[trust = "confirmed"]', style: { 'line-color': '#2a2', 'target-arrow-color': '#2a2' } },
    { selector: 'edge[trust = "claimed"]', style: { 'line-color': '#e90', 'target-arrow-color': '#e90', 'line-style': 'dashed' } },
    { selector: 'edge[trust = "flagged"]', style: { 'line-color': '#d00', 'target-arrow-color': '#d00', 'line-style': 'dotted', width: 2 } },
    { selector: 'edge[level = "guess"]', style: { 'line-color': '#86c', 'target-arrow-color': '#86c', 'line-style': 'dotted' } },
    { selector: 'edge[level = "corroborated"]', style: { 'line-style': 'dashed' } },
    { selector: '.quiet', style: { opacity: 0.4 } },
    { selector: 'node.path', style: { ...node('path'), 'border-color': '#222', 'font-weight': 'bold', color: '#000', 'z-index': 11 } },
    { selector: 'node.root', style: { ...node('marked'), 'border-color': PATH_COLOR } },
    { selector: 'node.start', style: { 'border-color': PATH_COLOR } },
    { selector: 'node.planted', style: { ...node('marked'), 'border-color': PLANTED_COLOR, color: '#a34d00', shape: 'round-rectangle' } },
    { selector: 'edge.path', style: { width: 4, 'line-color': PATH_COLOR, 'target-arrow-color': PATH_COLOR, 'z-index': 10, 'arrow-scale': 1.2 } },
    { selector: 'edge.link', style: { width: 6, 'line-color': PLANTED_COLOR, 'target-arrow-color': PLANTED_COLOR } },
    { selector: 'edge.show, edge:selected', style: { label: 'data(label)', 'z-index': 12 } },
    { selector: '.dim', style: { opacity: 0.15 } },
    { selector: '.hit', style: { opacity: 1 } },
    { selector: 'node.hit', style: { 'border-width': 2, 'border-color': '#000' } },
    { selector: ':selected', style: { 'border-width': 4, 'border-color': '#f0f' } },
  ];
}

// The page's script: plain JS, no template substitutions inside.
const PAGE_JS = `
(function(){
var G = JSON.parse(document.getElementById('graph-data').textContent);
var ELS = JSON.parse(document.getElementById('elements').textContent);
var STYLE = JSON.parse(document.getElementById('style').textContent);
var STRUCT = JSON.parse(document.getElementById('structural').textContent);
var SLACK = Number(document.getElementById('slack').textContent);
var byId = {}; G.nodes.forEach(function(n){ byId[n.id] = n; });
// Positions come with the elements (a time-lane layout computed when the page was written), so the
// same graph always looks the same and the investigator's eye can return to a place.
var cy = window.cy = cytoscape({
  container: document.getElementById('cy'), elements: ELS, wheelSensitivity: 0.3,
  layout: { name:'preset', fit:true, padding:16 }, style: STYLE
});
// A long story fitted into the window would be unreadably small: start at the beginning instead.
if (cy.zoom() < 0.5) { cy.zoom(0.5); cy.pan({ x: 10, y: 10 }); }
var out = {}, inn = {};
G.edges.forEach(function(e){ if (STRUCT.indexOf(e.relation) >= 0) return; (out[e.from] = out[e.from] || []).push(e); (inn[e.to] = inn[e.to] || []).push(e); });
function walk(start, back){
  var bound = {}; bound[start] = back ? Infinity : -Infinity; var q = [start]; var edges = [];
  while (q.length) {
    var next = [];
    q.forEach(function(n){
      if (byId[n] && byId[n].kind === 'remote' && n !== start) return;
      ((back ? out[n] : inn[n]) || []).forEach(function(e){
        if (e.trust === 'flagged') return;
        if (back ? e.time > bound[n] + SLACK : e.time < bound[n] - SLACK) return;
        var m = back ? e.to : e.from; edges.push(e);
        if (m in bound && (back ? e.time <= bound[m] : e.time >= bound[m])) return;
        bound[m] = e.time; next.push(m);
      });
    });
    q = next;
  }
  return { nodes: Object.keys(bound), edges: edges };
}
var current = null;
function fmt(v){ return typeof v === 'object' ? JSON.stringify(v) : String(v); }
function iso(us){ return new Date(us/1000).toISOString(); }
function row(k, v){ return '<tr><td class="k">'+esc(k)+'</td><td>'+esc(v)+'</td></tr>'; }
function show(id){
  var n = byId[id]; current = id; if (!n) return;
  var rows = row('id', n.id) + row('kind', n.kind);
  if (n.time != null) rows += row('time', iso(n.time));
  Object.keys(n.attributes||{}).forEach(function(k){ rows += row(k, fmt(n.attributes[k])); });
  document.getElementById('title').textContent = n.label;
  document.getElementById('attrs').innerHTML = rows;
  document.getElementById('actions').style.display = 'block';
}
function showEdge(edge){
  var e = G.edges[edge.data('idx')]; current = null; if (!e) return;
  var rows = row('relation', e.relation) + row('level', edge.data('level')) + (e.trust ? row('trust', e.trust) : '') + row('time', iso(e.time)) + row('evidence', e.evidence || '');
  rows += row('from', (byId[e.from] ? byId[e.from].label + ' ' : '') + e.from) + row('to', (byId[e.to] ? byId[e.to].label + ' ' : '') + e.to);
  Object.keys(e.attributes||{}).forEach(function(k){ rows += row(k, fmt(e.attributes[k])); });
  document.getElementById('title').textContent = edge.data('label');
  document.getElementById('attrs').innerHTML = rows;
  document.getElementById('actions').style.display = 'none';
}
function esc(s){ return String(s).replace(/&/g,'&amp;').replace(/</g,'&lt;').replace(/>/g,'&gt;'); }
function highlight(r, back){
  cy.elements('.g').addClass('dim').removeClass('hit');
  var set = {}; r.nodes.forEach(function(id){ set[id] = 1; cy.getElementById(id).removeClass('dim').addClass('hit'); });
  cy.edges().forEach(function(e){ if (set[e.data('source')] && set[e.data('target')]) e.removeClass('dim').addClass('hit'); });
  var roots = back ? r.nodes.filter(function(id){ var n = byId[id]; return n && (n.kind === 'remote' || (n.kind === 'request' && n.attributes.external === true)); }) : [];
  var html = '<b>' + (back ? 'Backward' : 'Forward') + ':</b> ' + r.nodes.length + ' nodes, ' + r.edges.length + ' edges';
  if (back) html += '<h2>Roots</h2><ul>' + roots.map(function(id){ return '<li data-id="'+esc(id)+'">'+esc(byId[id].kind+': '+byId[id].label)+'</li>'; }).join('') + '</ul>';
  html += '<h2>Reached</h2><ul>' + r.nodes.map(function(id){ return '<li data-id="'+esc(id)+'">'+esc(byId[id].kind+': '+byId[id].label)+'</li>'; }).join('') + '</ul>';
  var el = document.getElementById('result'); el.innerHTML = html; el.setAttribute('data-count', String(r.nodes.length));
}
cy.on('tap', 'node.g', function(ev){ show(ev.target.id()); });
cy.on('tap', 'edge', function(ev){ showEdge(ev.target); });
cy.on('mouseover', 'edge', function(ev){ ev.target.addClass('show'); });
cy.on('mouseout', 'edge', function(ev){ ev.target.removeClass('show'); });
document.getElementById('back').onclick = function(){ if (current) highlight(walk(current, true), true); };
document.getElementById('fwd').onclick = function(){ if (current) highlight(walk(current, false), false); };
document.getElementById('reset').onclick = function(){ cy.elements().removeClass('dim hit'); document.getElementById('result').innerHTML = ''; };
function pick(ev){
  var t = ev.target; while (t && t.getAttribute && !t.getAttribute('data-id')) t = t.parentNode;
  var id = t && t.getAttribute && t.getAttribute('data-id');
  if (id) { show(id); cy.$(':selected').unselect(); cy.getElementById(id).select(); }
}
document.getElementById('result').onclick = pick;
document.getElementById('story').onclick = pick;
document.body.setAttribute('data-ready', '1');
})();
`;

/** The path in words, from the root cause forward in time, for the side panel. */
function storyHtml(g: Graph, path: string[], planted: Planted[]): string {
  if (path.length < 2) return '';
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const times = path.map((p) => byId.get(p)?.time).filter((x): x is number => x !== undefined);
  const origin = times.length ? Math.min(...times) : undefined;
  const items = [...path].reverse().map((p) => {
    const n = byId.get(p)!;
    const when = n.time === undefined || origin === undefined ? '' : n.time === origin ? new Date(Math.floor(n.time / 1000)).toISOString().slice(11, 23) : formatOffset(n.time - origin);
    const mark = planted.find((x) => x.file === p);
    return `<li data-id="${esc(p)}"><span class="t">${esc(when)}</span> ${esc(n.kind)}: ${esc(n.label)}${mark ? `<div class="planted">${esc(mark.text.join(' '))}</div>` : ''}</li>`;
  });
  return `<h2>Path to the root cause, in time order</h2><ol>${items.join('')}</ol>`;
}

export function toHtml(g: Graph & PathInfo, title = 'Alastor provenance graph'): string {
  const { elements, planted, path } = pageElements(g);
  const legend = Object.entries(COLORS).map(([k, c]) => `<span><i class="sw" style="background:${c}"></i>${k}</span>`).join('')
    + (path.length > 1 ? `<span><i class="ln"></i>path to the root cause</span><span><i class="ln" style="border-color:${PLANTED_COLOR}"></i>planted file</span>` : '');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">
<style>${STYLE}</style></head>
<body><div id="cy"></div>
<div id="side"><h1>${esc(title)}</h1>
<div class="legend">${legend}</div>
<p>${g.nodes.length} nodes, ${g.edges.length} edges, left to right in time, a lane per function instance. Click a node or an edge.</p>
<div id="story">${storyHtml(g, path, planted)}</div>
<h2 id="title"></h2><table id="attrs"></table>
<div id="actions" style="display:none"><button id="back">Walk backward</button><button id="fwd">Walk forward</button><button id="reset">Reset</button></div>
<div id="result"></div></div>
<script type="application/json" id="graph-data">${scriptJson(g)}</script>
<script type="application/json" id="elements">${scriptJson(elements)}</script>
<script type="application/json" id="style">${scriptJson(styles())}</script>
<script type="application/json" id="structural">${scriptJson([...STRUCTURAL])}</script>
<script type="application/json" id="slack">${TIME_SLACK_US}</script>
<script>${cytoscapeSource().replace(/<\/script/gi, '<\\/script')}</script>
<script>${PAGE_JS}</script>
</body></html>
`;
}
