// mode=serializing: a process per request; the whole request body is read first (up to its
// Content-Length), written to stdin, and the whole stdout is buffered and sent once it exits.
import type { ChildProcess } from 'node:child_process';
import { pipeChildLog } from '../childlog';
import { durationHeader, type Cancellable, type Exchange } from '../exchange';
import { humanSize, log } from '../logging';
import { describeExit, killGroup, spawnFunction } from '../process';
import { forkEnv } from './forkenv';
import type { FunctionMode, ModeDeps } from './types';

const STDOUT_GRACE_MS = 200;

class ForkRun implements Cancellable {
  child: ChildProcess | null = null;
  cancelled = false;
  cancel(): void {
    this.cancelled = true;
    if (this.child) killGroup(this.child, 'SIGKILL');
  }
}

export class SerializingMode implements FunctionMode {
  private readonly running = new Set<ChildProcess>();

  constructor(private readonly deps: ModeDeps) {}

  async start(): Promise<{ pid?: number }> {
    return {};
  }

  serve(ex: Exchange): void {
    const { cfg } = this.deps;
    const info = forkEnv(ex, this.deps.baseEnv);
    this.deps.arm(ex, cfg.execTimeoutMs);
    const run = new ForkRun();
    ex.work = run;
    const limit = info.contentLength !== undefined && info.contentLength > 0 ? info.contentLength : Infinity;
    const chunks: Buffer[] = [];
    let size = 0;
    ex.req.on('data', (c: Buffer) => {
      if (size >= limit) return;
      if (size + c.length > limit) c = c.subarray(0, limit - size);
      size += c.length;
      ex.scope.requestChunk(c);
      chunks.push(c);
    });
    ex.req.on('end', () => {
      if (!run.cancelled) this.run(ex, run, Buffer.concat(chunks, size), info.env, info.userAgent);
    });
  }

  private run(ex: Exchange, run: ForkRun, input: Buffer, env: NodeJS.ProcessEnv, ua: string | undefined): void {
    const { cfg } = this.deps;
    const { res, scope } = ex;
    const child = spawnFunction(cfg.fprocess, env);
    run.child = child;
    this.running.add(child);
    if (child.pid !== undefined) scope.setPid(child.pid);
    pipeChildLog(child.stderr!, 'stderr', cfg);
    const out: Buffer[] = [];
    let outSize = 0;
    child.stdout!.on('data', (c: Buffer) => {
      out.push(c);
      outSize += c.length;
    });
    child.stdin!.on('error', () => {});
    child.stdin!.end(input);

    let spawnError: string | undefined;
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (done) return;
      done = true;
      this.running.delete(child);
      ex.work = null;
      if (ex.error !== undefined || res.headersSent) return;
      const headers: Record<string, string> = { 'Content-Type': cfg.contentType, 'X-Duration-Seconds': durationHeader(ex.t0) };
      Object.assign(headers, scope.responseHeaders);
      if (spawnError !== undefined || code !== 0) {
        const reason = spawnError ?? describeExit(code, signal);
        log(reason);
        res.writeHead(500, headers);
        res.end(reason);
        this.accessLog(ex, 500, reason.length, ua);
        return;
      }
      const body = Buffer.concat(out, outSize);
      scope.responseChunk(body);
      headers['Content-Length'] = String(body.length);
      res.writeHead(200, headers);
      res.end(body);
      this.accessLog(ex, 200, body.length, ua);
    };
    child.on('error', (err) => {
      spawnError = err.message;
      if (child.pid === undefined) finish(null, null);
    });
    child.on('close', finish);
    child.on('exit', (code, signal) => {
      // A background process left behind may hold stdout open; stop waiting once it is silent.
      let seen = -1;
      const check = () => {
        if (done) return;
        if (outSize !== seen) {
          seen = outSize;
          setTimeout(check, STDOUT_GRACE_MS);
          return;
        }
        child.stdout!.destroy();
        finish(code, signal);
      };
      check();
    });
  }

  private accessLog(ex: Exchange, status: number, bytes: number, ua: string | undefined): void {
    if (ua !== undefined && ua.startsWith('kube-probe')) return;
    const secs = ((performance.now() - ex.t0) / 1000).toFixed(4);
    log(`${ex.req.method} ${ex.url} - ${status} - ContentLength: ${humanSize(bytes)} (${secs}s)`);
  }

  async stop(): Promise<void> {
    for (const child of this.running) killGroup(child, 'SIGKILL');
  }
}
