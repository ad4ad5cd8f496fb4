import type { WatchdogConfig } from '../config';
import type { Exchange } from '../exchange';
import type { Observer } from '../observer';

export interface ModeDeps {
  cfg: WatchdogConfig;
  observer: Observer;
  /** Environment of every function process: the watchdog's own plus observer.processEnv. */
  baseEnv: NodeJS.ProcessEnv;
  /** Starts the request's deadline: exec_timeout (when > 0) or else write_timeout. */
  arm(ex: Exchange, execTimeoutMs: number): void;
  /** The function process died on its own (http mode): log and exit non-zero. */
  fatal(message: string): void;
}

export interface FunctionMode {
  /** Serves one request; must end or destroy ex.res eventually. */
  serve(ex: Exchange): void;
  /** Starts what must run before requests (the upstream process in http mode). */
  start(): Promise<{ pid?: number }>;
  /** Stops the function process(es): SIGTERM, then SIGKILL after graceMs. */
  stop(graceMs: number): Promise<void>;
}
