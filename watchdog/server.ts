// The watchdog's HTTP server: /_/health and /_/ready, the max_inflight limit, per-request
// deadlines (exec_timeout / write_timeout), metrics and the provenance scope around every
// function request. read_timeout bounds receiving the whole request (Node's requestTimeout).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { WatchdogConfig } from './config';
import { formatDuration } from './durations';
import { durationHeader, Exchange } from './exchange';
import { lockPresent } from './lock';
import { log } from './logging';
import type { HttpMetrics } from './metrics';
import type { FunctionMode } from './modes/types';
import { noopScope, type InvocationScope, type Observer } from './observer';

const EX = Symbol('exchange');
const OWNER = Symbol('owner');
type TrackedResponse = ServerResponse & { [EX]?: Exchange; [OWNER]?: WatchdogServer };

// One listener function shared by every response (no closure per request); `this` is the response.
function onResponseClose(this: TrackedResponse): void {
  this[OWNER]!.closed(this);
}

export class WatchdogServer {
  readonly http: Server;
  /** Set once the function is ready (and the lock written); cleared first thing on SIGTERM. */
  accepting = false;
  inflight = 0;
  private idleWaiters: Array<() => void> = [];
  private mode!: FunctionMode;
  private metrics!: HttpMetrics;
  private readonly observing: boolean;

  constructor(
    private readonly cfg: WatchdogConfig,
    private readonly observer: Observer,
  ) {
    this.observing = observer.enabled;
    this.http = createServer({ requestTimeout: cfg.readTimeoutMs, headersTimeout: cfg.readTimeoutMs === 0 ? 0 : Math.min(cfg.readTimeoutMs, 60_000) }, this.onRequest);
    // Node checks request timeouts on this interval (30 s by default): tighten it for short read_timeouts.
    if (cfg.readTimeoutMs > 0) {
      (this.http as unknown as { connectionsCheckingInterval?: number }).connectionsCheckingInterval = Math.max(100, Math.min(1000, cfg.readTimeoutMs / 4));
    }
    // Go's http.Server keeps idle connections for ReadTimeout when no IdleTimeout is set.
    this.http.keepAliveTimeout = cfg.readTimeoutMs > 0 ? cfg.readTimeoutMs : 5000;
  }

  attach(mode: FunctionMode, metrics: HttpMetrics): void {
    this.mode = mode;
    this.metrics = metrics;
  }

  /** Resolves on success; rejects with a one-line reason naming the variable. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(new Error(err.code === 'EADDRINUSE' ? `port ${this.cfg.port} (env port) is already in use` : `cannot listen on port ${this.cfg.port} (env port): ${err.message}`));
      };
      this.http.once('error', onError);
      this.http.listen(this.cfg.port, () => {
        this.http.off('error', onError);
        resolve();
      });
    });
  }

  /** Resolves when no function request is in flight, or after timeoutMs. */
  drained(timeoutMs: number): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.idleWaiters.push(done);
    });
  }

  /** Arms the request's single deadline (exec_timeout when shorter, else write_timeout). */
  readonly arm = (ex: Exchange, execMs: number): void => {
    const write = this.cfg.writeTimeoutMs;
    if (execMs > 0 && execMs <= write) ex.timer = setTimeout(onExecTimeout, execMs, ex, execMs);
    else ex.timer = setTimeout(onWriteTimeout, write, ex);
  };

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    if (url.charCodeAt(1) === 95 && url.charCodeAt(2) === 47 && url.charCodeAt(0) === 47) {
      const q = url.indexOf('?');
      const path = q === -1 ? url : url.slice(0, q);
      if (path === '/_/health') return this.health(req, res);
      if (path === '/_/ready') return this.ready(req, res);
    }
    const t0 = performance.now();
    this.inflight++;
    const tracked = res as TrackedResponse;
    if (this.cfg.maxInflight > 0 && this.inflight > this.cfg.maxInflight) {
      res.once('close', () => this.finishRejected(req, res, t0));
      res.writeHead(429, { 'Content-Type': 'text/plain', 'X-OpenFaaS-Internal': 'faas-middleware', 'X-Duration-Seconds': durationHeader(t0) });
      res.end(`Concurrent request limit exceeded. Max concurrent requests: ${this.cfg.maxInflight}\n`);
      return;
    }
    const scope = this.observing ? this.begin(req, url) : noopScope;
    const ex = new Exchange(req, res, scope, t0, url);
    tracked[EX] = ex;
    tracked[OWNER] = this;
    res.once('close', onResponseClose);
    this.mode.serve(ex);
  };

  /** Provenance must never fail a request: a throwing observer leaves this one unobserved. */
  private begin(req: IncomingMessage, url: string): InvocationScope {
    try {
      return this.observer.begin({ method: req.method ?? 'GET', url, headers: req.headers, remoteAddress: req.socket.remoteAddress });
    } catch (err) {
      log(`provenance: begin failed: ${(err as Error).message}`);
      return noopScope;
    }
  }

  /** @internal called once per function request when its response closes. */
  closed(res: TrackedResponse): void {
    const ex = res[EX]!;
    if (ex.timer !== null) clearTimeout(ex.timer);
    if (!res.writableFinished) {
      ex.error ??= 'client closed the connection';
      ex.work?.cancel(ex.error);
    }
    const status = res.statusCode;
    this.metrics.record(ex.req.method ?? 'GET', status, (performance.now() - ex.t0) / 1000);
    try {
      ex.scope.end(ex.error === undefined ? { status } : { status, error: ex.error });
    } catch (err) {
      log(`provenance: end failed: ${(err as Error).message}`);
    }
    this.done();
  }

  private finishRejected(req: IncomingMessage, res: ServerResponse, t0: number): void {
    this.metrics.record(req.method ?? 'GET', res.statusCode, (performance.now() - t0) / 1000);
    this.done();
  }

  private done(): void {
    if (--this.inflight === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private healthy(): boolean {
    // With suppress_lock there is no lock to check (of-watchdog would answer 503 forever).
    return this.accepting && (this.cfg.suppressLock || lockPresent());
  }

  private health(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET') return void res.writeHead(405).end();
    if (!this.healthy()) return void res.writeHead(503).end();
    res.writeHead(200, { 'Content-Length': '2' }).end('OK');
  }

  private ready(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET') return void res.writeHead(405).end();
    if (!this.healthy()) return void res.writeHead(503).end();
    if (this.cfg.maxInflight > 0 && this.inflight >= this.cfg.maxInflight) return void res.writeHead(429).end();
    if (this.cfg.readyPath === '') return void res.writeHead(200).end();
    // The function itself answers readiness at ready_path (outside the limiter and metrics).
    const ex = new Exchange(req, res, noopScope, performance.now(), this.cfg.readyPath);
    res.once('close', () => {
      if (ex.timer !== null) clearTimeout(ex.timer);
      if (!res.writableFinished) {
        ex.error ??= 'client closed the connection';
        ex.work?.cancel(ex.error);
      }
    });
    this.mode.serve(ex);
  }
}

function onExecTimeout(ex: Exchange, execMs: number): void {
  ex.timer = null;
  const reason = `exec_timeout of ${formatDuration(execMs)} exceeded`;
  ex.error = 'exec_timeout';
  log(`${ex.req.method} ${ex.url} killed: ${reason}`);
  ex.work?.cancel(ex.error);
  const res = ex.res;
  if (res.headersSent) return void res.destroy();
  res.writeHead(504, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Duration-Seconds': durationHeader(ex.t0), 'X-OpenFaaS-Internal': 'of-watchdog' });
  res.end(`${reason}\n`);
}

function onWriteTimeout(ex: Exchange): void {
  ex.timer = null;
  ex.error = 'write_timeout';
  log(`${ex.req.method} ${ex.url} stopped: write_timeout exceeded`);
  ex.work?.cancel(ex.error);
  ex.res.destroy();
}
