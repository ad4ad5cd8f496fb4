// The HTML export opened in headless Chromium (Debian's package): it renders with no network, a
// click on a node shows its attributes, and a backward walk from it reaches the root cause.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { chromium, type Browser } from 'playwright-core';
import { World, helloRetailAttack, type AttackIds } from '../support/graph-world';
import { ALASTOR } from '../support/collector';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI !== 'true') console.log(`skipping the HTML test: ${CHROMIUM} is missing (apt-get install -y chromium)`);
const maybe = haveChromium || process.env.CI === 'true' ? test : test.skip;

let w: World;
let ids: AttackIds;
let browser: Browser | undefined;
beforeAll(() => {
  w = new World();
  ids = helloRetailAttack(w);
});
afterAll(async () => {
  await browser?.close();
  w.close();
});

maybe('click a node, see its attributes, walk backward to request one', async () => {
  const page = join(w.dir, 'graph.html');
  execFileSync(process.execPath, [ALASTOR, 'graph', 'export', '--db', w.file, '--format', 'html', '--back', `sock:${ids.exfil}`, '--out', page]);
  const html = readFileSync(page, 'utf8');
  expect(html).not.toMatch(/<script[^>]+src=/i); // everything inlined
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const tab = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const requests: string[] = [];
  tab.on('request', (r) => requests.push(r.url()));
  const errors: string[] = [];
  tab.on('pageerror', (e) => errors.push(e.message));
  await tab.goto(`file://${page}`);
  await tab.waitForSelector('body[data-ready="1"]', { timeout: 20000 });
  expect(errors).toEqual([]);

  // Laid out in two dimensions, not a single row (what a breadth-first layout made of this graph).
  const extent = await tab.evaluate(() => {
    const b = (globalThis as any).cy.nodes().boundingBox();
    return { w: b.w, h: b.h };
  });
  expect(extent.h).toBeGreaterThan(extent.w / 4);
  // The trace's path reaches the page: drawn as the path, from the exfiltration's socket.
  const onPath = await tab.evaluate(() => (globalThis as any).cy.nodes('.path').map((n: any) => n.id()));
  expect(onPath).toContain(`sock:${ids.exfil}`);
  expect(onPath.length).toBeGreaterThan(2);

  // Find where the planted script's process is drawn and click it like a person would.
  const target = await tab.evaluate(() => {
    const cy = (globalThis as any).cy;
    const n = cy.nodes().filter((x: any) => /^node \/tmp\/evil\.js/.test(x.data('label')))[0];
    const p = n.renderedPosition();
    const box = (globalThis as any).document.getElementById('cy').getBoundingClientRect();
    return { id: n.id(), label: n.data('label'), x: box.left + p.x, y: box.top + p.y };
  });
  await tab.mouse.click(target.x, target.y);
  await tab.waitForFunction((label) => (globalThis as any).document.getElementById('title').textContent === label, target.label, { timeout: 5000 });
  const attrs = await tab.textContent('#attrs');
  expect(attrs).toContain(target.id);
  expect(attrs).toContain('argv');
  expect(attrs).toContain('4243');

  await tab.click('#back');
  await tab.waitForSelector('#result[data-count]');
  const result = await tab.textContent('#result');
  expect(result).toMatch(/Roots/);
  expect(result).toContain('request: POST /'); // the external requests
  expect(result).toContain('remote: 127.0.0.1:7777'); // the attacker's download server
  const count = Number(await tab.getAttribute('#result', 'data-count'));
  expect(count).toBeGreaterThan(10);
  expect(requests.every((u) => u.startsWith('file://'))).toBe(true);
}, 60000);

maybe('an act attributed by a guess is drawn as one, with its level in the label', async () => {
  const g = new World();
  try {
    const A = g.instance('fn');
    const a = g.start('fn', A);
    const b = g.start('fn', A);
    g.syscall(A, 'fn', b.id, { syscall: 'openat', pid: 100, paths: [{ name: '/tmp/either', nametype: 'CREATE', inode: 5 }], alsoIn: [a.id], attribution: 'guess', basis: 'time' });
    g.end(a);
    g.end(b);
    const page = join(g.dir, 'levels.html');
    execFileSync(process.execPath, [ALASTOR, 'graph', 'export', '--db', g.file, '--format', 'html', '--out', page]);
    browser ??= await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
    const tab = await browser.newPage();
    await tab.goto(`file://${page}`);
    await tab.waitForSelector('body[data-ready="1"]', { timeout: 20000 });
    const guessed = await tab.evaluate(() => (globalThis as any).cy.edges('[level = "guess"]').map((e: any) => [e.data('label'), e.style('line-style')]));
    // The write to each candidate: the named one and the alternative.
    expect(guessed.length).toBe(2);
    for (const [label, style] of guessed) {
      expect(label).toMatch(/^wasGeneratedBy.*\[guess\]$/);
      expect(style).toBe('dotted');
    }
  } finally {
    g.close();
  }
}, 60000);
