'use strict';
// In-function instrumentation of the node-alastor template, loaded by index.js before anything
// else so that `http`, `https` and fetch are patched before the handler can take a reference.
//
// It does three things, all reported as OpenTelemetry spans over OTLP/HTTP (JSON) to
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, which fwatchdog's provenance layer points at the collector:
//  - outgoing calls (http/https through instrumentation-http, fetch/undici through
//    instrumentation-undici) carry `traceparent` and are recorded with the invocation's context.
//    The collector stores these as *claimed* edges: function code could forge them.
//  - modules loaded from outside the image, child processes spawned and files written are
//    recorded as spans named `alastor.app` (see events/names.ts OTEL_ATTR for the attributes).
//  - every span carries alastor.invocation, taken from the X-Alastor-Invocation header that the
//    watchdog sets on each request, so the collector can attribute it without guessing.
//  - one process serves concurrent requests, so the kernel alone cannot tell which request a
//    file open, a spawn or a connect served. Each such act is also written as a claim line on the
//    watchdog's claim pipe (ALASTOR_CLAIM_FD, events/claims.ts) with the invocation of the async
//    context that did it; the audit tailer matches claims with the syscalls (same pid, object and
//    moment) and marks those attributions corroborated.
// With no endpoint configured (provenance off) nothing is loaded or patched, so it costs nothing.

// ALASTOR_INSTRUMENTATION=off (events/names.ts ENV.instrumentation) does the same: the cost of this
// layer can then be measured apart (scripts/bench-workflow.mjs); the watchdog and audit layers stay.
const endpoint = process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
if (!endpoint || process.env.ALASTOR_INSTRUMENTATION === 'off') {
  module.exports = { enabled: false, runWithInvocation: (_id, fn) => fn(), shutdown: async () => {} };
  return;
}

const path = require('node:path');
const fs = require('node:fs');
const Module = require('node:module');
const api = require('@opentelemetry/api');
const { NodeSDK, tracing, resources } = require('@opentelemetry/sdk-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { UndiciInstrumentation } = require('@opentelemetry/instrumentation-undici');

// Mirrors OTEL_ATTR in events/names.ts: the image cannot import the TypeScript sources.
const ATTR = {
  instance: 'alastor.instance',
  invocation: 'alastor.invocation',
  appSpanName: 'alastor.app',
  kind: 'alastor.kind',
  path: 'alastor.path',
  external: 'alastor.external',
  op: 'alastor.op',
  target: 'alastor.target',
  command: 'alastor.command',
  argv: 'alastor.argv',
  pid: 'alastor.pid',
};
const INVOCATION_HEADER = 'x-alastor-invocation';
const INVOCATION = api.createContextKey('alastor.invocation');

/** Stamps the current invocation on every span started inside it (outgoing calls, app events). */
class InvocationStamp {
  onStart(span, parentContext) {
    const id = parentContext.getValue(INVOCATION);
    if (id) span.setAttribute(ATTR.invocation, id);
  }
  onEnd() {}
  forceFlush() { return Promise.resolve(); }
  shutdown() { return Promise.resolve(); }
}

// A short batch delay (default 200 ms) instead of SimpleSpanProcessor: one export per span would
// put an extra request on the loopback for every call, yet an investigator still sees the spans
// within a fraction of a second.
const delay = Number(process.env.OTEL_BSP_SCHEDULE_DELAY || 200);
const functionName = process.env.ALASTOR_FUNCTION || process.env.OTEL_SERVICE_NAME || 'function';
const sdk = new NodeSDK({
  autoDetectResources: false,
  resource: resources.resourceFromAttributes({
    'service.name': functionName,
    [ATTR.instance]: process.env.ALASTOR_INSTANCE || '',
    'process.pid': process.pid,
  }),
  spanProcessors: [
    new InvocationStamp(),
    new tracing.BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }), {
      scheduledDelayMillis: delay,
      maxExportBatchSize: 512,
      maxQueueSize: 8192,
    }),
  ],
  instrumentations: [
    new HttpInstrumentation({
      startIncomingSpanHook: (req) => {
        const id = req.headers[INVOCATION_HEADER];
        return typeof id === 'string' && id ? { [ATTR.invocation]: id } : {};
      },
    }),
    new UndiciInstrumentation(),
  ],
});
sdk.start();

// fetch in Node 20 ignores HTTP_PROXY; honour it so the watchdog's egress proxy (when it sets one)
// sees and confirms the function's outgoing calls, as it would for any other language.
// Calls to the egress proxy's own /function/NAME route (ALASTOR_GATEWAY_URL) go to it directly.
if (process.env.HTTP_PROXY || process.env.http_proxy) {
  const { setGlobalDispatcher, EnvHttpProxyAgent } = require('undici');
  const noProxy = [process.env.NO_PROXY || process.env.no_proxy];
  for (const u of [process.env.ALASTOR_EGRESS_URL, process.env.HTTP_PROXY || process.env.http_proxy]) {
    try {
      if (u) noProxy.push(new URL(u).host);
    } catch {
      // not a URL: nothing to exempt
    }
  }
  // proxyTunnel false: plain-HTTP calls go to the proxy in absolute form, so it sees (and records)
  // method, URL, status and bodies; only https:// needs a CONNECT tunnel.
  setGlobalDispatcher(new EnvHttpProxyAgent({ noProxy: noProxy.filter(Boolean).join(','), proxyTunnel: false }));
}

// Claims: written synchronously (a few hundred bytes, atomic on a pipe) in the act's own async
// context; a claim that cannot be written is dropped, never an error for the function.
const claimFd = Number(process.env.ALASTOR_CLAIM_FD) > 0 ? Number(process.env.ALASTOR_CLAIM_FD) : undefined;
const writeSync = fs.writeSync;
const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
function claim(op, fields) {
  if (claimFd === undefined) return;
  const id = api.context.active().getValue(INVOCATION);
  if (!id) return;
  try {
    writeSync(claimFd, `${JSON.stringify({ i: id, p: process.pid, t: nowUs(), o: op, ...fields })}\n`);
  } catch {
    // the watchdog stopped reading (shutting down): nothing to tell
  }
}

const tracer = api.trace.getTracer('alastor-node-template', '0.1.0');
let recording = false;
function recordApp(kind, attributes) {
  if (recording) return; // a hook firing from inside the SDK while it records
  recording = true;
  try {
    const attrs = { [ATTR.kind]: kind, [ATTR.pid]: process.pid };
    for (const [k, v] of Object.entries(attributes)) if (v !== undefined && v !== null) attrs[k] = v;
    tracer.startSpan(ATTR.appSpanName, { kind: api.SpanKind.INTERNAL, attributes: attrs }).end();
  } catch {
    // Recording must never break the function.
  } finally {
    recording = false;
  }
}

// "The image" is the template directory (index.js, function/) and any node_modules: what the
// build put there. A module from anywhere else (a file in /tmp, say) was brought in at run time,
// and so was one in the image's folders written after this process started (an attacker can
// plant next to the handler as well as in /tmp).
const imageRoot = path.resolve(process.env.ALASTOR_IMAGE_ROOT || __dirname) + path.sep;
const startedMs = performance.timeOrigin;
const inNodeModules = (file) => file.includes(`${path.sep}node_modules${path.sep}`);
function isExternal(file) {
  if (inNodeModules(file)) return false;
  if (!file.startsWith(imageRoot)) return true;
  try {
    return fs.statSync(file).mtimeMs > startedMs;
  } catch {
    return false;
  }
}

const originalLoad = Module._load;
Module._load = function alastorLoad(request, parent, isMain) {
  if (!recording && typeof request === 'string' && !Module.isBuiltin(request)) {
    let file;
    try {
      file = Module._resolveFilename(request, parent, isMain);
    } catch {
      file = undefined; // let the real loader raise its own error
    }
    if (file && path.isAbsolute(file) && !Module._cache[file]) {
      if (!inNodeModules(file)) claim('file', { path: file, m: 'r' });
      if (isExternal(file)) recordApp('app.module', { [ATTR.path]: file, [ATTR.external]: true });
    }
  }
  return originalLoad.apply(this, arguments);
};

const childProcess = require('node:child_process');
// Every asynchronous form (spawn, exec, execFile, fork) goes through ChildProcess#spawn.
const originalSpawn = childProcess.ChildProcess.prototype.spawn;
childProcess.ChildProcess.prototype.spawn = function alastorSpawn(options) {
  const result = originalSpawn.apply(this, arguments);
  if (this.pid) claim('spawn', { child: this.pid });
  if (options && typeof options.file === 'string') {
    recordApp('app.spawn', {
      [ATTR.command]: options.file,
      [ATTR.argv]: Array.isArray(options.args) ? options.args.map(String) : [options.file],
      [ATTR.pid]: this.pid,
    });
  }
  return result;
};
// The synchronous forms use their own binding; wrap the exported functions.
for (const name of ['spawnSync', 'execSync', 'execFileSync']) {
  const original = childProcess[name];
  childProcess[name] = function alastorSpawnSync(file, args) {
    const argv = name === 'execSync' ? ['/bin/sh', '-c', String(file)] : [String(file), ...(Array.isArray(args) ? args.map(String) : [])];
    recordApp('app.spawn', { [ATTR.command]: argv[0], [ATTR.argv]: argv });
    const out = original.apply(this, arguments);
    // Only spawnSync says which child it ran.
    if (out && typeof out === 'object' && out.pid > 0) claim('spawn', { child: out.pid });
    return out;
  };
}

// Outgoing connections: the claim names the address the kernel's connect shows.
const net = require('node:net');
const originalConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function alastorConnect() {
  if (claimFd !== undefined && api.context.active().getValue(INVOCATION)) {
    const bound = api.context.bind(api.context.active(), () => {
      if (this.remoteAddress && this.remotePort) claim('connect', { addr: this.remoteAddress, port: this.remotePort });
    });
    this.once('connect', bound);
  }
  return originalConnect.apply(this, arguments);
};

// Whether fs.open / createReadStream reads or writes, from their flags: the kernel's open says the
// same, so the claim matches only the act it names. undefined when the flags cannot be read.
const { O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND } = fs.constants;
function openMode(name, second) {
  const flags = name === 'createReadStream' ? (second && typeof second === 'object' ? second.flags : undefined) : second;
  if (flags === undefined || flags === null) return 'r';
  if (typeof flags === 'number') return flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND) ? 'w' : 'r';
  if (typeof flags === 'string') return /[wa+]/.test(flags) ? 'w' : 'r';
  return undefined;
}

// File writes, renames and removals by path (not by descriptor).
const pathOf = (p) => (typeof p === 'string' ? path.resolve(p) : p instanceof URL ? p.pathname : undefined);
function wrapFile(obj, name, op, withTarget = false) {
  const original = obj[name];
  if (typeof original !== 'function') return;
  obj[name] = function alastorFileOp(p, second) {
    const file = pathOf(p);
    if (file && !inNodeModules(file)) {
      const m = op === 'read' ? (name.startsWith('open') || name === 'createReadStream' ? openMode(name, second) : 'r') : 'w';
      claim('file', m ? { path: file, m } : { path: file });
      if (op === 'rename' && withTarget && pathOf(second)) claim('file', { path: pathOf(second), m: 'w' });
      if (op === 'read') return original.apply(this, arguments);
      let kind = op;
      if (op === 'write') {
        try { fs.statSync(file); } catch { kind = 'create'; }
      }
      recordApp('app.file', { [ATTR.op]: kind, [ATTR.path]: file, [ATTR.target]: withTarget ? pathOf(second) : undefined });
    }
    return original.apply(this, arguments);
  };
}
for (const [obj, suffix] of [[fs, 'Sync'], [fs, ''], [fs.promises, '']]) {
  wrapFile(obj, `writeFile${suffix}`, 'write');
  wrapFile(obj, `appendFile${suffix}`, 'write');
  wrapFile(obj, `rename${suffix}`, 'rename', true);
  wrapFile(obj, `unlink${suffix}`, 'unlink');
}
wrapFile(fs, 'createWriteStream', 'write');
// Reads are claimed only (no span): the kernel records them where they matter (audit read rules).
for (const [obj, suffix] of [[fs, 'Sync'], [fs, ''], [fs.promises, '']]) {
  wrapFile(obj, `readFile${suffix}`, 'read');
  wrapFile(obj, `open${suffix}`, 'read');
}
wrapFile(fs, 'createReadStream', 'read');

module.exports = {
  enabled: true,
  /** Runs fn with the invocation id in the active context, so every span inside is stamped. */
  runWithInvocation(id, fn) {
    if (!id) return fn();
    return api.context.with(api.context.active().setValue(INVOCATION, id), fn);
  },
  shutdown: () => sdk.shutdown(),
};
