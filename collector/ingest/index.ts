// Starting and stopping the collector: open the store, serve the ingest API.
import type { AddressInfo } from 'node:net';
import { dialectOf, openStore, type DB } from '../store/open';
import { createIngest, type Ingest } from './server';
import { startGraphDriver, type GraphMode } from './graph-driver';
import { startStoreThread } from './store-thread';
import { IngestWriter } from './writer';
import { startCheckpointThread } from '../store/checkpoint';

export interface CollectorOptions {
  dbFile: string;
  port: number;
  host?: string;
  token?: string;
  log?: (line: string) => void;
  /** How the derived graph keeps up (default worker: a worker thread running this same bundle). */
  graph?: GraphMode;
  /** The script the graph and store threads run (the bundled CLI); without it both run on this thread. */
  workerEntry?: string;
}

export interface RunningCollector {
  url: string;
  port: number;
  db: DB;
  ingest: Ingest;
  close(): Promise<void>;
}

export async function startCollector(opts: CollectorOptions): Promise<RunningCollector> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const db = openStore(opts.dbFile);
  // The graph worker holds the write lock while it stitches a chunk; ingest waits for it rather
  // than failing a batch (a wait delays answers, a failure would only make producers retry).
  db.pragma('busy_timeout = 60000');
  const graph = startGraphDriver(opts.graph ?? 'worker', db, opts.dbFile, opts.workerEntry, log);
  const kick = () => graph.kick();
  const sink = opts.workerEntry ? startStoreThread(opts.workerEntry, opts.dbFile, graph.gate, kick, log) : new IngestWriter(db, kick, graph.writing);
  // With threads, a checkpoint thread keeps the WAL short and the writers' connections never
  // checkpoint (store-thread.ts, graph-driver.ts). Inline, the writer's own connection
  // checkpoints as SQLite does by default.
  // PostgreSQL checkpoints on its own.
  const checkpoints = opts.workerEntry && dialectOf(db) === 'sqlite' ? startCheckpointThread(opts.workerEntry, opts.dbFile, log) : undefined;
  const ingest = createIngest({ token: opts.token ?? '', log, graph, sink });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    ingest.server.once('error', reject);
    ingest.server.listen(opts.port, host, () => resolve());
  });
  const port = (ingest.server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}`,
    port,
    db,
    ingest,
    async close() {
      await ingest.close();
      await checkpoints?.stop();
      db.close();
    },
  };
}
