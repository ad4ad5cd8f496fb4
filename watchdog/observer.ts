// The seam between the watchdog's request handling (config, server, modes) and provenance. The
// modes call these hooks; provenance/ implements them. With provenance off the no-op observer is
// used, so the request path carries no provenance cost at all.
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

export interface RequestInfo {
  method: string;
  /** Path plus query, as received. */
  url: string;
  headers: IncomingHttpHeaders;
  remoteAddress?: string;
}

export interface InvocationScope {
  /** Invocation id, or undefined with provenance off. */
  readonly id?: string;
  /** Headers to set on the request to the upstream (http mode): traceparent, X-Alastor-Invocation. */
  readonly upstreamHeaders: Record<string, string>;
  /** Extra environment for a forked process (fork modes), on top of the Http_* variables. */
  readonly env: Record<string, string>;
  /** Headers to add to the response to the caller. */
  readonly responseHeaders: Record<string, string>;
  /** Body bytes as they stream through (never buffered for provenance). */
  requestChunk(chunk: Uint8Array): void;
  responseChunk(chunk: Uint8Array): void;
  /** The pid serving this request: the forked process, or the http upstream. */
  setPid(pid: number): void;
  end(result: { status: number; error?: string }): void;
}

export interface Observer {
  readonly enabled: boolean;
  /** Environment for every function process (HTTP_PROXY to the egress proxy, ALASTOR_INSTANCE, ...). */
  readonly processEnv: Record<string, string>;
  /** Called once the function process (http mode) or the watchdog (fork modes) is ready. */
  instanceStart(info: { mode: string; fprocess: string; upstreamPid?: number }): void;
  begin(req: RequestInfo): InvocationScope;
  /** Reads claims from the http upstream's claim pipe (fd 3); absent with provenance off. */
  readonly claims?: (stream: Readable) => void;
  /** Flush and stop; called during graceful shutdown after requests drained. */
  close(reason: string): Promise<void>;
}

const noopScope: InvocationScope = {
  upstreamHeaders: {},
  env: {},
  responseHeaders: {},
  requestChunk() {},
  responseChunk() {},
  setPid() {},
  end() {},
};

export const noopObserver: Observer = {
  enabled: false,
  processEnv: {},
  instanceStart() {},
  begin: () => noopScope,
  close: async () => {},
};

/** The scope the server uses without calling begin() when provenance is off. */
export { noopScope };
