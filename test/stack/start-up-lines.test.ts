// What `alastor up` says at start-up, through the real command: when a handler's npm install fails,
// npm's error lines that name the cause (not only its pointer to a log file); when a template comes
// from the template/ folder beside the stack file (as faas-cli takes it) rather than the bundled
// one, a line saying so. The npm case makes one quick install fail against the real registry with a
// version that cannot exist.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUp } from '../support/stack-up';

const TEMPLATE = join(__dirname, '..', '..', 'function-templates', 'template', 'node-alastor');

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'alastor-startup-lines-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function stack(where: string, pkg?: object): string {
  mkdirSync(join(where, 'fn'), { recursive: true });
  writeFileSync(join(where, 'fn', 'handler.js'), `module.exports = async () => 'ok';\n`);
  if (pkg) writeFileSync(join(where, 'fn', 'package.json'), JSON.stringify(pkg));
  writeFileSync(join(where, 'stack.yml'), 'provider:\n  name: openfaas\nfunctions:\n  fn:\n    lang: node-alastor\n    handler: ./fn\n');
  return join(where, 'stack.yml');
}

test("a failed npm install shows npm's error lines that name the cause", async () => {
  const file = stack(join(dir, 'npm'), { name: 'fn', version: '1.0.0', dependencies: { yaml: '999.0.0-no-such-version' } });
  const err = await startUp(file, ['--audit', 'off', '--no-provenance']).then(
    async (up) => {
      await up.stop();
      return new Error('the stack started');
    },
    (e: Error) => e,
  );
  expect(err.message).toMatch(/function "fn": npm install in \S+ failed:/);
  expect(err.message).toMatch(/npm (error|ERR!) code ETARGET/);
  expect(err.message).toMatch(/npm (error|ERR!) notarget No matching version found for yaml@999\.0\.0-no-such-version/);
}, 90000);

test('a template from the template/ folder beside the stack file is named at start-up, and used', async () => {
  const where = join(dir, 'local');
  const file = stack(where);
  cpSync(TEMPLATE, join(where, 'template', 'node-alastor'), { recursive: true });
  appendFileSync(join(where, 'template', 'node-alastor', 'index.js'), `\nconsole.log('the stack folder template is running');\n`);
  const up = await startUp(file, ['--audit', 'off', '--no-provenance']);
  try {
    const res = await fetch(`${up.gatewayUrl}/function/fn`);
    expect(await res.text()).toBe('ok');
  } finally {
    expect(await up.stop()).toBe(0);
  }
  const out = up.output();
  expect(out).toContain(
    `template node-alastor: ${join(where, 'template', 'node-alastor')}, from the template/ folder beside the stack file (as faas-cli does), not the bundled one`,
  );
  expect(out).toContain('[fn] the stack folder template is running');
}, 90000);

test('the bundled templates get no such line', async () => {
  const up = await startUp(stack(join(dir, 'bundled')), ['--audit', 'off', '--no-provenance']);
  expect(await up.stop()).toBe(0);
  expect(up.output()).not.toMatch(/^template /m);
}, 90000);
