// faas-cli's `configuration: copy:` in a stack file: each listed path is copied into every
// function's build at function/<path>, so handlers share code without keeping copies of it. Run
// for real under `alastor up` (the handler requires the copied module and is called through the
// gateway), and a bad path stops `alastor up` with one line naming the entry.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseStackText } from '../../cli/stack/parse';
import { ALASTOR_CLI, startUp } from '../support/stack-up';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'alastor-copy-'));
  mkdirSync(join(dir, 'common', 'deep'), { recursive: true });
  writeFileSync(join(dir, 'common', 'lib.js'), `exports.greet = (who) => 'hello ' + who + ' ' + require('./deep/mark');\n`);
  writeFileSync(join(dir, 'common', 'deep', 'mark.js'), `module.exports = '(from common)';\n`);
  writeFileSync(join(dir, 'motto.txt'), 'shared motto\n');
  for (const fn of ['one', 'two']) {
    mkdirSync(join(dir, 'functions', fn), { recursive: true });
    writeFileSync(
      join(dir, 'functions', fn, 'handler.js'),
      `const fs = require('node:fs');
       const { greet } = require('./common/lib');
       module.exports = async () => ({ fn: '${fn}', text: greet('${fn}'), motto: fs.readFileSync(__dirname + '/motto.txt', 'utf8').trim() });\n`,
    );
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function stackFile(name: string, copy: string[]): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    [
      'provider:',
      '  name: openfaas',
      'configuration:',
      '  copy:',
      ...copy.map((c) => `    - ${c}`),
      'functions:',
      '  one:',
      '    lang: node-alastor',
      '    handler: ./functions/one',
      '  two:',
      '    lang: node-alastor',
      '    handler: ./functions/two',
    ].join('\n'),
  );
  return file;
}

describe('configuration.copy in parseStackText', () => {
  const text = (copy: string) => `configuration:\n  copy: ${copy}\nfunctions:\n  a:\n    lang: node-alastor\n    handler: ./functions/one\n`;
  test('each path lands at function/<path as written, cleaned>, for every function', () => {
    const s = parseStackText(text('[./common, common/deep/, motto.txt]'), join(dir, 'stack.yml'), {});
    const want = [
      { from: join(dir, 'common'), to: 'common' },
      { from: join(dir, 'common', 'deep'), to: 'common/deep' },
      { from: join(dir, 'motto.txt'), to: 'motto.txt' },
    ];
    expect(s.copy).toEqual(want);
    expect(s.functions[0].copy).toEqual(want);
    expect(parseStackText('functions:\n  a:\n    lang: x\n    handler: y\n', join(dir, 's.yml'), {}).copy).toEqual([]);
  });
  test('bad entries are refused with the entry named', () => {
    const f = join(dir, 's.yml');
    expect(() => parseStackText(text('[./nope]'), f, {})).toThrow(`${f}: configuration.copy[0]: "./nope" does not exist (looked for ${join(dir, 'nope')})`);
    expect(() => parseStackText(text('[./common, ../outside]'), f, {})).toThrow(`${f}: configuration.copy[1]: "../outside" is outside the stack file's folder`);
    expect(() => parseStackText(text('[.]'), f, {})).toThrow('configuration.copy[0]: "." is the whole stack folder');
    expect(() => parseStackText(text('./common'), f, {})).toThrow('configuration.copy: expected a list of paths');
    expect(() => parseStackText(text('[[a]]'), f, {})).toThrow('configuration.copy[0]: expected a path');
    expect(() => parseStackText('configuration: [1]\nfunctions:\n  a:\n    lang: x\n    handler: y\n', f, {})).toThrow('configuration: expected a map');
  });
});

describe('alastor up with configuration.copy', () => {
  test('every function requires the copied module and reads the copied file, called through the gateway', async () => {
    const stateDir = join(dir, 'state');
    const up = await startUp(stackFile('stack.yml', ['./common', 'motto.txt']), ['--audit', 'off', '--no-provenance', '--state-dir', stateDir]);
    try {
      for (const fn of ['one', 'two']) {
        const res = await fetch(`${up.gatewayUrl}/function/${fn}`);
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ fn, text: `hello ${fn} (from common)`, motto: 'shared motto' });
        // Where faas-cli puts them, which is what the template's Dockerfile copies into the image.
        expect(existsSync(join(stateDir, 'build', fn, 'function', 'common', 'deep', 'mark.js'))).toBe(true);
        expect(existsSync(join(stateDir, 'build', fn, 'function', 'motto.txt'))).toBe(true);
      }
    } finally {
      expect(await up.stop()).toBe(0);
    }
  }, 120000);

  test('a missing copy path stops the start with one clear line and a non-zero status', () => {
    const file = stackFile('missing.yml', ['./common', './no-such-folder']);
    const r = spawnSync(process.execPath, [ALASTOR_CLI, 'up', file, '--port', '0', '--state-dir', join(dir, 'missing-state')], { encoding: 'utf8', timeout: 30000 });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`alastor: ${file}: configuration.copy[1]: "./no-such-folder" does not exist (looked for ${join(dir, 'no-such-folder')})`);
  });

  test('a copy path outside the stack folder is refused the same way', () => {
    const file = stackFile('outside.yml', ['../']);
    const r = spawnSync(process.execPath, [ALASTOR_CLI, 'up', file, '--port', '0', '--state-dir', join(dir, 'outside-state')], { encoding: 'utf8', timeout: 30000 });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^alastor: \S+outside\.yml: configuration\.copy\[0\]: "\.\.\/" is outside the stack file's folder \(.*\); faas-cli copies only paths inside it$/);
  });
});
