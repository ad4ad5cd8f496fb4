// Mini-batch training of the LSTM on (window -> next key) examples with Adam.
//
// Why examples carry a count: normal execution repeats itself, so the same window and next key
// occur thousands of times (HDFS: 100k windows, under 5k distinct). Training on each distinct
// example once, with its loss weighted by how often it occurred, is the same objective as training
// on all of them, for a fraction of the time.
import { Lstm } from './lstm';
import { Prng } from './prng';

export interface Examples {
  /** Window length h: every example is h input ids. */
  window: number;
  /** n * window input ids. */
  inputs: Int32Array;
  /** n next-key classes. */
  targets: Int32Array;
  /** n occurrence counts. */
  counts: Float64Array;
}

export interface FitOptions {
  epochs: number;
  batch: number;
  lr: number;
  /** Global gradient-norm clip; 0 disables. */
  clip: number;
  seed: number;
  onEpoch?: (epoch: number, loss: number) => void;
  onBatch?: (done: number, total: number) => void;
}

export class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;

  constructor(size: number, private readonly b1 = 0.9, private readonly b2 = 0.999, private readonly eps = 1e-8) {
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
  }

  step(params: Float64Array, grad: Float64Array, lr: number): void {
    this.t++;
    const { m, v, b1, b2, eps } = this;
    const c1 = 1 - Math.pow(b1, this.t);
    const c2 = 1 - Math.pow(b2, this.t);
    const a = (lr * Math.sqrt(c2)) / c1;
    for (let i = 0; i < params.length; i++) {
      const g = grad[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      params[i] -= (a * m[i]) / (Math.sqrt(v[i]) + eps);
    }
  }
}

/** Trains `net` in place; returns the weighted mean cross-entropy of the last epoch. */
export function fit(net: Lstm, ex: Examples, opts: FitOptions): number {
  const n = ex.targets.length;
  if (n === 0) throw new Error('no training examples');
  const rng = new Prng(opts.seed ^ 0x5bd1e995);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const grad = new Float64Array(net.size);
  const adam = new Adam(net.size);
  const batch = Math.max(1, Math.min(opts.batch, n));
  const nBatches = Math.ceil(n / batch);
  let total = 0;
  for (let i = 0; i < n; i++) total += ex.counts[i];
  // Normalise by the average weight of a batch, so a batch of frequent windows moves the weights
  // more than a batch of rare ones, as it would if every occurrence were trained on.
  const norm = total / nBatches;
  const h = ex.window;
  let lastLoss = 0;
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    rng.shuffle(order);
    let epochLoss = 0;
    for (let b = 0; b < nBatches; b++) {
      grad.fill(0);
      const end = Math.min(n, (b + 1) * batch);
      for (let k = b * batch; k < end; k++) {
        const i = order[k];
        net.forward(ex.inputs, i * h, h);
        epochLoss += net.backward(ex.targets[i], ex.counts[i] / norm, grad);
      }
      if (opts.clip > 0) {
        let sq = 0;
        for (let i = 0; i < grad.length; i++) sq += grad[i] * grad[i];
        const gn = Math.sqrt(sq);
        if (gn > opts.clip) {
          const s = opts.clip / gn;
          for (let i = 0; i < grad.length; i++) grad[i] *= s;
        }
      }
      adam.step(net.params, grad, opts.lr);
      opts.onBatch?.(epoch * nBatches + b + 1, opts.epochs * nBatches);
    }
    lastLoss = epochLoss / nBatches;
    opts.onEpoch?.(epoch + 1, lastLoss);
  }
  return lastLoss;
}
