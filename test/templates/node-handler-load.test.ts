// How the node-alastor template loads a handler, through the real template process (index.js with
// its instrumentation) and through a real `alastor up`: Lambda-style modules that export `main` or
// `handler` are served, and a module it cannot serve (nothing callable exported, a package that is
// not installed) stops the start with one line saying why, instead of failing every request.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUp } from '../support/stack-up';
import { freePort } from '../support/watchdog';

const ROOT = join(__dirname, '..', '..');
const TEMPLATE = join(ROOT, 'function-templates', 'template', 'node-alastor');

let work: string;
beforeAll(() => (work = mkdtempSync(join(tmpdir(), 'alastor-handler-load-'))));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let apps = 0;
/** A copy of the template with this handler (and package.json, if given) in function/. */
function app(handler: string, pkg?: object): string {
  const dir = join(work, `app${++apps}`);
  cpSync(TEMPLATE, dir, { recursive: true });
  writeFileSync(join(dir, 'function', 'handler.js'), handler);
  if (pkg) writeFileSync(join(dir, 'function', 'package.json'), JSON.stringify(pkg));
  else rmSync(join(dir, 'function', 'package.json'));
  return dir;
}

interface Run {
  port: number;
  /** Resolves with the exit code and everything printed, once the process listens (code null) or exits. */
  started: Promise<{ code: number | null; output: string }>;
  kill(): void;
}

async function run(dir: string): Promise<Run> {
  const port = await freePort();
  const p = spawn(process.execPath, [join(dir, 'index.js')], {
    env: { PATH: process.env.PATH, NODE_PATH: join(ROOT, 'node_modules'), http_port: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const started = new Promise<{ code: number | null; output: string }>((resolve) => {
    for (const s of [p.stdout!, p.stderr!]) {
      s.on('data', (b: Buffer) => {
        output += b.toString();
        if (output.includes('listening on')) resolve({ code: null, output });
      });
    }
    p.once('exit', (code) => setTimeout(() => resolve({ code, output }), 50));
  });
  return { port, started, kill: () => p.kill('SIGKILL') };
}

async function served(handler: string): Promise<{ status: number; body: string }> {
  const r = await run(app(handler));
  try {
    const s = await r.started;
    expect(s.code).toBeNull();
    const res = await fetch(`http://127.0.0.1:${r.port}/some/path`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":2}' });
    return { status: res.status, body: await res.text() };
  } finally {
    r.kill();
  }
}

async function refused(handler: string, pkg?: object): Promise<string> {
  const r = await run(app(handler, pkg));
  const s = await r.started;
  r.kill();
  expect(s.code).toBe(1);
  const lines = s.output.trim().split('\n');
  // One line, no stack trace.
  expect(lines).toHaveLength(1);
  return lines[0];
}

test('a module exporting main (as written for Lambda) is served through main', async () => {
  const res = await served(`exports.main = async (event) => ({ via: 'main', path: event.path, n: event.body.n });\n`);
  expect(res).toEqual({ status: 200, body: JSON.stringify({ via: 'main', path: '/some/path', n: 2 }) });
});

test('a module exporting handler is served through handler, with its module as this', async () => {
  const res = await served(`module.exports = { prefix: 'h:', async handler(event, context) { context.status(201).succeed(this.prefix + event.body.n); } };\n`);
  expect(res).toEqual({ status: 201, body: 'h:2' });
});

test('a function export wins over main and handler', async () => {
  const res = await served(`module.exports = async () => 'itself';\nmodule.exports.main = async () => 'main';\nmodule.exports.handler = async () => 'handler';\n`);
  expect(res).toEqual({ status: 200, body: 'itself' });
});

test('a module without a function, main or handler refuses to start and says what it exports', async () => {
  expect(await refused(`module.exports = { run: async () => 1, version: '2' };\n`)).toBe(
    'node-alastor: function/handler.js exports an object with run (function), version (string); export a function (module.exports = async (event, context) => ...), or one named main or handler',
  );
  expect(await refused(`exports.main = 'not callable';\n`)).toMatch(/exports an object with main \(string\); export a function/);
  expect(await refused(`const f = () => 1;\n`)).toMatch(/exports an empty object \(nothing assigned to module.exports\)/);
});

test('a package that is not installed is named at start-up, with how to add it', async () => {
  expect(await refused(`const axios = require('axios');\nmodule.exports = async () => (await axios.get('http://127.0.0.1:9/')).data;\n`)).toBe(
    'node-alastor: function/handler.js requires the package "axios", which is not installed: add it to a package.json in the handler folder ("dependencies": { "axios": "<version>" }) and start again',
  );
  expect(await refused(`require('@acme/client/v2');\nmodule.exports = async () => 1;\n`)).toMatch(/requires the package "@acme\/client", which is not installed/);
  expect(await refused(`require('axios');\nmodule.exports = async () => 1;\n`, { dependencies: { axios: '^1.7.0' } })).toBe(
    'node-alastor: function/handler.js requires the package "axios", which function/package.json lists but is not installed: run npm install in the handler folder',
  );
  expect(await refused(`require('./lib');\nmodule.exports = async () => 1;\n`)).toBe('node-alastor: function/handler.js requires ./lib, which is not in the handler folder');
});

describe('through alastor up', () => {
  function stack(name: string, handler: string): string {
    const dir = join(work, `stack-${name}`);
    mkdirSync(join(dir, name), { recursive: true });
    writeFileSync(join(dir, name, 'handler.js'), handler);
    writeFileSync(join(dir, 'stack.yml'), `provider:\n  name: openfaas\nfunctions:\n  ${name}:\n    lang: node-alastor\n    handler: ./${name}\n`);
    return join(dir, 'stack.yml');
  }

  test('a Lambda-style handler folder (exports.main, no package.json) answers through the gateway', async () => {
    const up = await startUp(stack('lambda', `exports.main = async (event) => ({ hello: event.query.name });\n`), ['--audit', 'off']);
    try {
      const res = await fetch(`${up.gatewayUrl}/function/lambda?name=ada`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ hello: 'ada' });
    } finally {
      expect(await up.stop()).toBe(0);
    }
  }, 90000);

  test('a missing package stops the start, and up shows the line that says which and how to add it', async () => {
    const file = stack('needs-axios', `const axios = require('axios');\nmodule.exports = async () => (await axios.get('http://127.0.0.1:9/')).data;\n`);
    const err = await startUp(file, ['--audit', 'off']).then(
      async (up) => {
        await up.stop();
        return undefined;
      },
      (e: Error) => e,
    );
    expect(err).toBeDefined();
    expect(err!.message).toMatch(/function "needs-axios" exited before it was ready/);
    expect(err!.message).toContain('requires the package "axios", which is not installed: add it to a package.json in the handler folder');
    expect(err!.message).not.toMatch(/Require stack/);
  }, 90000);
});
