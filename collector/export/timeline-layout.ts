// Where each node of the HTML page goes: a time-lane layout, as trace viewers draw spans. x is the
// rank of the node's time among the graph's distinct times (a burst of acts a microsecond apart
// still gets one column each, and a quiet minute costs no space); y is a lane per function instance,
// with lanes of their own for what belongs to none (the outside world, traces, functions). Inside a
// lane, nodes are packed into rows so that no label runs into another: every label's width is
// estimated from above, and the page cuts nothing longer than the layout planned for.
import type { Graph, GraphNode } from '../graph/model';

export const FONT = 9;
export const LANE_FONT = 10;
export const TICK_FONT = 8;
/** Cytoscape's line-height for labels; the page sets the same. */
export const LINE_HEIGHT = 1.2;
/** Gap between a node's right edge and its label (text-margin-x in the page). */
export const LABEL_MARGIN = 4;
/** Horizontal distance between two successive distinct times. */
export const STEP = 40;
const GAP = 8;
const ROW_GAP = 6;
const LANE_PAD = 8;

// Widths in em, taken from above over the fonts a browser falls back to for sans-serif (DejaVu Sans
// bold is the widest of the usual ones; Helvetica and Arial are narrower), so an estimate is never
// short of what is drawn: an overlap would need the page to draw wider than planned.
const NARROW = new Set(" '.,:;|!ijlIJ/\\()[]-ftr`\"");
const WIDE = new Set('mwMW@%');
const BROAD = new Set('#+<=>^~&');
function charEm(c: string): number {
  if (c.charCodeAt(0) > 126) return 1.1;
  if (NARROW.has(c)) return 0.5;
  if (WIDE.has(c)) return 1.1;
  if (BROAD.has(c) || (c >= 'A' && c <= 'Z')) return 0.86;
  return 0.73;
}

/** An upper bound of the drawn width of one line of text, in px. */
export function textWidth(s: string, fontSize = FONT): number {
  let em = 0;
  for (const c of s) em += charEm(c);
  return Math.ceil(em * fontSize * 1.06);
}

/** The text, cut with an ellipsis so that its width stays within max. */
export function fitText(s: string, max: number, fontSize = FONT): string {
  if (textWidth(s, fontSize) <= max) return s;
  const chars = [...s];
  let lo = 0, hi = chars.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (textWidth(chars.slice(0, mid).join('') + '…', fontSize) <= max) lo = mid;
    else hi = mid - 1;
  }
  return chars.slice(0, lo).join('') + '…';
}

/** Words laid into lines of at most max px; a word longer than a line is cut. */
export function wrapText(s: string, max: number, fontSize = FONT): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of s.split(/\s+/).filter(Boolean)) {
    const next = line ? `${line} ${word}` : word;
    if (textWidth(next, fontSize) <= max) line = next;
    else {
      if (line) lines.push(line);
      line = fitText(word, max, fontSize);
    }
  }
  if (line) lines.push(line);
  return lines;
}

export interface LaneSpec { key: string; label: string[] }

export const OUTSIDE = 'outside';
const KIND_LANES: Record<string, string> = { workflow: 'traces', function: 'functions' };
const LANE_TITLES: Record<string, string[]> = {
  outside: ['outside', 'clients, remote endpoints'],
  traces: ['traces'],
  functions: ['functions'],
};

/**
 * The lane of every node. Instance-bound nodes (invocations, processes, files, the instance
 * itself) name their instance; requests from outside and remote endpoints are the outside world;
 * a call, an internal request or a socket goes where the act that made or took it ran.
 */
export function assignLanes(g: Graph): { laneOf: Map<string, string>; lanes: LaneSpec[] } {
  const laneOf = new Map<string, string>();
  const instanceLabel = new Map<string, string>();
  for (const n of g.nodes) {
    const own = ownLane(n);
    if (own) laneOf.set(n.id, own);
    if (n.kind === 'instance') instanceLabel.set(n.id.slice('inst:'.length), n.label);
  }
  // A node without a lane of its own follows its neighbours: first the activity that made it
  // (the caller for a call, not the callee that answered it), then one that used it, then any.
  const made = new Map<string, string[]>(), usedBy = new Map<string, string[]>(), near = new Map<string, string[]>();
  const push = (m: Map<string, string[]>, k: string, v: string) => { const l = m.get(k); if (l) l.push(v); else m.set(k, [v]); };
  for (const e of g.edges) {
    if (e.relation === 'wasGeneratedBy' && !e.attributes?.role) push(made, e.from, e.to);
    if (e.relation === 'used') push(usedBy, e.to, e.from);
    push(near, e.from, e.to);
    push(near, e.to, e.from);
  }
  for (let round = 0; round < 3; round++) {
    for (const n of g.nodes) {
      if (laneOf.has(n.id)) continue;
      const from = [made, usedBy, near].map((m) => (m.get(n.id) ?? []).map((id) => laneOf.get(id)).find((l) => l && l !== OUTSIDE && !(l in LANE_TITLES)));
      const lane = from.find(Boolean);
      if (lane) laneOf.set(n.id, lane);
    }
  }
  for (const n of g.nodes) if (!laneOf.has(n.id)) laneOf.set(n.id, n.kind === 'request' || n.kind === 'socket' || n.kind === 'message' ? OUTSIDE : n.kind);

  // Outside and traces on top, then instances in the order they first act, then the rest.
  const first = new Map<string, number>();
  for (const n of g.nodes) {
    const l = laneOf.get(n.id)!;
    const t = n.time ?? -Infinity;
    if (!first.has(l) || t < first.get(l)!) first.set(l, t);
  }
  const top = [OUTSIDE, 'traces'];
  const instances = [...first.keys()].filter((l) => l.startsWith('inst:'));
  const rest = [...first.keys()].filter((l) => !top.includes(l) && !l.startsWith('inst:'));
  const byFirst = (a: string, b: string) => first.get(a)! - first.get(b)! || (a < b ? -1 : a > b ? 1 : 0);
  const order = [...top.filter((l) => first.has(l)), ...instances.sort(byFirst), ...rest.sort(byFirst)];
  const lanes = order.map((key): LaneSpec => {
    if (key.startsWith('inst:')) {
      const id = key.slice('inst:'.length);
      const label = instanceLabel.get(id);
      return { key, label: label && label !== id ? [id, label.replace(/ @ .*$/, '')] : [id] };
    }
    return { key, label: LANE_TITLES[key] ?? [key] };
  });
  return { laneOf, lanes };
}

function ownLane(n: GraphNode): string | undefined {
  if (n.kind === 'instance') return n.id;
  const inst = n.attributes.instance;
  if (typeof inst === 'string' && inst) return `inst:${inst}`;
  if (n.kind === 'remote' || (n.kind === 'request' && n.attributes.external === true)) return OUTSIDE;
  return KIND_LANES[n.kind];
}

export interface TimelineItem {
  id: string;
  time?: number;
  lane: string;
  /** The label's lines as drawn (already cut to width). */
  lines: string[];
  /** Half the node's drawn width, border included. */
  radius: number;
  /** Packed first, into the lane's top rows (the path to the root cause). */
  first?: boolean;
}

export interface PlacedLane { key: string; label: string[]; top: number; height: number; labelX: number; labelY: number }
export interface Tick { x: number; y: number; label: string; time: number }

export interface Timeline {
  positions: Record<string, { x: number; y: number }>;
  lanes: PlacedLane[];
  ticks: Tick[];
  /** Leftmost and rightmost x drawn, and the bottom of the last lane. */
  left: number;
  right: number;
  bottom: number;
}

const labelHeight = (lines: number, fontSize = FONT) => Math.ceil(lines * fontSize * LINE_HEIGHT) + 4;

/** Sorted, disjoint intervals; whether [a, b] can join without touching any of them. */
function fits(row: Array<[number, number]>, a: number, b: number): boolean {
  let lo = 0, hi = row.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (row[mid][1] + GAP <= a) lo = mid + 1;
    else hi = mid;
  }
  return lo === row.length || row[lo][0] >= b + GAP;
}
function insert(row: Array<[number, number]>, a: number, b: number): void {
  let i = row.length;
  while (i > 0 && row[i - 1][0] > a) i--;
  row.splice(i, 0, [a, b]);
}

export function formatOffset(us: number): string {
  const ms = us / 1000;
  if (ms < 10) return `+${Math.round(ms * 10) / 10} ms`;
  if (ms < 1000) return `+${Math.round(ms)} ms`;
  if (ms < 60000) return `+${(ms / 1000).toFixed(2)} s`;
  const s = Math.round(ms / 1000);
  return `+${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

export function layoutTimeline(items: TimelineItem[], lanes: LaneSpec[]): Timeline {
  const times = [...new Set(items.map((i) => i.time ?? -Infinity))].sort((a, b) => a - b);
  const rank = new Map(times.map((t, i) => [t, i]));
  const laneLabelWidth = Math.max(60, ...lanes.flatMap((l) => l.label.map((s, i) => textWidth(s, i ? FONT : LANE_FONT))));
  const x0 = laneLabelWidth + 40;
  const xOf = (t: number | undefined) => x0 + rank.get(t ?? -Infinity)! * STEP;

  const inLane = new Map<string, TimelineItem[]>(lanes.map((l) => [l.key, []]));
  for (const it of items) {
    let l = inLane.get(it.lane);
    if (!l) inLane.set(it.lane, (l = []));
    if (!lanes.some((x) => x.key === it.lane)) lanes = [...lanes, { key: it.lane, label: [it.lane] }];
    l.push(it);
  }

  const positions: Timeline['positions'] = {};
  const placed: PlacedLane[] = [];
  let right = x0;
  const tickRowHeight = labelHeight(1, TICK_FONT) + 10;
  let y = tickRowHeight;
  for (const lane of lanes) {
    const members = inLane.get(lane.key) ?? [];
    // Left to right, path nodes first so they share the lane's top rows and read as one line.
    const order = [...members].sort((a, b) => (a.first ? 0 : 1) - (b.first ? 0 : 1) || xOf(a.time) - xOf(b.time) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const rows: Array<Array<[number, number]>> = [];
    const rowHeight: number[] = [];
    const rowFirst: boolean[] = [];
    const rowOf = new Map<string, number>();
    for (const it of order) {
      const x = xOf(it.time);
      const a = x - it.radius - 2;
      const b = x + it.radius + LABEL_MARGIN + Math.max(0, ...it.lines.map((s) => textWidth(s))) + 4;
      right = Math.max(right, b);
      let r = rows.findIndex((row, i) => rowFirst[i] === !!it.first && fits(row, a, b));
      if (r < 0) {
        r = rows.length;
        rows.push([]);
        rowHeight.push(0);
        rowFirst.push(!!it.first);
      }
      insert(rows[r], a, b);
      rowHeight[r] = Math.max(rowHeight[r], 2 * it.radius + 2, labelHeight(it.lines.length));
      rowOf.set(it.id, r);
    }
    const labelH = labelHeight(lane.label.length, LANE_FONT);
    const rowTop: number[] = [];
    let h = LANE_PAD;
    for (let r = 0; r < rows.length; r++) {
      rowTop.push(h);
      h += rowHeight[r] + ROW_GAP;
    }
    const height = Math.max(h - ROW_GAP + LANE_PAD, labelH + 2 * LANE_PAD);
    for (const it of members) {
      const r = rowOf.get(it.id)!;
      positions[it.id] = { x: xOf(it.time), y: y + rowTop[r] + rowHeight[r] / 2 };
    }
    placed.push({ key: lane.key, label: lane.label, top: y, height, labelX: 8, labelY: y + LANE_PAD + labelH / 2 });
    y += height;
  }

  // The time axis: a tick where the path stands first, then wherever another fits.
  const ticks: Tick[] = [];
  const taken: Array<[number, number]> = [];
  const origin = times.find((t) => t !== -Infinity);
  const tickText = (t: number) => (t === -Infinity ? 'no time' : t === origin ? new Date(Math.floor(t / 1000)).toISOString().slice(11, 23) + ' UTC' : formatOffset(t - origin!));
  const pathTimes = new Set(items.filter((i) => i.first).map((i) => i.time ?? -Infinity));
  for (const pass of [true, false]) {
    for (const t of times) {
      if (pathTimes.has(t) !== pass) continue;
      const x = xOf(t);
      const label = tickText(t);
      const b = x + 3 + textWidth(label, TICK_FONT) + 2;
      if (!fits(taken, x - 2, b)) continue;
      insert(taken, x - 2, b);
      right = Math.max(right, b);
      ticks.push({ x, y: tickRowHeight / 2, label, time: t });
    }
  }
  ticks.sort((a, b) => a.x - b.x);
  return { positions, lanes: placed, ticks, left: 0, right: right + 10, bottom: y };
}
