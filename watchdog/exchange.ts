// One request to the function, as the modes see it. The server owns its lifetime (metrics,
// deadline, scope.end); a mode serves it and registers what to cancel when it must stop early.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InvocationScope } from './observer';

export interface Cancellable {
  /** Stop the function's work for this request now (kill the fork, abort the upstream call). */
  cancel(reason: string): void;
}

export class Exchange {
  /** Why the request stopped early (exec_timeout, write_timeout, client gone), if it did. */
  error: string | undefined = undefined;
  work: Cancellable | null = null;
  timer: NodeJS.Timeout | null = null;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly scope: InvocationScope,
    /** performance.now() at arrival. */
    readonly t0: number,
    /** The path and query the function sees (the request's, or ready_path for /_/ready). */
    readonly url: string,
  ) {}
}

/** Seconds since t0 with Go's "%f" formatting, for X-Duration-Seconds. */
export function durationHeader(t0: number): string {
  return ((performance.now() - t0) / 1000).toFixed(6);
}
