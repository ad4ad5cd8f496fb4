'use strict';
// Entry point of the node-alastor template (fprocess "node index.js", fwatchdog in http mode):
// a small HTTP server on http_port (default 3000) that calls function/handler.js as
// OpenFaaS's node templates do, handler(event, context).
const otel = require('./alastor-otel'); // first: it patches http/fetch before anything uses them
const http = require('node:http');
const path = require('node:path');

const INVOCATION_HEADER = 'x-alastor-invocation';

// A handler that cannot serve should stop the start with one line saying why, not start and then
// fail every request (Lambda-style modules export `main` or `handler`; a package missing from a
// handler folder without package.json surfaces only as a stack trace).
function loadHandler() {
  let mod;
  try {
    mod = require('./function/handler');
  } catch (e) {
    if (!e || e.code !== 'MODULE_NOT_FOUND') throw e;
    refuse(missingModule(e));
  }
  if (typeof mod === 'function') return mod;
  for (const name of ['main', 'handler']) {
    if (mod && typeof mod[name] === 'function') return mod[name].bind(mod);
  }
  refuse(`function/handler.js exports ${describeExports(mod)}; export a function (module.exports = async (event, context) => ...), or one named main or handler`);
}

function refuse(line) {
  console.error(`node-alastor: ${line}`);
  process.exit(1);
}

function missingModule(e) {
  const name = (/Cannot find module '([^']+)'/.exec(e.message) || [])[1] || '?';
  const from = (e.requireStack || [])[0];
  if (!from || from === __filename) return 'function/handler.js not found: the handler folder needs a handler.js';
  const by = path.relative(__dirname, from);
  if (name.startsWith('.') || path.isAbsolute(name)) return `${by} requires ${name}, which is not in the handler folder`;
  const pkg = name.startsWith('@') ? name.split('/').slice(0, 2).join('/') : name.split('/')[0];
  if (declared(pkg)) return `${by} requires the package "${pkg}", which function/package.json lists but is not installed: run npm install in the handler folder`;
  return `${by} requires the package "${pkg}", which is not installed: add it to a package.json in the handler folder ("dependencies": { "${pkg}": "<version>" }) and start again`;
}

function declared(pkg) {
  try {
    const manifest = JSON.parse(require('node:fs').readFileSync(path.join(__dirname, 'function', 'package.json'), 'utf8'));
    return Boolean(manifest.dependencies && manifest.dependencies[pkg]);
  } catch {
    return false;
  }
}

function describeExports(mod) {
  if (mod === null || mod === undefined) return String(mod);
  if (typeof mod !== 'object') return `a ${typeof mod}`;
  const keys = Object.keys(mod);
  if (!keys.length) return 'an empty object (nothing assigned to module.exports)';
  return `an object with ${keys.map((k) => `${k} (${typeof mod[k]})`).join(', ')}`;
}

const handler = loadHandler();
const port = Number(process.env.http_port || 3000);

class FunctionEvent {
  constructor(req, body) {
    const url = new URL(req.url, 'http://localhost');
    this.body = body;
    this.headers = req.headers;
    this.method = req.method;
    this.query = Object.fromEntries(url.searchParams);
    this.path = url.pathname;
  }
}

class FunctionContext {
  constructor(done) {
    this.statusCode = 200;
    this.headerValues = {};
    this.done = done;
    this.cbCalled = 0;
  }
  status(code) {
    if (code === undefined) return this.statusCode;
    this.statusCode = code;
    return this;
  }
  headers(values) {
    if (values === undefined) return this.headerValues;
    this.headerValues = values;
    return this;
  }
  succeed(value) {
    this.cbCalled++;
    this.done(undefined, value);
  }
  fail(value) {
    this.cbCalled++;
    this.done(value, undefined);
  }
}

// JSON bodies arrive parsed, text/* as a string, anything else as a Buffer.
function parseBody(req, raw) {
  const type = String(req.headers['content-type'] || '').toLowerCase();
  if (raw.length === 0) return type.includes('json') ? {} : '';
  if (type.includes('json')) return JSON.parse(raw.toString('utf8'));
  if (type.startsWith('text/')) return raw.toString('utf8');
  return raw;
}

function send(res, ctx, err, value) {
  if (res.headersSent) return;
  if (err) {
    const message = err instanceof Error ? err.message : typeof err === 'string' ? err : JSON.stringify(err);
    res.writeHead(ctx.statusCode >= 400 ? ctx.statusCode : 500, { 'content-type': 'text/plain' });
    res.end(message);
    return;
  }
  const headers = { ...ctx.headerValues };
  let body;
  if (value === undefined || value === null) body = '';
  else if (Buffer.isBuffer(value) || typeof value === 'string') body = value;
  else {
    body = JSON.stringify(value);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  }
  res.writeHead(ctx.statusCode, headers);
  res.end(body);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body;
    try {
      body = parseBody(req, Buffer.concat(chunks));
    } catch (e) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`invalid request body: ${e.message}`);
      return;
    }
    const ctx = new FunctionContext((err, value) => send(res, ctx, err, value));
    const id = req.headers[INVOCATION_HEADER];
    otel.runWithInvocation(typeof id === 'string' ? id : undefined, () => {
      Promise.resolve()
        .then(() => handler(new FunctionEvent(req, body), ctx))
        .then((value) => {
          if (!ctx.cbCalled) send(res, ctx, undefined, value);
        })
        .catch((e) => {
          console.error(e);
          send(res, ctx, e);
        });
    });
  });
});
server.keepAliveTimeout = 65000;
server.listen(port, '127.0.0.1', () => console.log(`node-alastor: listening on 127.0.0.1:${port}`));

// fwatchdog stops the function with SIGTERM once requests drained: flush recorded spans first.
let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  server.close();
  Promise.race([otel.shutdown(), new Promise((r) => setTimeout(r, 2000))]).finally(() => process.exit(0));
});
