// The investigation page read as a story in time (issue 16, item 7): the backward trace from the
// exfiltration, written the way the demo writes investigation.html (toHtml of the TraceResult),
// opened in headless Chromium. The path to the root cause runs left to right in time order, no two
// labels overlap, the path is drawn strongest with the planted file called out, lanes are per
// function instance, and a click still shows a node's attributes.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { chromium, type Browser, type Page } from 'playwright-core';
import { World, helloRetailAttack, type AttackIds } from '../support/graph-world';
import { ALASTOR } from '../support/collector';
import { updateGraph } from '../../collector/graph/index';
import { traceBack, type TraceResult } from '../../collector/graph/trace';
import { toHtml } from '../../collector/export/html';
import { assignLanes, layoutTimeline, textWidth, type TimelineItem } from '../../collector/export/timeline-layout';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI !== 'true') console.log(`skipping the HTML timeline tests: ${CHROMIUM} is missing (apt-get install -y chromium)`);
const maybe = haveChromium || process.env.CI === 'true' ? test : test.skip;

let w: World;
let ids: AttackIds;
let trace: TraceResult;
let browser: Browser | undefined;
beforeAll(() => {
  w = new World();
  ids = helloRetailAttack(w);
  updateGraph(w.db);
  trace = traceBack(w.db, `sock:${ids.exfil}`);
});
afterAll(async () => {
  await browser?.close();
  w.close();
});

async function open(file: string): Promise<Page> {
  browser ??= await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const tab = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors: string[] = [];
  tab.on('pageerror', (e) => errors.push(e.message));
  await tab.goto(`file://${file}`);
  await tab.waitForSelector('body[data-ready="1"]', { timeout: 20000 });
  expect(errors).toEqual([]);
  return tab;
}

interface Box { id: string; x1: number; x2: number; y1: number; y2: number }

/** Every label drawn on the page (graph nodes, lane names, time ticks), as rendered boxes. */
function labelBoxes(tab: Page): Promise<Box[]> {
  return tab.evaluate(() => {
    const cy = (globalThis as any).cy;
    return cy.nodes().filter((n: any) => n.style('label') !== '' && n.style('display') !== 'none').map((n: any) => {
      const b = n.renderedBoundingBox({ includeNodes: false, includeEdges: false, includeLabels: true });
      return { id: n.id(), x1: b.x1, x2: b.x2, y1: b.y1, y2: b.y2 };
    });
  });
}

function overlaps(boxes: Box[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      if (a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2) out.push(`${a.id} / ${b.id}`);
    }
  }
  return out;
}

maybe('the path to the root cause runs left to right in time, no labels overlap, the path and the planted file stand out', async () => {
  expect(trace.path?.length).toBeGreaterThan(3);
  const file = join(w.dir, 'investigation.html');
  writeFileSync(file, toHtml(trace, 'Hello, Retail!: backward trace from the exfiltration connection'));
  const tab = await open(file);

  const times = new Map(trace.nodes.map((n) => [n.id, n.time ?? null]));
  const drawn: Array<{ id: string; x: number; y: number; lane: string; opacity: number; classes: string[]; display: string }> = await tab.evaluate((graphIds) =>
    (globalThis as any).cy.nodes().filter((n: any) => graphIds.includes(n.id())).map((n: any) => ({
      id: n.id(), x: n.renderedPosition().x, y: n.renderedPosition().y, lane: n.data('lane'),
      opacity: Number(n.style('opacity')), classes: n.classes(), display: n.data('display'),
    })), [...times.keys()]);
  const nodes = drawn.map((n) => ({ ...n, time: times.get(n.id)! }));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  expect(nodes.length).toBe(trace.nodes.length);

  // Time order along the path, root cause first: x grows with time (equal times share a column).
  const path = [...trace.path!].reverse().map((id) => byId.get(id)!);
  const inTime = [...path].sort((a, b) => a.time! - b.time!);
  for (let i = 1; i < inTime.length; i++) {
    const [a, b] = [inTime[i - 1], inTime[i]];
    if (a.time! < b.time!) expect(b.x).toBeGreaterThan(a.x + 5);
    else expect(Math.abs(b.x - a.x)).toBeLessThan(0.5);
  }
  // And so for every node, not just the path's.
  const all = [...nodes].sort((a, b) => a.time! - b.time!);
  for (let i = 1; i < all.length; i++) if (all[i - 1].time! < all[i].time!) expect(all[i].x).toBeGreaterThan(all[i - 1].x);

  // No two labels overlap: the nodes', the lanes' and the time axis'.
  const boxes = await labelBoxes(tab);
  expect(boxes.length).toBeGreaterThan(trace.nodes.length);
  expect(overlaps(boxes)).toEqual([]);

  // A lane per function instance: the authorize-cc invocations, their processes and the planted
  // file share one; the attacker's request and the remote endpoints are in the outside lane, on top.
  const lane = (id: string) => byId.get(id)!.lane;
  expect(lane(`inv:${ids.ac1.id}`)).toBe(`inst:${ids.ac1.instance}`);
  expect(lane(`inv:${ids.ac2.id}`)).toBe(`inst:${ids.ac1.instance}`);
  const fileNode = nodes.find((n) => n.classes.includes('planted'))!;
  expect(fileNode).toBeDefined();
  expect(fileNode.id).toMatch(/\/tmp\/evil\.js/);
  expect(lane(fileNode.id)).toBe(`inst:${ids.ac1.instance}`);
  const root = trace.path![trace.path!.length - 1];
  expect(lane(root)).toBe('outside');
  expect(lane(`remote:${ids.attacker}`)).toBe('outside');
  const outsideBottom = Math.max(...nodes.filter((n) => n.lane === 'outside').map((n) => n.y));
  expect(Math.min(...nodes.filter((n) => n.lane !== 'outside').map((n) => n.y))).toBeGreaterThan(outsideBottom);
  const laneLabels = (await labelBoxes(tab)).map((b) => b.id).filter((x) => x.startsWith('lanelabel:'));
  expect(laneLabels).toEqual(expect.arrayContaining(['lanelabel:outside', `lanelabel:inst:${ids.ac1.instance}`]));
  expect((await tab.evaluate(() => (globalThis as any).cy.nodes('.tick').length)) as number).toBeGreaterThan(2);

  // The path strongest: its nodes at full opacity and its edges thick and on top; the rest faded.
  // The planted file says who wrote it and who read it.
  for (const p of path) expect(p.opacity).toBe(1);
  expect(Math.max(...nodes.filter((n) => !trace.path!.includes(n.id)).map((n) => n.opacity))).toBeLessThan(1);
  const edges: Array<{ path: boolean; link: boolean; width: number; z: number; opacity: number }> = await tab.evaluate(() =>
    (globalThis as any).cy.edges().map((e: any) => ({ path: e.hasClass('path'), link: e.hasClass('link'), width: parseFloat(e.style('width')), z: Number(e.style('z-index')), opacity: Number(e.style('opacity')) })));
  const onPath = edges.filter((e) => e.path), off = edges.filter((e) => !e.path);
  expect(onPath.length).toBeGreaterThanOrEqual(trace.path!.length - 1);
  expect(Math.min(...onPath.map((e) => e.width))).toBeGreaterThan(Math.max(...off.map((e) => e.width)));
  expect(Math.min(...onPath.map((e) => e.z))).toBeGreaterThan(Math.max(...off.map((e) => e.z)));
  expect(Math.max(...off.map((e) => e.opacity))).toBeLessThan(1);
  expect(onPath.filter((e) => e.link).length).toBe(2); // written by request one, read by request two
  expect(fileNode.display).toMatch(/PLANTED FILE/);
  expect(fileNode.display).toContain('written by authorize-cc #1');
  expect(fileNode.display).toContain('read by authorize-cc #2');
  expect(byId.get(root)!.display).toContain('ROOT CAUSE');
  const story = await tab.textContent('#story');
  expect(story).toMatch(/Path to the root cause/);
  expect(story).toContain('PLANTED FILE');

  // Click-to-inspect still works: the planted file, where it is drawn.
  const at = await tab.evaluate((id) => {
    const n = (globalThis as any).cy.getElementById(id);
    const p = n.renderedPosition();
    const box = (globalThis as any).document.getElementById('cy').getBoundingClientRect();
    return { x: box.left + p.x, y: box.top + p.y, label: n.data('label') };
  }, fileNode.id);
  await tab.mouse.click(at.x, at.y);
  await tab.waitForFunction((label) => (globalThis as any).document.getElementById('title').textContent === label, at.label, { timeout: 5000 });
  const attrs = await tab.textContent('#attrs');
  expect(attrs).toContain(fileNode.id);
  expect(attrs).toContain('4711'); // the inode
}, 60000);

maybe('the whole graph, exported by the CLI, is laid out in time with no overlapping labels', async () => {
  const file = join(w.dir, 'whole.html');
  execFileSync(process.execPath, [ALASTOR, 'graph', 'export', '--db', w.file, '--format', 'html', '--out', file]);
  const tab = await open(file);
  const nodes: Array<{ x: number; time: number | null }> = await tab.evaluate(() =>
    (globalThis as any).cy.nodes('.g').map((n: any) => ({ x: n.renderedPosition().x, time: n.data('time') })));
  expect(nodes.length).toBeGreaterThan(40);
  const all = [...nodes].sort((a, b) => a.time! - b.time!);
  for (let i = 1; i < all.length; i++) {
    if (all[i - 1].time! < all[i].time!) expect(all[i].x).toBeGreaterThan(all[i - 1].x);
    else expect(Math.abs(all[i].x - all[i - 1].x)).toBeLessThan(0.5);
  }
  expect(overlaps(await labelBoxes(tab))).toEqual([]);
}, 60000);

test('the layout is deterministic, and rows in a lane keep labels apart by their estimated widths', () => {
  const { laneOf, lanes } = assignLanes(trace);
  const items: TimelineItem[] = trace.nodes.map((n) => ({ id: n.id, time: n.time, lane: laneOf.get(n.id)!, lines: [n.label], radius: 8, first: trace.path!.includes(n.id) }));
  const a = layoutTimeline(items, lanes);
  const b = layoutTimeline([...items].reverse(), lanes);
  expect(b.positions).toEqual(a.positions);
  for (const x of items) {
    for (const y of items) {
      if (x.id >= y.id) continue;
      const [p, q] = [a.positions[x.id], a.positions[y.id]];
      if (Math.abs(p.y - q.y) > 1) continue;
      // Same row: one's label ends before the other's node begins.
      const [l, r] = p.x <= q.x ? [[p, x], [q, y]] as const : [[q, y], [p, x]] as const;
      expect(l[0].x + 8 + textWidth(l[1].lines[0])).toBeLessThan(r[0].x - 8);
    }
  }
  // Nothing without an instance lands in an instance's lane unless it was made or used there.
  expect(laneOf.get(`remote:${ids.attacker}`)).toBe('outside');
  expect(laneOf.get(`sock:${ids.exfil}`)).toBe(`inst:${ids.ac1.instance}`);
});
