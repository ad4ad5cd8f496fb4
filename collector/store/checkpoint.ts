// WAL checkpoints on a thread and connection of their own. A checkpoint copies committed pages
// from the WAL into the database file and fsyncs it. Inside the writer's COMMIT (SQLite's
// automatic checkpoint) it cost the store thread ~20% of its time; on the HTTP thread it stalled
// ingest for ~200 ms at a time. Writers set wal_autocheckpoint = 0 and this thread runs PASSIVE
// checkpoints, which never block them.
//
// How often: each fsync stalls the writer's own WAL writes for a while on this kind of disk
// (ingest ran ~25% faster with no checkpoints at all, ~15% faster with one every 2 s than every
// 250 ms), so checkpoints are few and large: every EVERY_MS when the WAL was written since the
// last one. Under sustained writes a PASSIVE checkpoint rarely finds the WAL idle, and SQLite
// only starts the file over when one did; past MAX_WAL_BYTES a RESTART checkpoint briefly holds
// writers back (they wait on busy_timeout) so the file stops growing.
import { statSync } from 'node:fs';
import { Worker, parentPort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { stopWorker } from '../thread';

const EVERY_MS = 2000;
const MAX_WAL_BYTES = 256 * 1024 * 1024;

export const CHECKPOINT_THREAD_COMMAND = 'collector-checkpoint-worker';

export function startCheckpointThread(entry: string, dbFile: string, log: (l: string) => void): { stop(): Promise<void> } {
  const w = new Worker(entry, { argv: [CHECKPOINT_THREAD_COMMAND, '--db', dbFile], stdout: false, stderr: false });
  let stopping = false;
  w.on('error', (e) => log(`store: checkpoint thread failed (${e.message}); the WAL grows until the collector restarts`));
  w.on('exit', (code) => {
    if (!stopping) log(`store: checkpoint thread exited (${code}); the WAL grows until the collector restarts`);
  });
  w.unref();
  return {
    async stop() {
      stopping = true;
      await stopWorker(w, 'stop');
    },
  };
}

export function runCheckpointThread(dbFile: string): void {
  const port = parentPort;
  if (!port) throw new Error(`${CHECKPOINT_THREAD_COMMAND} runs only as the collector's checkpoint thread`);
  const db = new Database(dbFile, { fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  const wal = `${dbFile}-wal`;
  let failures = 0;
  let done = -1; // the WAL's mtime at our last checkpoint
  const checkpoint = (mode: 'PASSIVE' | 'RESTART') => {
    try {
      db.pragma(`wal_checkpoint(${mode})`);
    } catch (e) {
      // A busy database only delays the next one; say so now and then.
      if (failures++ % 100 === 0) process.stderr.write(`store: WAL checkpoint failed (${(e as Error).message}); will retry\n`);
    }
  };
  const timer = setInterval(() => {
    let st;
    try {
      st = statSync(wal);
    } catch {
      return; // no WAL yet
    }
    if (st.mtimeMs === done) return; // nothing written since
    done = st.mtimeMs;
    checkpoint(st.size > MAX_WAL_BYTES ? 'RESTART' : 'PASSIVE');
  }, EVERY_MS);
  port.on('message', (m: string) => {
    if (m !== 'stop') return;
    clearInterval(timer);
    checkpoint('PASSIVE');
    db.close();
    process.exit(0);
  });
}
