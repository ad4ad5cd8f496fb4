// Keeping the derived graph up to date without slowing ingest. After each commit ingest kicks the
// driver; the driver runs updateGraph at most every DEBOUNCE_MS. `worker` (the default) runs it on
// a worker thread with its own connection, so stitching uses the second core and a slow or failing
// graph never delays an answer; `inline` runs it on the ingest thread; `off` leaves it to
// `alastor graph` later (the graph is derived from the raw events and can always catch up).
import { Worker, parentPort } from 'node:worker_threads';
import { updateGraph } from '../graph/index';
import { openStore, type DB } from '../store/open';

export type GraphMode = 'worker' | 'inline' | 'off';
export const GRAPH_MODES: readonly GraphMode[] = ['worker', 'inline', 'off'];
const DEBOUNCE_MS = 200;

export interface GraphDriver {
  kick(): void;
  close(): Promise<void>;
}

function debounced(run: () => void): { kick(): void; flush(): void } {
  let timer: NodeJS.Timeout | undefined;
  return {
    kick() {
      if (!timer) timer = setTimeout(() => {
        timer = undefined;
        run();
      }, DEBOUNCE_MS);
    },
    flush() {
      if (timer) {
        clearTimeout(timer);
        timer = undefined;
        run();
      }
    },
  };
}

function guarded(db: DB, log: (l: string) => void): () => void {
  let failures = 0;
  return () => {
    try {
      updateGraph(db);
    } catch (e) {
      // The raw events are committed; the graph catches up from them. Say so, once in a while.
      if (failures++ % 100 === 0) log(`graph: update failed (${(e as Error).message}); events are stored, the graph lags`);
    }
  };
}

export function startGraphDriver(mode: GraphMode, db: DB, dbFile: string, entry: string | undefined, log: (l: string) => void): GraphDriver {
  if (mode === 'off') return { kick() {}, close: async () => {} };
  if (mode === 'inline' || !entry) {
    const d = debounced(guarded(db, log));
    return { kick: d.kick, close: async () => d.flush() };
  }
  const w = new Worker(entry, { argv: ['collector-graph-worker', '--db', dbFile], stdout: false, stderr: false });
  let alive = true;
  w.on('error', (e) => log(`graph: worker failed (${e.message}); events are stored, the graph lags`));
  w.on('exit', () => (alive = false));
  w.unref();
  const d = debounced(() => alive && w.postMessage('update'));
  return {
    kick: d.kick,
    async close() {
      if (!alive) return;
      d.flush();
      w.postMessage('close');
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => void w.terminate().then(() => resolve()), 10_000);
        w.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
    },
  };
}

/** The worker side: one connection, one update at a time, coalescing kicks that arrive meanwhile. */
export function runGraphWorker(dbFile: string): void {
  if (!parentPort) throw new Error('collector-graph-worker runs only as the collector\'s worker thread');
  const db = openStore(dbFile);
  const log = (l: string) => process.stderr.write(`${l}\n`);
  const run = guarded(db, log);
  parentPort.on('message', (m: string) => {
    if (m === 'update') run();
    else if (m === 'close') {
      run();
      db.close();
      process.exit(0);
    }
  });
}
