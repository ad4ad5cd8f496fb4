// Training progress on stderr (stdout stays for results, e.g. --json). cli-progress draws only on
// a terminal; elsewhere one line per finished function is enough and keeps logs readable.
import { Presets, SingleBar } from 'cli-progress';

export interface Progress {
  start(label: string, total: number): void;
  update(done: number, total: number, loss?: number): void;
  stop(summary: string): void;
}

export function stderrProgress(): Progress {
  const tty = Boolean(process.stderr.isTTY);
  let bar: SingleBar | null = null;
  return {
    start(label, total) {
      if (!tty) return;
      bar = new SingleBar(
        { stream: process.stderr, format: `${label} [{bar}] {percentage}% | batch {value}/{total} | eta {eta}s | loss {loss}`, hideCursor: true, clearOnComplete: false },
        Presets.shades_classic,
      );
      bar.start(total, 0, { loss: '-' });
    },
    update(done, total, loss) {
      if (!bar) return;
      bar.setTotal(total);
      bar.update(done, loss === undefined ? {} : { loss: loss.toFixed(4) });
    },
    stop(summary) {
      bar?.stop();
      bar = null;
      process.stderr.write(`${summary}\n`);
    },
  };
}

export const silentProgress: Progress = { start() {}, update() {}, stop() {} };
