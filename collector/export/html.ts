// One self-contained interactive page: the graph data and Cytoscape.js inlined, no network needed.
// Click a node to see its attributes; walk backward (causes) or forward (impact) from it with the
// same time-respecting rule the CLI uses.
import { readFileSync } from 'node:fs';
import type { Graph } from '../graph/model';
import { STRUCTURAL, TIME_SLACK_US } from '../graph/model';

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
#result li{cursor:pointer}
`;

const COLORS: Record<string, string> = {
  function: '#7b5ea7', instance: '#9d86c7', workflow: '#777', invocation: '#2a6fdb', process: '#2aa198',
  request: '#e0a100', message: '#e07b00', file: '#5c9e31', socket: '#b35c00', remote: '#d33',
};

// The page's script: plain JS, no template substitutions inside.
const PAGE_JS = `
(function(){
var G = JSON.parse(document.getElementById('graph-data').textContent);
var STRUCT = JSON.parse(document.getElementById('structural').textContent);
var SLACK = Number(document.getElementById('slack').textContent);
var COLORS = JSON.parse(document.getElementById('colors').textContent);
var byId = {}; G.nodes.forEach(function(n){ byId[n.id] = n; });
var els = G.nodes.map(function(n){ return { group:'nodes', data:{ id:n.id, label:n.label, kind:n.kind, color:COLORS[n.kind]||'#999', flagged: n.attributes && n.attributes.flagged ? 1 : 0 } }; });
// How sure the edge's attribution is, as collector/graph/trace.ts edgeLevel() says.
function level(e){ var a = e.attributes || {}; if (a.alternative || a.alsoIn || e.trust === 'guess' || a.level === 'guess') return 'guess'; if (e.trust === 'claimed' || a.level === 'claimed') return 'claimed'; if (a.level === 'corroborated') return 'corroborated'; return 'exact'; }
G.edges.forEach(function(e, i){ var l = level(e); els.push({ group:'edges', data:{ id:'e'+i, source:e.from, target:e.to, label:e.relation + (e.trust ? ' ('+e.trust+')' : '') + (l !== 'exact' ? ' ['+l+']' : ''), trust:e.trust||'', level:l, idx:i } }); });
var big = G.nodes.length > 400;
// A force-directed layout (Cytoscape's own cose): a provenance graph has many roots (requests,
// files, remotes), and a breadth-first layout put them all, and so most nodes, in one long row.
var cy = window.cy = cytoscape({
  container: document.getElementById('cy'), elements: els, wheelSensitivity: 0.3,
  layout: big ? { name:'grid' } : { name:'cose', animate:false, randomize:false, nodeRepulsion: function(){ return 8000; }, idealEdgeLength: function(){ return 60; } },
  style: [
    { selector:'node', style:{ 'background-color':'data(color)', label:'data(label)', 'font-size':8, 'text-wrap':'ellipsis', 'text-max-width':120, width:14, height:14 } },
    { selector:'node[flagged = 1]', style:{ 'border-width':3, 'border-color':'#d00' } },
    { selector:'edge', style:{ width:1, 'line-color':'#bbb', 'target-arrow-color':'#bbb', 'target-arrow-shape':'triangle', 'curve-style':'bezier', 'font-size':6, label:'data(label)', color:'#888' } },
    { selector:'edge[trust = "confirmed"]', style:{ 'line-color':'#2a2', 'target-arrow-color':'#2a2' } },
    { selector:'edge[trust = "claimed"]', style:{ 'line-color':'#e90', 'target-arrow-color':'#e90', 'line-style':'dashed' } },
    { selector:'edge[trust = "flagged"]', style:{ 'line-color':'#d00', 'target-arrow-color':'#d00', 'line-style':'dotted', width:2 } },
    { selector:'edge[level = "guess"]', style:{ 'line-color':'#86c', 'target-arrow-color':'#86c', 'line-style':'dotted' } },
    { selector:'edge[level = "corroborated"]', style:{ 'line-style':'dashed' } },
    { selector:'.dim', style:{ opacity:0.15 } },
    { selector:'.hit', style:{ 'border-width':2, 'border-color':'#000', width:18, height:18 } },
    { selector:':selected', style:{ 'border-width':4, 'border-color':'#f0f' } }
  ]
});
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
function show(id){
  var n = byId[id]; current = id; if (!n) return;
  var rows = '<tr><td class="k">id</td><td>'+esc(n.id)+'</td></tr><tr><td class="k">kind</td><td>'+esc(n.kind)+'</td></tr>';
  if (n.time != null) rows += '<tr><td class="k">time</td><td>'+iso(n.time)+'</td></tr>';
  Object.keys(n.attributes||{}).forEach(function(k){ rows += '<tr><td class="k">'+esc(k)+'</td><td>'+esc(fmt(n.attributes[k]))+'</td></tr>'; });
  document.getElementById('title').textContent = n.label;
  document.getElementById('attrs').innerHTML = rows;
  document.getElementById('actions').style.display = 'block';
}
function esc(s){ return String(s).replace(/&/g,'&amp;').replace(/</g,'&lt;').replace(/>/g,'&gt;'); }
function highlight(r, back){
  cy.elements().addClass('dim').removeClass('hit');
  var set = {}; r.nodes.forEach(function(id){ set[id] = 1; cy.getElementById(id).removeClass('dim').addClass('hit'); });
  cy.edges().forEach(function(e){ if (set[e.data('source')] && set[e.data('target')]) e.removeClass('dim'); });
  var roots = back ? r.nodes.filter(function(id){ var n = byId[id]; return n && (n.kind === 'remote' || (n.kind === 'request' && n.attributes.external === true)); }) : [];
  var html = '<b>' + (back ? 'Backward' : 'Forward') + ':</b> ' + r.nodes.length + ' nodes, ' + r.edges.length + ' edges';
  if (back) html += '<h2>Roots</h2><ul>' + roots.map(function(id){ return '<li data-id="'+esc(id)+'">'+esc(byId[id].kind+': '+byId[id].label)+'</li>'; }).join('') + '</ul>';
  html += '<h2>Reached</h2><ul>' + r.nodes.map(function(id){ return '<li data-id="'+esc(id)+'">'+esc(byId[id].kind+': '+byId[id].label)+'</li>'; }).join('') + '</ul>';
  var el = document.getElementById('result'); el.innerHTML = html; el.setAttribute('data-count', String(r.nodes.length));
}
cy.on('tap', 'node', function(ev){ show(ev.target.id()); });
document.getElementById('back').onclick = function(){ if (current) highlight(walk(current, true), true); };
document.getElementById('fwd').onclick = function(){ if (current) highlight(walk(current, false), false); };
document.getElementById('reset').onclick = function(){ cy.elements().removeClass('dim hit'); document.getElementById('result').innerHTML = ''; };
document.getElementById('result').onclick = function(ev){ var id = ev.target.getAttribute && ev.target.getAttribute('data-id'); if (id) { show(id); cy.$(':selected').unselect(); cy.getElementById(id).select(); } };
document.body.setAttribute('data-ready', '1');
})();
`;

export function toHtml(g: Graph, title = 'Alastor provenance graph'): string {
  const legend = Object.entries(COLORS).map(([k, c]) => `<span><i class="sw" style="background:${c}"></i>${k}</span>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">
<style>${STYLE}</style></head>
<body><div id="cy"></div>
<div id="side"><h1>${esc(title)}</h1>
<div class="legend">${legend}</div>
<p>${g.nodes.length} nodes, ${g.edges.length} edges. Click a node.</p>
<h2 id="title"></h2><table id="attrs"></table>
<div id="actions" style="display:none"><button id="back">Walk backward</button><button id="fwd">Walk forward</button><button id="reset">Reset</button></div>
<div id="result"></div></div>
<script type="application/json" id="graph-data">${scriptJson(g)}</script>
<script type="application/json" id="structural">${scriptJson([...STRUCTURAL])}</script>
<script type="application/json" id="slack">${TIME_SLACK_US}</script>
<script type="application/json" id="colors">${scriptJson(COLORS)}</script>
<script>${cytoscapeSource().replace(/<\/script/gi, '<\\/script')}</script>
<script>${PAGE_JS}</script>
</body></html>
`;
}
