// `alastor collector --db FILE|postgres://... --port N [--host H]`: the ingest service. Key from ALASTOR_TOKEN or ALASTOR_TOKEN_FILE.
import type { Command } from 'commander';
import { ENV, readToken } from '../../events';
import { redactUrl, storeTarget } from '../../collector/store/target';
import { startCollector } from '../../collector/ingest/index';
import { GRAPH_MODES, runGraphWorker, type GraphMode } from '../../collector/ingest/graph-driver';
import { STORE_THREAD_COMMAND, runStoreThread } from '../../collector/ingest/store-thread';
import { CHECKPOINT_THREAD_COMMAND, runCheckpointThread } from '../../collector/store/checkpoint';

export function register(program: Command): void {
  registerWorker(program);
  program
    .command('collector')
    .description('run the collector: ingest batches and OTLP traces into a SQLite store or a PostgreSQL database')
    .requiredOption('--db <file|url>', 'SQLite store (created if missing), or postgres://user@host:port/db (password from PGPASSWORD or ~/.pgpass; several collectors may share it)')
    .option('--port <n>', 'port to listen on (0 = any free port)', '8089')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--graph <mode>', `how the provenance graph keeps up: ${GRAPH_MODES.join(' | ')} (worker: a second thread; off: run \`alastor graph\` later)`, 'worker')
    .action(async (o: { db: string; port: string; host: string; graph: string }) => {
      if (!GRAPH_MODES.includes(o.graph as GraphMode)) throw new Error(`--graph: "${o.graph}" is not one of ${GRAPH_MODES.join(', ')}`);
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: not a port number: "${o.port}"`);
      storeTarget(o.db); // a malformed URL is the one line to print, before anything else
      const token = readToken(process.env);
      const log = (l: string) => process.stderr.write(`${l}\n`);
      if (!token) log(`collector: no ${ENV.token}: accepting batches chained with an empty key (order and completeness are checked, authenticity is not)`);
      const c = await startCollector({ dbFile: o.db, port, host: o.host, token, log, graph: o.graph as GraphMode, workerEntry: require.main?.filename ?? process.argv[1] });
      // Tests and scripts wait for this exact line to learn the port.
      process.stdout.write(`alastor collector listening on ${c.url} (db ${redactUrl(o.db)})\n`);
      let stopping = false;
      const stop = (sig: string) => {
        if (stopping) return;
        stopping = true;
        log(`collector: ${sig}: finishing in-flight batches`);
        c.close().then(
          () => process.exit(0),
          (e: unknown) => {
            log(`collector: close failed: ${(e as Error).message}`);
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}

/** Internal: the graph, store and checkpoint threads of `alastor collector` (collector/ingest/graph-driver.ts, store-thread.ts, store/checkpoint.ts). */
export function registerWorker(program: Command): void {
  program
    .command('collector-graph-worker', { hidden: true })
    .requiredOption('--db <file>')
    .action((o: { db: string }) => runGraphWorker(o.db));
  program
    .command(STORE_THREAD_COMMAND, { hidden: true })
    .requiredOption('--db <file>')
    .action((o: { db: string }) => runStoreThread(o.db));
  program
    .command(CHECKPOINT_THREAD_COMMAND, { hidden: true })
    .requiredOption('--db <file>')
    .action((o: { db: string }) => runCheckpointThread(o.db));
}
