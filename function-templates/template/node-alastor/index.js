'use strict';
// Entry point of the node-alastor template (fprocess "node index.js", fwatchdog in http mode):
// a small HTTP server on http_port (default 3000) that calls function/handler.js as
// OpenFaaS's node templates do, handler(event, context).
const otel = require('./alastor-otel'); // first: it patches http/fetch before anything uses them
const http = require('node:http');
const handler = require('./function/handler');

const INVOCATION_HEADER = 'x-alastor-invocation';
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
