// Trains one DeepLog model per function on the invocations in a store taken to be normal.
import { mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { DB } from '../store/open';
import { nowUs } from '../../events/time';
import { DeepLogModel, type Hyper } from './model';
import { silentProgress, type Progress } from './progress';
import { byFunction, loadSequences } from './sequences';

/** Fewer normal runs than this cannot show what normal looks like. */
export const DEFAULT_MIN_INVOCATIONS = 20;

export interface TrainOptions {
  function?: string;
  modelDir?: string;
  hyper?: Partial<Hyper>;
  minInvocations?: number;
  /** Train only on invocations that started before this time (us). */
  until?: number;
  progress?: Progress;
}

export interface Trained {
  function: string;
  path: string;
  modelId: number;
  invocations: number;
  vocab: number;
  distinctExamples: number;
  loss: number;
  ms: number;
}

export interface Skipped {
  function: string;
  invocations: number;
  reason: string;
}

export function defaultModelDir(dbFile: string): string {
  return join(dirname(resolve(dbFile)), `${basename(dbFile)}.models`);
}

/** File name for a function's model: function names are DNS labels in OpenFaaS, but be safe. */
export function modelFileName(fn: string): string {
  return `${fn.replace(/[^A-Za-z0-9._-]/g, '_')}.deeplog.json`;
}

export function tooFewMessage(fn: string, have: number, need: number): string {
  return `function "${fn}" has ${have} normal invocation${have === 1 ? '' : 's'}; training needs at least ${need}`;
}

/**
 * Trains and saves a model for each function (or only opts.function). A function named with
 * opts.function that has too few invocations is an error; when training every function, such
 * functions are skipped and listed, and it is an error only if none could be trained.
 */
export function trainStore(db: DB, dbFile: string, opts: TrainOptions = {}): { trained: Trained[]; skipped: Skipped[] } {
  const min = opts.minInvocations ?? DEFAULT_MIN_INVOCATIONS;
  const dir = resolve(opts.modelDir ?? defaultModelDir(dbFile));
  const progress = opts.progress ?? silentProgress;
  const groups = byFunction(loadSequences(db, { function: opts.function, until: opts.until }));
  if (opts.function !== undefined && !groups.has(opts.function)) {
    throw new Error(tooFewMessage(opts.function, 0, min));
  }
  if (groups.size === 0) throw new Error('the store has no invocations to train on');
  const trained: Trained[] = [];
  const skipped: Skipped[] = [];
  const insert = db.prepare(`INSERT INTO detect_models (function, path, sha256, trained_at_us, invocations, vocab, epochs, seed, loss, train_ms)
                             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  for (const [fn, seqs] of groups) {
    if (seqs.length < min) {
      if (opts.function !== undefined) throw new Error(tooFewMessage(fn, seqs.length, min));
      skipped.push({ function: fn, invocations: seqs.length, reason: tooFewMessage(fn, seqs.length, min) });
      continue;
    }
    mkdirSync(dir, { recursive: true });
    const t0 = process.hrtime.bigint();
    let lastLoss: number | undefined;
    let started = false;
    const model = DeepLogModel.train(
      seqs.map((s) => s.keys),
      opts.hyper,
      { function: fn },
      {
        onBatch: (done, total) => {
          if (!started) {
            progress.start(`training ${fn}`, total);
            started = true;
          }
          progress.update(done, total, lastLoss);
        },
        onEpoch: (_e, loss) => {
          lastLoss = loss;
        },
      },
    );
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const path = join(dir, modelFileName(fn));
    const sha = model.save(path);
    const info = insert.run(fn, path, sha, nowUs(), seqs.length, model.vocab.length, model.hyper.epochs, model.hyper.seed, model.meta.loss, Math.round(ms));
    progress.stop(
      `trained ${fn}: ${seqs.length} invocations, ${model.vocab.length} keys, ${model.meta.distinctExamples} distinct windows, loss ${model.meta.loss.toFixed(4)}, ${(ms / 1000).toFixed(1)} s -> ${path}`,
    );
    trained.push({ function: fn, path, modelId: Number(info.lastInsertRowid), invocations: seqs.length, vocab: model.vocab.length, distinctExamples: model.meta.distinctExamples, loss: model.meta.loss, ms });
  }
  if (trained.length === 0) throw new Error(`no function could be trained: ${skipped.map((s) => s.reason).join('; ')}`);
  return { trained, skipped };
}
