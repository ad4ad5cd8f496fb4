// Keeping the derived graph up to date without slowing ingest. After each commit ingest kicks the
// driver; the driver runs updateGraph at most every DEBOUNCE_MS. `worker` (the default) runs it on
// a worker thread with its own connection, so stitching uses the second core and a slow or failing
// graph never delays an answer; `inline` runs it on the ingest thread; `off` leaves it to
// `alastor graph` later (the graph is derived from the raw events and can always catch up).
import { Worker, parentPort, workerData } from 'node:worker_threads';
import { updateGraph } from '../graph/index';
import { dialectOf, openStore, type DB } from '../store/open';
import { stopWorker } from '../thread';

export type GraphMode = 'worker' | 'inline' | 'off';
export const GRAPH_MODES: readonly GraphMode[] = ['worker', 'inline', 'off'];
const DEBOUNCE_MS = 200;
/**
 * Events per graph transaction in the worker. The worker holds the write lock for a whole chunk
 * (~0.2-0.5 ms of stitching per event), so this bounds how long an ingest commit can wait for it.
 */
const WORKER_CHUNK = 250;
/**
 * PostgreSQL: the session advisory lock that makes one collector the graph builder. Its holder
 * keeps it while its connection lives; when that collector dies the server drops the lock and
 * the next one to try (every LEADER_POLL_MS, and after each of its own commits) takes over.
 */
const GRAPH_LEADER = 7_311_004;
const LEADER_POLL_MS = 1000;

export interface GraphDriver {
  kick(): void;
  close(): Promise<void>;
  /**
   * Ingest brackets each of its transactions with these: while ingest wants the write lock the
   * worker does not start another chunk. Without it the worker, committing and re-taking the lock
   * back to back, starved ingest (whose busy handler sleeps up to 100 ms between tries).
   */
  writing: { begin(): void; end(): void };
  /** The shared counter behind `writing` (worker mode), for a writer on another thread. */
  gate?: SharedArrayBuffer;
}

const NOT_WAITING = { begin() {}, end() {} };

/** `writing` over the shared gate, from whichever thread runs ingest's transactions. */
export function gateWriting(gate: Int32Array): GraphDriver['writing'] {
  return {
    begin: () => void Atomics.add(gate, 0, 1),
    end: () => {
      Atomics.sub(gate, 0, 1);
      Atomics.notify(gate, 0);
    },
  };
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
  if (mode === 'off') return { kick() {}, close: async () => {}, writing: NOT_WAITING };
  if (mode === 'inline' || !entry) {
    const d = debounced(guarded(db, log));
    return { kick: d.kick, close: async () => d.flush(), writing: NOT_WAITING };
  }
  // gate[0] = ingest transactions waiting or running; the worker waits for 0 before each chunk.
  const shared = new SharedArrayBuffer(4);
  const gate = new Int32Array(shared);
  const w = new Worker(entry, { argv: ['collector-graph-worker', '--db', dbFile], workerData: { gate: shared }, stdout: false, stderr: false });
  let alive = true;
  w.on('error', (e) => log(`graph: worker failed (${e.message}); events are stored, the graph lags`));
  w.on('exit', () => (alive = false));
  w.unref();
  const d = debounced(() => alive && w.postMessage('update'));
  return {
    kick: d.kick,
    gate: shared,
    writing: gateWriting(gate),
    async close() {
      if (!alive) return;
      d.flush();
      await stopWorker(w, 'close');
    },
  };
}

/** The worker side: one connection, one update at a time, coalescing kicks that arrive meanwhile. */
export function runGraphWorker(dbFile: string): void {
  if (!parentPort) throw new Error('collector-graph-worker runs only as the collector\'s worker thread');
  const db = openStore(dbFile);
  db.pragma('wal_autocheckpoint = 0'); // the collector's checkpoint thread does (store/checkpoint.ts)
  const log = (l: string) => process.stderr.write(`${l}\n`);
  const shared = (workerData as { gate?: unknown } | undefined)?.gate;
  const gate = shared instanceof SharedArrayBuffer ? new Int32Array(shared) : undefined;
  let failures = 0;
  const leader = dialectOf(db) === 'postgres' ? leadership(db) : () => true;
  // Catch up in small chunks, stepping aside whenever ingest wants the write lock.
  const run = () => {
    if (!leader()) return; // another collector builds the graph
    for (;;) {
      if (gate) for (let v = Atomics.load(gate, 0); v > 0; v = Atomics.load(gate, 0)) Atomics.wait(gate, 0, v, 100);
      let n: number;
      try {
        n = updateGraph(db, { chunk: WORKER_CHUNK, maxChunks: 1 }).events;
      } catch (e) {
        if (failures++ % 100 === 0) log(`graph: update failed (${(e as Error).message}); events are stored, the graph lags`);
        return;
      }
      if (n < WORKER_CHUNK) return;
    }
  };
  // Other collectors' events arrive without a kick here, and a standby must notice a dead leader.
  const poll = dialectOf(db) === 'postgres' ? setInterval(run, LEADER_POLL_MS) : undefined;
  parentPort.on('message', (m: string) => {
    if (m === 'update') run();
    else if (m === 'close') {
      clearInterval(poll);
      run();
      db.close();
      process.exit(0);
    }
  });
}

/** Whether this connection is the graph builder, trying to become it while it is not. */
function leadership(db: DB): () => boolean {
  const tryLock = db.prepare<[], { ok: boolean }>(`SELECT pg_try_advisory_lock(${GRAPH_LEADER}) AS ok`);
  let held = false;
  return () => {
    if (!held) {
      try {
        held = tryLock.get()!.ok;
      } catch {
        held = false;
      }
    }
    return held;
  };
}
