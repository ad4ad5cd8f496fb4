// A synchronous call into the connection thread (worker-source.ts): post the request, sleep in
// Atomics.wait until the thread bumps the shared counter, take the answer off the port with
// receiveMessageOnPort. The store's callers (ingest's writer, the graph builder, the CLI queries)
// are synchronous, as better-sqlite3 is; this keeps them so on PostgreSQL.
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { WORKER_SOURCE } from './worker-source';

export type Request = { t: 'query'; sql: string; params: unknown[]; raw: boolean } | { t: 'exec'; sql: string } | { t: 'close' };

export interface Answer {
  rows: unknown[];
  count: number;
}

export class PgError extends Error {
  constructor(message: string, readonly code: string | undefined) {
    super(message);
  }
}

/** No answer in this long means the thread is gone (or the server hangs): fail rather than sleep forever. */
const WAIT_MS = 10 * 60 * 1000;

export class SyncConnection {
  private readonly state: Int32Array;
  private readonly port: MessagePort;
  private readonly worker: Worker;
  private closed = false;
  private asked = 0;

  constructor(url: string) {
    const shared = new SharedArrayBuffer(4);
    this.state = new Int32Array(shared);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { port: port2, shared, url, pgPath: require.resolve('pg'), appName: 'alastor' },
      transferList: [port2],
      // The environment as this thread sees it now (PGPASSWORD, PGPASSFILE, PGSSLMODE...).
      env: { ...process.env },
      stdout: false,
      stderr: false,
    });
    // The caller never waits on the event loop for this thread: it must not keep the process up.
    this.worker.unref();
    this.port.unref();
  }

  call(req: Request): Answer {
    if (this.closed) throw new Error('the PostgreSQL store is closed');
    const id = ++this.asked;
    this.port.postMessage({ ...req, id });
    const deadline = Date.now() + WAIT_MS;
    // A wake-up does not promise the answer is on the port yet, nor that what is there is ours:
    // read until our id shows, waiting again (on a counter read before looking) while it has not.
    for (;;) {
      const seen = Atomics.load(this.state, 0);
      for (let r = receiveMessageOnPort(this.port); r; r = receiveMessageOnPort(this.port)) {
        const m = r.message as ({ id: number; ok: true } & Answer) | { id: number; ok: false; error: string; code?: string };
        if (m.id !== id) continue; // the answer to a call that gave up waiting
        if (!m.ok) throw new PgError(m.error, m.code);
        return m;
      }
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(this.state, 0, seen, left) === 'timed-out') {
        throw new Error(`PostgreSQL: no answer within ${WAIT_MS / 1000} s`);
      }
    }
  }

  close(): void {
    if (this.closed) return;
    try {
      this.call({ t: 'close' });
    } catch {
      // Closing a broken connection: nothing more to do than end the thread.
    }
    this.closed = true;
    void this.worker.terminate();
  }
}
