// The ingest writer on a thread of its own. On two cores the collector was one busy thread:
// SQLite (inserts, commits, WAL checkpoints) took ~60% of it and HTTP plus parsing, validation
// and MACs the rest. Here the main thread does HTTP and batch preparation and the store thread
// does SQLite, so the two halves run side by side. A batch is answered 200 only after the store
// thread reports its transaction committed, as before.
//
// If the thread dies, what it had not committed is answered 500 (producers keep those batches and
// retry) and a new thread is started for what comes next.
import { Worker, parentPort, workerData } from 'node:worker_threads';
import type { EventRow } from '../store/append';
import { openStore } from '../store/open';
import type { PreparedBatch } from './batch';
import { stopWorker } from '../thread';
import { gateWriting } from './graph-driver';
import { IngestWriter, type BatchResult, type BatchSink } from './writer';

type ToStore =
  | { t: 'batch'; id: number; b: PreparedBatch }
  | { t: 'rows'; id: number; rows: EventRow[] }
  | { t: 'refusal'; source: string; seq: number | null; problem: string; detail: string }
  | { t: 'drain'; id: number }
  | { t: 'close'; id: number };

type FromStore =
  | { t: 'ok'; id: number; r: unknown }
  | { t: 'err'; id: number; error: string }
  | { t: 'commit'; n: number };

export const STORE_THREAD_COMMAND = 'collector-store-worker';

/**
 * Test hook (docs/collector.md): the first store thread exits right after its Nth commit, before
 * it answers the batches of that commit, as a thread that dies mid-work would. Never set in use.
 */
export const FAULT_EXIT_AFTER_ENV = 'ALASTOR_FAULT_STORE_EXIT_AFTER';

interface Pending {
  resolve(r: unknown): void;
  reject(e: Error): void;
}

export function startStoreThread(entry: string, dbFile: string, gate: SharedArrayBuffer | undefined, onCommit: (n: number) => void, log: (l: string) => void): BatchSink {
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let worker: Worker | null = null;
  let closing = false;
  let exitAfterCommits = Number(process.env[FAULT_EXIT_AFTER_ENV] ?? 0) || 0;

  const spawn = (): Worker => {
    const w = new Worker(entry, { argv: [STORE_THREAD_COMMAND, '--db', dbFile], workerData: { gate, exitAfterCommits }, stdout: false, stderr: false });
    exitAfterCommits = 0; // only the first thread
    w.on('message', (m: FromStore) => {
      if (m.t === 'commit') {
        onCommit(m.n);
        return;
      }
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.t === 'ok') p.resolve(m.r);
      else p.reject(new Error(m.error));
    });
    const died = (why: string) => {
      if (worker === w) worker = null;
      if (pending.size > 0) log(`ingest: store thread ${why}; ${pending.size} request(s) answered 500, their producers retry`);
      for (const p of pending.values()) p.reject(new Error(`store thread ${why}`));
      pending.clear();
    };
    w.on('error', (e) => died(`failed (${e.message})`));
    w.on('exit', (code) => {
      if (!closing) died(`exited (${code})`);
    });
    return w;
  };

  const call = <R>(msg: ToStore & { id: number }): Promise<R> =>
    new Promise<R>((resolve, reject) => {
      pending.set(msg.id, { resolve: resolve as (r: unknown) => void, reject });
      (worker ??= spawn()).postMessage(msg);
    });

  worker = spawn();
  return {
    submitBatch: (b) => call<BatchResult>({ t: 'batch', id: nextId++, b }),
    submitRows: (rows) => call<number>({ t: 'rows', id: nextId++, rows }),
    recordRefusal: (source, seq, problem, detail) => (worker ??= spawn()).postMessage({ t: 'refusal', source, seq, problem, detail } satisfies ToStore),
    drain: () => call<void>({ t: 'drain', id: nextId++ }),
    async close() {
      if (!worker) return;
      const w = worker;
      await call<void>({ t: 'drain', id: nextId++ }).catch(() => undefined);
      closing = true;
      await stopWorker(w, { t: 'close', id: nextId++ } satisfies ToStore);
    },
  };
}

/** The thread's side: one connection and one IngestWriter, which group-commits as before. */
export function runStoreThread(dbFile: string): void {
  const port = parentPort;
  if (!port) throw new Error(`${STORE_THREAD_COMMAND} runs only as the collector's store thread`);
  const db = openStore(dbFile);
  // The graph worker holds the write lock while it stitches a chunk; wait for it rather than fail.
  db.pragma('busy_timeout = 60000');
  // The checkpoint thread does that (store/checkpoint.ts); inside our COMMITs it cost ~20%.
  db.pragma('wal_autocheckpoint = 0');
  const data = workerData as { gate?: unknown; exitAfterCommits?: number } | undefined;
  const gate = data?.gate instanceof SharedArrayBuffer ? new Int32Array(data.gate) : undefined;
  const writing = gate ? gateWriting(gate) : undefined;
  const exitAfter = data?.exitAfterCommits ?? 0;
  let commits = 0;
  const writer = new IngestWriter(
    db,
    (n) => {
      // The answers of this commit are posted from promise callbacks, after this returns.
      if (exitAfter > 0 && ++commits === exitAfter) process.exit(70);
      port.postMessage({ t: 'commit', n } satisfies FromStore);
    },
    writing,
  );
  const reply = (id: number, p: Promise<unknown>) =>
    p.then(
      (r) => port.postMessage({ t: 'ok', id, r } satisfies FromStore),
      (e: Error) => port.postMessage({ t: 'err', id, error: e.message } satisfies FromStore),
    );
  port.on('message', (m: ToStore) => {
    switch (m.t) {
      case 'batch':
        void reply(m.id, writer.submitBatch(m.b));
        break;
      case 'rows':
        void reply(m.id, writer.submitRows(m.rows));
        break;
      case 'refusal':
        writer.recordRefusal(m.source, m.seq, m.problem, m.detail);
        break;
      case 'drain':
        void reply(m.id, writer.drain());
        break;
      case 'close':
        void writer.drain().then(() => {
          db.close();
          port.postMessage({ t: 'ok', id: m.id, r: undefined } satisfies FromStore);
          process.exit(0);
        });
        break;
    }
  });
}
