// mode=streaming (the default): a process per request; the request body is piped to its stdin
// and its stdout is streamed to the caller as it is written, with back-pressure.
import type { ChildProcess } from 'node:child_process';
import { pipeChildLog } from '../childlog';
import { durationHeader, type Cancellable, type Exchange } from '../exchange';
import { humanSize, log } from '../logging';
import { describeExit, killGroup, spawnFunction } from '../process';
import { forkEnv } from './forkenv';
import type { FunctionMode, ModeDeps } from './types';

/** How long to wait for stdout to close after the process exited (a background child it left
 * behind may hold the pipe open; the response must not wait for that child). */
const STDOUT_GRACE_MS = 200;

class ForkRun implements Cancellable {
  constructor(readonly child: ChildProcess) {}
  cancel(): void {
    killGroup(this.child, 'SIGKILL');
  }
}

export class StreamingMode implements FunctionMode {
  private readonly running = new Set<ChildProcess>();

  constructor(private readonly deps: ModeDeps) {}

  async start(): Promise<{ pid?: number }> {
    return {};
  }

  serve(ex: Exchange): void {
    const { cfg } = this.deps;
    const { req, res, scope } = ex;
    const info = forkEnv(ex, this.deps.baseEnv);
    this.deps.arm(ex, cfg.execTimeoutMs);
    const child = spawnFunction(cfg.fprocess, info.env);
    this.running.add(child);
    ex.work = new ForkRun(child);
    if (child.pid !== undefined) scope.setPid(child.pid);
    let bytes = 0;
    let spawnError: string | undefined;

    const head = () => {
      const headers: Record<string, string> = {
        'Content-Type': cfg.contentType,
        'X-Duration-Seconds': durationHeader(ex.t0),
      };
      Object.assign(headers, scope.responseHeaders);
      res.writeHead(200, headers);
    };

    child.on('error', (err) => {
      spawnError = err.message;
      if (child.pid === undefined) finish(null, null); // never started: no exit event follows
    });
    pipeChildLog(child.stderr!, 'stderr', cfg);
    const stdin = child.stdin!;
    stdin.on('error', () => {}); // the function may exit without reading its input
    if (this.deps.observer.enabled) req.on('data', (c: Buffer) => scope.requestChunk(c));
    req.pipe(stdin);

    const stdout = child.stdout!;
    stdout.on('data', (chunk: Buffer) => {
      if (ex.error !== undefined) return;
      if (!res.headersSent) head();
      bytes += chunk.length;
      scope.responseChunk(chunk);
      if (!res.write(chunk)) {
        stdout.pause();
        res.once('drain', () => stdout.resume());
      }
    });

    let finished = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (finished) return;
      finished = true;
      this.running.delete(child);
      ex.work = null;
      if (ex.error !== undefined) return; // answered by the deadline, or the caller left
      if (spawnError !== undefined || code !== 0) {
        const reason = spawnError ?? describeExit(code, signal);
        log(reason);
        if (!res.headersSent) {
          // of-watchdog answers 200 with whatever was written; with nothing written, the caller
          // deserves to know the function failed.
          res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Duration-Seconds': durationHeader(ex.t0) });
          res.end(`function failed: ${reason}\n`);
          this.accessLog(ex, 500, bytes, info.userAgent);
          return;
        }
      }
      if (!res.headersSent) head();
      res.end();
      this.accessLog(ex, 200, bytes, info.userAgent);
    };
    child.on('exit', (code, signal) => {
      if (stdout.readableEnded) return finish(code, signal);
      stdout.once('end', () => finish(code, signal));
      // Output still draining keeps the response open; a pipe that stays silent (held by a
      // background process) does not.
      let seen = bytes;
      const check = () => {
        if (finished || stdout.readableEnded) return;
        if (bytes !== seen || stdout.isPaused()) {
          seen = bytes;
          setTimeout(check, STDOUT_GRACE_MS);
          return;
        }
        stdout.destroy();
        finish(code, signal);
      };
      setTimeout(check, STDOUT_GRACE_MS);
    });
    child.on('close', (code, signal) => finish(code, signal));
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
