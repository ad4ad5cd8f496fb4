// mode=http: one long-running function process serving HTTP on upstream_url; every request is
// proxied to it over a keep-alive undici Pool, bodies streamed both ways with back-pressure.
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { CLAIM_FD, ENV } from '../../events';
import { STATUS_CODES } from 'node:http';
import { connect } from 'node:net';
import { Pool, type Dispatcher } from 'undici';
import { pipeChildLog } from '../childlog';
import { parseGoDuration } from '../durations';
import { durationHeader, type Cancellable, type Exchange } from '../exchange';
import { humanSize, log } from '../logging';
import { describeExit, killGroup, spawnFunction, stopChild } from '../process';
import type { FunctionMode, ModeDeps } from './types';

/** Hop-by-hop headers (RFC 9110 7.6.1) plus those undici refuses to forward (expect). */
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

class UpstreamCall implements Cancellable, Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private status = 0;
  private statusText = '';
  private contentLength = -1;
  private onDrain: (() => void) | null = null;

  constructor(
    private readonly ex: Exchange,
    private readonly mode: HttpMode,
    private readonly callId: string | undefined,
    private readonly userAgent: string | undefined,
  ) {}

  cancel(reason: string): void {
    this.controller?.abort(new Error(reason));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.ex.error !== undefined) controller.abort(new Error(this.ex.error));
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>, statusText?: string): void {
    if (status < 200) return;
    const res = this.ex.res;
    if (res.headersSent || res.destroyed) return;
    this.status = status;
    this.statusText = statusText || STATUS_CODES[status] || '';
    const out: string[] = [];
    for (const name in headers) {
      if (HOP.has(name)) continue;
      const v = headers[name];
      if (v === undefined) continue;
      if (typeof v === 'string') {
        out.push(name, v);
        if (name === 'content-length') this.contentLength = Number(v);
      } else for (const one of v) out.push(name, one);
    }
    out.push('X-Duration-Seconds', durationHeader(this.ex.t0));
    if (this.mode.observing) {
      const extra = this.ex.scope.responseHeaders;
      for (const name in extra) out.push(name, extra[name]);
    }
    res.writeHead(status, statusText, out);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.ex.scope.responseChunk(chunk);
    if (!this.ex.res.write(chunk)) {
      controller.pause();
      this.onDrain ??= () => this.controller?.resume();
      this.ex.res.once('drain', this.onDrain);
    }
  }

  onResponseEnd(): void {
    this.ex.work = null;
    this.ex.res.end();
    this.mode.accessLog(this.ex, this.status, this.statusText, this.contentLength, this.callId, this.userAgent);
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.ex.work = null;
    const ex = this.ex;
    if (ex.error !== undefined) return; // the server already answered (timeout) or the client left
    log(`Upstream HTTP request error: ${err.message}`);
    ex.error = `upstream: ${err.message}`;
    if (!ex.res.headersSent) {
      ex.res.writeHead(500, {
        'Content-Type': 'text/plain; charset=utf-8',
        'X-Duration-Seconds': durationHeader(ex.t0),
        'X-OpenFaaS-Internal': 'of-watchdog',
      });
      ex.res.end(`upstream request failed: ${err.message}\n`);
    } else {
      ex.res.destroy();
    }
  }
}

export class HttpMode implements FunctionMode {
  readonly observing: boolean;
  private readonly pool: Pool;
  private readonly pathPrefix: string;
  private readonly target: URL;
  private child: ChildProcess | null = null;
  private stopping = false;

  constructor(private readonly deps: ModeDeps) {
    this.observing = deps.observer.enabled;
    this.target = new URL(deps.cfg.upstreamUrl);
    this.pathPrefix = this.target.pathname === '/' ? '' : this.target.pathname.replace(/\/$/, '');
    this.pool = new Pool(this.target.origin, {
      pipelining: 1,
      // The request deadline is the server's (exec_timeout / write_timeout); no second timer here.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  async start(): Promise<{ pid?: number }> {
    const { cfg } = this.deps;
    log(`Forking: ${cfg.fprocess}`);
    // One process serves every request: only its own instrumentation can say which request an act
    // served, so with provenance on it gets a claim pipe (events/claims.ts).
    const claims = this.deps.observer.claims;
    const env = claims ? { ...this.deps.baseEnv, [ENV.claimFd]: String(CLAIM_FD) } : this.deps.baseEnv;
    const child = spawnFunction(cfg.fprocess, env, claims !== undefined);
    this.child = child;
    if (claims) claims(child.stdio[3] as Readable);
    pipeChildLog(child.stdout!, 'stdout', cfg);
    pipeChildLog(child.stderr!, 'stderr', cfg);
    child.stdin!.on('error', () => {});
    let failure: string | undefined;
    child.on('error', (err) => {
      failure = err.message;
      if (!this.stopping) this.deps.fatal(`Forked function has terminated: ${err.message}`);
    });
    child.on('exit', (code, signal) => {
      failure ??= describeExit(code, signal);
      if (!this.stopping) this.deps.fatal(`Forked function has terminated: ${describeExit(code, signal)}`);
    });
    await this.waitForUpstream(() => failure);
    return { pid: child.pid };
  }

  /** Healthy only once the upstream accepts connections (of-watchdog reports healthy at once). */
  private async waitForUpstream(failed: () => string | undefined): Promise<void> {
    const port = Number(this.target.port || 80);
    const host = this.target.hostname.replace(/^\[|\]$/g, '');
    let lastLog = Date.now();
    for (;;) {
      if (failed() !== undefined) return;
      const ok = await new Promise<boolean>((resolve) => {
        const s = connect({ host, port });
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });
      if (ok) return;
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        log(`Waiting for the upstream at ${this.target.origin} to accept connections`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  serve(ex: Exchange): void {
    const { cfg } = this.deps;
    const req = ex.req;
    const raw = req.rawHeaders;
    const headers: string[] = [];
    let hasBody = false;
    let callId: string | undefined;
    let userAgent: string | undefined;
    let xTimeout: string | undefined;
    let connectionTokens: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i];
      const lower = name.toLowerCase();
      if (HOP.has(lower)) {
        if (lower === 'transfer-encoding') hasBody = true;
        else if (lower === 'connection') connectionTokens = raw[i + 1].toLowerCase();
        continue;
      }
      switch (lower) {
        case 'content-length':
          if (raw[i + 1] !== '0') hasBody = true;
          break;
        case 'x-call-id':
          callId = raw[i + 1];
          break;
        case 'user-agent':
          userAgent = raw[i + 1];
          break;
        case 'x-timeout':
          xTimeout = raw[i + 1];
          break;
      }
      headers.push(name, raw[i + 1]);
    }
    if (connectionTokens !== undefined && connectionTokens !== 'keep-alive' && connectionTokens !== 'close') {
      // Headers named in Connection are hop-by-hop too.
      const named = new Set(connectionTokens.split(',').map((t) => t.trim()));
      for (let i = headers.length - 2; i >= 0; i -= 2) if (named.has(headers[i].toLowerCase())) headers.splice(i, 2);
    }
    if (this.observing) {
      const extra = ex.scope.upstreamHeaders;
      // The watchdog's context replaces the caller's (traceparent, X-Alastor-Invocation), never joins it.
      for (let i = headers.length - 2; i >= 0; i -= 2) if (headers[i].toLowerCase() in extra) headers.splice(i, 2);
      for (const name in extra) headers.push(name, extra[name]);
      if (this.child?.pid !== undefined) ex.scope.setPid(this.child.pid);
    }

    // X-Timeout may shorten exec_timeout for this request, never lengthen it (as of-watchdog).
    let execMs = cfg.execTimeoutMs;
    if (xTimeout !== undefined) {
      const d = parseGoDuration(xTimeout);
      if (d !== undefined && d <= execMs) execMs = d;
    }
    this.deps.arm(ex, execMs);

    const call = new UpstreamCall(ex, this, callId, userAgent);
    ex.work = call;
    if (!hasBody) {
      this.dispatch(ex, headers, null, call);
    } else if (cfg.bufferHttpBody) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => {
        ex.scope.requestChunk(c);
        chunks.push(c);
      });
      req.on('end', () => this.dispatch(ex, headers, Buffer.concat(chunks), call));
    } else if (this.observing) {
      this.dispatch(ex, headers, observedBody(ex), call);
    } else {
      this.dispatch(ex, headers, req, call);
    }
  }

  private dispatch(ex: Exchange, headers: string[], body: Dispatcher.DispatchOptions['body'] | AsyncIterable<Buffer>, call: UpstreamCall): void {
    if (ex.error !== undefined) return;
    try {
      this.pool.dispatch(
        { path: this.pathPrefix + ex.url, method: ex.req.method as Dispatcher.HttpMethod, headers, body: body as Dispatcher.DispatchOptions['body'] },
        call,
      );
    } catch (err) {
      // undici refuses some requests outright (e.g. a malformed header value).
      call.onResponseError(null as unknown as Dispatcher.DispatchController, err as Error);
    }
  }

  accessLog(ex: Exchange, status: number, statusText: string, length: number, callId: string | undefined, ua: string | undefined): void {
    if (ua !== undefined && ua.startsWith('kube-probe')) return;
    const secs = ((performance.now() - ex.t0) / 1000).toFixed(4);
    const line = `${ex.req.method} ${ex.url} - ${status} ${statusText} - ContentLength: ${humanSize(length)} (${secs}s)`;
    log(this.deps.cfg.logCallId ? `${line} [${callId ?? 'none'}]` : line);
  }

  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    await this.pool.destroy().catch(() => {});
    if (this.child) await stopChild(this.child, graceMs);
  }

  /** Kills the upstream's process group at once (start-up failure paths). */
  kill(): void {
    this.stopping = true;
    if (this.child) killGroup(this.child, 'SIGKILL');
  }
}

async function* observedBody(ex: Exchange): AsyncIterable<Buffer> {
  for await (const chunk of ex.req) {
    ex.scope.requestChunk(chunk as Buffer);
    yield chunk as Buffer;
  }
}
