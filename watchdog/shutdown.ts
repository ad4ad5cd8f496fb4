// Graceful stop on SIGTERM (and SIGINT): unhealthy first (lock removed, /_/health 503), no new
// connections, in-flight requests drained for up to healthcheck_interval, then the function
// process is stopped and provenance flushed, and the watchdog exits 0.
import type { Server } from 'node:http';
import type { WatchdogConfig } from './config';
import { formatDuration } from './durations';
import { lockPath, removeLock } from './lock';
import { flushLogs, log } from './logging';
import type { FunctionMode } from './modes/types';
import type { Observer } from './observer';
import type { WatchdogServer } from './server';

/** How long the function process gets between SIGTERM and SIGKILL. */
const PROCESS_GRACE_MS = 5000;
/** Provenance gets this long to flush; shutdown never hangs on it. */
const OBSERVER_CLOSE_MS = 10_000;

export interface ShutdownDeps {
  cfg: WatchdogConfig;
  server: WatchdogServer;
  metricsServer: () => Server | undefined;
  mode: () => FunctionMode | undefined;
  observer: Observer;
}

export function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    p.then(
      () => {
        clearTimeout(t);
        resolve();
      },
      (err) => {
        log(`provenance close failed: ${(err as Error).message}`);
        clearTimeout(t);
        resolve();
      },
    );
  });
}

export function installShutdown(deps: ShutdownDeps): { shuttingDown: () => boolean } {
  let stopping = false;
  const run = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    const { cfg, server, observer } = deps;
    log(`${reason}: no new connections in ${formatDuration(cfg.healthcheckIntervalMs)}`);
    server.accepting = false;
    if (!cfg.suppressLock) {
      log(`Removing lock-file : ${lockPath()}`);
      removeLock();
    }
    server.http.close();
    server.http.closeIdleConnections();
    log(`No new connections allowed, draining: ${server.inflight} requests`);
    await server.drained(cfg.healthcheckIntervalMs);
    server.http.closeAllConnections();
    const mode = deps.mode();
    if (mode) await mode.stop(PROCESS_GRACE_MS);
    await withTimeout(observer.close(reason), OBSERVER_CLOSE_MS);
    deps.metricsServer()?.close();
    deps.metricsServer()?.closeAllConnections();
    log(`Exiting. Active connections: ${server.inflight}`);
    flushLogs();
    process.exit(0);
  };
  process.on('SIGTERM', () => void run('SIGTERM'));
  process.on('SIGINT', () => void run('SIGINT'));
  return { shuttingDown: () => stopping };
}
