// Starting and stopping the collector: open the store, serve the ingest API.
import type { AddressInfo } from 'node:net';
import { openStore, type DB } from '../store/open';
import { createIngest, type Ingest } from './server';
import { startGraphDriver, type GraphMode } from './graph-driver';

export interface CollectorOptions {
  dbFile: string;
  port: number;
  host?: string;
  token?: string;
  log?: (line: string) => void;
  /** How the derived graph keeps up (default worker: a worker thread running this same bundle). */
  graph?: GraphMode;
  /** The script a graph worker thread runs (the bundled CLI); without it the graph runs inline. */
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
  // Checkpoint the WAL every ~40 MB instead of every 4 MB: each checkpoint fsyncs the database
  // file, and at full ingest rate the default cut one every ~10,000 events. Crash safety is
  // unchanged (it is WAL + synchronous=NORMAL, open.ts); only the WAL file grows larger between.
  db.pragma('wal_autocheckpoint = 10000');
  const graph = startGraphDriver(opts.graph ?? 'worker', db, opts.dbFile, opts.workerEntry, log);
  const ingest = createIngest({ db, token: opts.token ?? '', log, graph });
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
      db.close();
    },
  };
}
