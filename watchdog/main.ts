// fwatchdog: a drop-in replacement for OpenFaaS's of-watchdog (see docs/watchdog.md).
import type { Server } from 'node:http';
import { ConfigError, loadConfig, type WatchdogConfig } from './config';
import { formatDuration } from './durations';
import { runHealthcheck } from './healthcheck';
import { lockPath, removeLock, writeLock } from './lock';
import { flushLogs, log } from './logging';
import { HttpMetrics } from './metrics';
import { HttpMode } from './modes/http';
import { SerializingMode } from './modes/serializing';
import { StaticMode } from './modes/static';
import { StreamingMode } from './modes/streaming';
import type { FunctionMode, ModeDeps } from './modes/types';
import { createObserver } from './provenance';
import { WatchdogServer } from './server';
import { installShutdown, withTimeout } from './shutdown';

const VERSION = '0.1.0';

function fail(message: string): never {
  flushLogs();
  process.stderr.write(`fwatchdog: ${message}\n`);
  process.exit(1);
}

function createMode(deps: ModeDeps): FunctionMode {
  switch (deps.cfg.mode) {
    case 'http':
      return new HttpMode(deps);
    case 'streaming':
      return new StreamingMode(deps);
    case 'serializing':
      return new SerializingMode(deps);
    case 'static':
      return new StaticMode(deps);
  }
}

async function main(argv: string[]): Promise<void> {
  // Not here: v8.setFlagsFromString('--single-threaded-gc') after start-up crashes Node 20 in GC
  // ("Check failed: concurrent_marking_handle_ ...", SIGTRAP) within seconds under allocation
  // churn, in the watchdog and in the audit child alike. Pass it on the command line instead
  // (`node --single-threaded-gc fwatchdog.js`, as `alastor up` does).
  if (argv.includes('--alastor-audit-child')) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    await require('./audit/child').runAuditChild();
    return;
  }
  if (argv.includes('--version') || argv.includes('-version')) {
    process.stdout.write(`fwatchdog version ${VERSION}\n`);
    return;
  }
  if (argv.includes('--run-healthcheck') || argv.includes('-run-healthcheck')) runHealthcheck();

  let cfg: WatchdogConfig;
  try {
    cfg = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  log(`Version: ${VERSION}\tSHA: unknown`);

  const observer = await createObserver({ env: process.env, mode: cfg.mode, fprocess: cfg.fprocess, maxInflight: cfg.maxInflight, log });
  const server = new WatchdogServer(cfg, observer);
  const metrics = new HttpMetrics(() => server.inflight);
  let metricsServer: Server | undefined;
  let mode: FunctionMode | undefined;
  const lifecycle = installShutdown({ cfg, server, observer, metricsServer: () => metricsServer, mode: () => mode });

  let fatalStarted = false;
  const deps: ModeDeps = {
    cfg,
    observer,
    baseEnv: { ...process.env, ...observer.processEnv },
    arm: server.arm,
    fatal: (message) => {
      if (lifecycle.shuttingDown() || fatalStarted) return;
      fatalStarted = true;
      // The orchestrator restarts the container; be unhealthy and gone quickly.
      log(message);
      server.accepting = false;
      if (!cfg.suppressLock) removeLock();
      void withTimeout(observer.close(message), 2000).then(() => {
        flushLogs();
        process.exit(1);
      });
    },
  };
  mode = createMode(deps);
  server.attach(mode, metrics);

  log(`Watchdog mode: ${cfg.mode}\tfprocess: ${JSON.stringify(cfg.fprocess)}`);
  log(
    `Timeouts: read: ${formatDuration(cfg.readTimeoutMs)} write: ${formatDuration(cfg.writeTimeoutMs)} hard: ${formatDuration(cfg.execTimeoutMs)} health: ${formatDuration(cfg.healthcheckIntervalMs)}`,
  );
  try {
    await server.listen();
  } catch (err) {
    fail((err as Error).message);
  }
  try {
    metricsServer = await metrics.listen(cfg.metricsPort);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    fail(e.code === 'EADDRINUSE' ? `metrics_port ${cfg.metricsPort} (env metrics_port) is already in use` : `cannot listen on metrics_port ${cfg.metricsPort}: ${e.message}`);
  }
  log(`Listening on port: ${cfg.port}`);
  log(`Metrics listening on port: ${cfg.metricsPort}`);

  const { pid } = await mode.start();
  if (fatalStarted || lifecycle.shuttingDown()) return;
  if (!cfg.suppressLock) {
    try {
      log(`Writing lock-file to: ${writeLock()}`);
    } catch (err) {
      (mode as HttpMode).kill?.();
      fail(`cannot write ${lockPath()}. To disable lock-file set env suppress_lock=true: ${(err as Error).message}`);
    }
  } else {
    log('Warning: "suppress_lock" is enabled. No automated health-checks will be in place for your function.');
  }
  server.accepting = true;
  observer.instanceStart({ mode: cfg.mode, fprocess: cfg.fprocess, upstreamPid: pid });
}

process.on('exit', flushLogs);
main(process.argv.slice(2)).catch((err) => fail(`start-up failed: ${(err as Error).message}`));
