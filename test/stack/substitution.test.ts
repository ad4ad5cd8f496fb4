// Stack files: faas-cli's environment substitution, parsed for real and then run for real under
// `alastor up` (fwatchdog per function, gateway headers), and stopped with `alastor down`.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envsubst } from '../../cli/stack/envsubst';
import { parseStackText } from '../../cli/stack/parse';
import { ALASTOR_CLI, startUp } from '../support/stack-up';

function run(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { timeout: 60000 }, (_err, stdout, stderr) => resolve({ stdout, stderr }));
  });
}

describe('envsubst (faas-cli forms)', () => {
  const env = { NAME: 'shop', EMPTY: '', TAG: '1.2' };
  test('expands ${VAR}, $VAR, ${VAR:-default}, ${VAR-default} and $$', () => {
    expect(envsubst('a ${NAME} $NAME/$TAG', env)).toBe('a shop shop/1.2');
    expect(envsubst('${MISSING:-d1} ${EMPTY:-d2} ${EMPTY-d3} ${MISSING-d4} ${NAME:-x}', env)).toBe('d1 d2  d4 shop');
    expect(envsubst('cost: $$5 ${MISSING}.', env)).toBe('cost: $5 .');
  });
  test('names the line of a bad reference', () => {
    expect(() => envsubst('a: 1\nb: ${NAME', env, 'stack.yml')).toThrow('stack.yml:2: unterminated "${"');
    expect(() => envsubst('x: ${NAME:?oops}', env, 'stack.yml')).toThrow('stack.yml:1: unsupported form');
  });
});

describe('parseStackText', () => {
  const text = [
    'provider:',
    '  name: openfaas',
    '  gateway: http://127.0.0.1:${GW_PORT:-8080}',
    'functions:',
    '  echo:',
    '    lang: ${LANG_NAME:-node-alastor}',
    '    handler: ./echo',
    '    image: ${REGISTRY:-local}/echo:${TAG}',
    '    environment:',
    '      GREETING: ${GREETING:-hello}',
    '      PORT_NUMBER: 3000',
  ].join('\n');

  test('substitutes before parsing, with defaults', () => {
    const s = parseStackText(text, '/x/stack.yml', { TAG: '0.3', GW_PORT: '9999' });
    expect(s.provider.gateway).toBe('http://127.0.0.1:9999');
    expect(s.functions).toHaveLength(1);
    const f = s.functions[0];
    expect(f).toMatchObject({ name: 'echo', lang: 'node-alastor', handler: '/x/echo', image: 'local/echo:0.3' });
    expect(f.environment).toEqual({ GREETING: 'hello', PORT_NUMBER: '3000' });
    expect(parseStackText(text, '/x/stack.yml', { GREETING: 'hi', TAG: '1' }).functions[0].environment.GREETING).toBe('hi');
  });

  test('rejects a function without lang or handler with a clear message', () => {
    expect(() => parseStackText('functions:\n  a:\n    handler: ./a\n', 's.yml', {})).toThrow('s.yml: functions.a: missing "lang"');
    expect(() => parseStackText('functions:\n  a:\n    lang: x\n', 's.yml', {})).toThrow('functions.a: missing "handler"');
    expect(() => parseStackText('functions: [1, 2]\n', 's.yml', {})).toThrow('functions: expected a map');
    expect(() => parseStackText('functions:\n  Bad_Name:\n    lang: x\n    handler: y\n', 's.yml', {})).toThrow('lower-case');
  });
});

describe('alastor up with a substituted stack file', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'alastor-stack-'));
    mkdirSync(join(dir, 'echo'));
    writeFileSync(
      join(dir, 'echo', 'handler.js'),
      `module.exports = async (event, context) => context.status(200).succeed({
         greeting: process.env.GREETING, farewell: process.env.FAREWELL, path: event.path, query: event.query,
         callId: event.headers['x-call-id'], startTime: event.headers['x-start-time'], forwardedFor: event.headers['x-forwarded-for'],
       });\n`,
    );
    writeFileSync(join(dir, 'echo', 'package.json'), '{"name":"echo","version":"1.0.0","dependencies":{}}\n');
    writeFileSync(
      join(dir, 'stack.yml'),
      [
        'version: 1.0',
        'provider:',
        '  name: openfaas',
        '  gateway: http://127.0.0.1:8080',
        'functions:',
        '  ${FN_NAME:-echo}:',
        '    lang: node-alastor',
        '    handler: ./echo',
        '    environment:',
        '      GREETING: ${GREETING:-hello}',
        '      FAREWELL: ${FAREWELL}',
      ].join('\n'),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('the function sees the substituted environment and the gateway headers; down stops it', async () => {
    const stateDir = join(dir, 'state');
    const env: NodeJS.ProcessEnv = { ...process.env, FAREWELL: 'bye' };
    delete env.GREETING;
    delete env.FN_NAME;
    const up = await startUp(join(dir, 'stack.yml'), ['--audit', 'off', '--no-provenance', '--state-dir', stateDir], env);
    try {
      expect(up.output()).toMatch(/echo\s+ready\s+http:\/\/127\.0\.0\.1:\d+\/function\/echo/);
      const res = await fetch(`${up.gatewayUrl}/function/echo/some/path?q=1`);
      expect(res.status).toBe(200);
      const callId = res.headers.get('x-call-id');
      expect(callId).toMatch(/^[0-9a-f-]{36}$/);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ greeting: 'hello', farewell: 'bye', path: '/some/path', query: { q: '1' }, callId, forwardedFor: '127.0.0.1' });
      expect(Number(body.startTime) / 1e6).toBeGreaterThan(Date.now() - 60000);
      expect((await fetch(`${up.gatewayUrl}/function/nope`)).status).toBe(404);
      expect(existsSync(join(stateDir, 'up.json'))).toBe(true);

      // Asynchronously: this process must stay free to reap `alastor up` when it exits.
      const down = await run([ALASTOR_CLI, 'down', join(dir, 'stack.yml'), '--state-dir', stateDir]);
      expect(down.stderr).toBe('');
      expect(down.stdout).toMatch(/stopped the stack/);
      expect(await up.exited).toBe(0);
      expect(existsSync(join(stateDir, 'up.json'))).toBe(false);
    } finally {
      await up.stop();
    }
  }, 120000);

  test('a missing template is one clear line', () => {
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'functions:\n  x:\n    lang: no-such-template\n    handler: ./echo\n');
    const r = spawnSync(process.execPath, [ALASTOR_CLI, 'up', bad, '--port', '0', '--state-dir', join(dir, 'bad-state')], { encoding: 'utf8', timeout: 30000 });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^alastor: template "no-such-template" not found \(looked in .*\)$/);
  });
});
