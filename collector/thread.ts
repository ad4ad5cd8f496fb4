// The collector's worker threads (graph, store, checkpoint) stop the same way: asked by a
// message, then terminated if they have not exited within the grace period.
import type { Worker } from 'node:worker_threads';

export function stopWorker(w: Worker, message: unknown, graceMs = 10_000): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(() => void w.terminate().then(() => resolve()), graceMs);
    w.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    w.postMessage(message);
  });
}
