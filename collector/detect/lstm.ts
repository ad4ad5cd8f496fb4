// A stacked LSTM that reads a window of key ids and gives a probability for every possible next
// key (DeepLog's execution-path model). Plain TypeScript on Float64Array: no native code, no
// download, and bit-for-bit reproducible for the same seed and data on the same Node.
//
// Layout choice, for speed in JS: every weight matrix is stored input-major (row j holds the 4H
// gate weights fed by input j), so the forward pass is a run of contiguous multiply-adds, a
// one-hot input is a single contiguous row, and the backward pass touches memory in order too.
// Gate order inside a row of 4H: input, forget, cell candidate, output.
import { Prng } from './prng';

export interface LstmShape {
  /** Distinct input ids (the vocabulary plus the padding id 0). */
  inputSize: number;
  /** Distinct output classes (the keys that can come next). */
  outputSize: number;
  hidden: number;
  layers: number;
  /** 0: one-hot input; otherwise the width of a learned embedding. */
  embed: number;
}

interface Layer {
  inSize: number;
  wx: number; // offset of inSize x 4H
  wh: number; // offset of H x 4H
  b: number; // offset of 4H
}

export class Lstm {
  readonly shape: LstmShape;
  readonly params: Float64Array;
  private readonly layers: Layer[] = [];
  private readonly embOff: number;
  private readonly wyOff: number;
  private readonly byOff: number;

  // Forward caches for the last window, reused across calls (sized for `cap` steps).
  private cap = 0;
  private ids = new Int32Array(0);
  private gates: Float64Array[] = [];
  private cells: Float64Array[] = [];
  private tcells: Float64Array[] = [];
  private hs: Float64Array[] = [];
  private steps = 0;
  readonly probs: Float64Array;
  // Backward scratch.
  private dh: Float64Array[] = [];
  private dc: Float64Array[] = [];
  private dz: Float64Array;
  private dIn: Float64Array;

  constructor(shape: LstmShape, params?: Float64Array) {
    this.shape = { ...shape };
    const H = shape.hidden;
    let n = 0;
    this.embOff = n;
    if (shape.embed > 0) n += shape.inputSize * shape.embed;
    for (let l = 0; l < shape.layers; l++) {
      const inSize = l === 0 ? (shape.embed > 0 ? shape.embed : shape.inputSize) : H;
      const layer = { inSize, wx: n, wh: n + inSize * 4 * H, b: n + inSize * 4 * H + H * 4 * H };
      n = layer.b + 4 * H;
      this.layers.push(layer);
    }
    this.wyOff = n;
    n += H * shape.outputSize;
    this.byOff = n;
    n += shape.outputSize;
    if (params && params.length !== n) {
      throw new Error(`model weights have ${params.length} values, the shape needs ${n}`);
    }
    this.params = params ?? new Float64Array(n);
    this.probs = new Float64Array(shape.outputSize);
    this.dz = new Float64Array(4 * H);
    this.dIn = new Float64Array(Math.max(H, shape.embed));
    for (let l = 0; l < shape.layers; l++) {
      this.dh.push(new Float64Array(H));
      this.dc.push(new Float64Array(H));
    }
  }

  get size(): number {
    return this.params.length;
  }

  /** PyTorch-style init: uniform in +-1/sqrt(H); forget-gate bias 1 so memory survives early training. */
  init(rng: Prng): void {
    const H = this.shape.hidden;
    const k = 1 / Math.sqrt(H);
    const p = this.params;
    for (let i = 0; i < p.length; i++) p[i] = rng.uniform(-k, k);
    if (this.shape.embed > 0) {
      for (let i = 0; i < this.shape.inputSize * this.shape.embed; i++) p[this.embOff + i] = rng.uniform(-1, 1);
    }
    for (const L of this.layers) {
      for (let r = 0; r < 4 * H; r++) p[L.b + r] = r >= H && r < 2 * H ? 1 : 0;
    }
    for (let v = 0; v < this.shape.outputSize; v++) p[this.byOff + v] = 0;
  }

  private ensure(T: number): void {
    if (T <= this.cap) return;
    const H = this.shape.hidden;
    this.cap = T;
    this.ids = new Int32Array(T);
    this.gates = [];
    this.cells = [];
    this.tcells = [];
    this.hs = [];
    for (let l = 0; l < this.shape.layers; l++) {
      this.gates.push(new Float64Array(T * 4 * H));
      this.cells.push(new Float64Array(T * H));
      this.tcells.push(new Float64Array(T * H));
      this.hs.push(new Float64Array(T * H));
    }
  }

  /**
   * Runs the window (ids[from..from+T)) from a zero state and leaves softmax probabilities in
   * `probs`. An id of -1 is a zero input (a key the model never saw).
   */
  forward(ids: ArrayLike<number>, from = 0, T = ids.length - from): Float64Array {
    this.ensure(T);
    this.steps = T;
    const H = this.shape.hidden;
    const H4 = 4 * H;
    const p = this.params;
    const E = this.shape.embed;
    for (let t = 0; t < T; t++) this.ids[t] = ids[from + t];

    for (let l = 0; l < this.layers.length; l++) {
      const L = this.layers[l];
      const G = this.gates[l];
      const C = this.cells[l];
      const TC = this.tcells[l];
      const Hs = this.hs[l];
      const below = l > 0 ? this.hs[l - 1] : null;
      for (let t = 0; t < T; t++) {
        const g0 = t * H4;
        // z = b + Wx.in + Wh.h(t-1)
        for (let r = 0; r < H4; r++) G[g0 + r] = p[L.b + r];
        if (below) {
          const i0 = t * H;
          for (let j = 0; j < H; j++) {
            const x = below[i0 + j];
            if (x === 0) continue;
            axpy(G, g0, x, p, L.wx + j * H4, H4);
          }
        } else {
          const id = this.ids[t];
          if (id >= 0) {
            if (E > 0) {
              const e0 = this.embOff + id * E;
              for (let j = 0; j < E; j++) {
                axpy(G, g0, p[e0 + j], p, L.wx + j * H4, H4);
              }
            } else {
              axpy(G, g0, 1, p, L.wx + id * H4, H4);
            }
          }
        }
        if (t > 0) {
          const h0 = (t - 1) * H;
          for (let j = 0; j < H; j++) {
            axpy(G, g0, Hs[h0 + j], p, L.wh + j * H4, H4);
          }
        }
        // activations and state
        const c0 = t * H;
        for (let u = 0; u < H; u++) {
          const ig = 1 / (1 + Math.exp(-G[g0 + u]));
          const fg = 1 / (1 + Math.exp(-G[g0 + H + u]));
          const gg = Math.tanh(G[g0 + 2 * H + u]);
          const og = 1 / (1 + Math.exp(-G[g0 + 3 * H + u]));
          G[g0 + u] = ig;
          G[g0 + H + u] = fg;
          G[g0 + 2 * H + u] = gg;
          G[g0 + 3 * H + u] = og;
          const cprev = t > 0 ? C[c0 - H + u] : 0;
          const c = fg * cprev + ig * gg;
          C[c0 + u] = c;
          const tc = Math.tanh(c);
          TC[c0 + u] = tc;
          Hs[c0 + u] = og * tc;
        }
      }
    }

    // softmax(Wy.h_top(T-1) + by)
    const V = this.shape.outputSize;
    const top = this.hs[this.layers.length - 1];
    const h0 = (T - 1) * H;
    const out = this.probs;
    for (let v = 0; v < V; v++) out[v] = p[this.byOff + v];
    for (let j = 0; j < H; j++) {
      const x = top[h0 + j];
      const w0 = this.wyOff + j * V;
      for (let v = 0; v < V; v++) out[v] += x * p[w0 + v];
    }
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (out[v] > max) max = out[v];
    let sum = 0;
    for (let v = 0; v < V; v++) {
      out[v] = Math.exp(out[v] - max);
      sum += out[v];
    }
    for (let v = 0; v < V; v++) out[v] /= sum;
    return out;
  }

  /**
   * Back-propagates weight * cross-entropy(target) of the last forward() through the whole window
   * (truncated BPTT: the window is all the history the model sees), adding into `grad`.
   * Returns the weighted loss.
   */
  backward(target: number, weight: number, grad: Float64Array): number {
    const T = this.steps;
    const H = this.shape.hidden;
    const H4 = 4 * H;
    const V = this.shape.outputSize;
    const E = this.shape.embed;
    const p = this.params;
    const nL = this.layers.length;
    const loss = -weight * Math.log(Math.max(this.probs[target], 1e-300));

    for (let l = 0; l < nL; l++) {
      this.dh[l].fill(0);
      this.dc[l].fill(0);
    }
    // Output layer: dlogits = weight * (p - onehot)
    const top = this.hs[nL - 1];
    const hT = (T - 1) * H;
    const dhTop = this.dh[nL - 1];
    for (let v = 0; v < V; v++) {
      const d = weight * (this.probs[v] - (v === target ? 1 : 0));
      grad[this.byOff + v] += d;
    }
    for (let j = 0; j < H; j++) {
      const x = top[hT + j];
      const w0 = this.wyOff + j * V;
      let s = 0;
      for (let v = 0; v < V; v++) {
        const d = weight * (this.probs[v] - (v === target ? 1 : 0));
        grad[w0 + v] += x * d;
        s += p[w0 + v] * d;
      }
      dhTop[j] = s;
    }

    const dz = this.dz;
    const dIn = this.dIn;
    for (let t = T - 1; t >= 0; t--) {
      for (let l = nL - 1; l >= 0; l--) {
        const L = this.layers[l];
        const G = this.gates[l];
        const C = this.cells[l];
        const TC = this.tcells[l];
        const dh = this.dh[l];
        const dc = this.dc[l];
        const g0 = t * H4;
        const c0 = t * H;
        for (let u = 0; u < H; u++) {
          const ig = G[g0 + u];
          const fg = G[g0 + H + u];
          const gg = G[g0 + 2 * H + u];
          const og = G[g0 + 3 * H + u];
          const tc = TC[c0 + u];
          const dcu = dc[u] + dh[u] * og * (1 - tc * tc);
          const cprev = t > 0 ? C[c0 - H + u] : 0;
          dz[u] = dcu * gg * ig * (1 - ig);
          dz[H + u] = dcu * cprev * fg * (1 - fg);
          dz[2 * H + u] = dcu * ig * (1 - gg * gg);
          dz[3 * H + u] = dh[u] * tc * og * (1 - og);
          dc[u] = dcu * fg; // carried to t-1
        }
        for (let r = 0; r < H4; r++) grad[L.b + r] += dz[r];

        // Input side: weights, and the gradient flowing to the layer below (or the embedding).
        if (l > 0) {
          const below = this.hs[l - 1];
          const i0 = t * H;
          const dhBelow = this.dh[l - 1];
          for (let j = 0; j < H; j++) {
            dhBelow[j] += outerDot(grad, p, L.wx + j * H4, below[i0 + j], dz, H4); // below's dh already holds its own t+1 contribution
          }
        } else {
          const id = this.ids[t];
          if (id >= 0) {
            if (E > 0) {
              const e0 = this.embOff + id * E;
              for (let j = 0; j < E; j++) {
                dIn[j] = outerDot(grad, p, L.wx + j * H4, p[e0 + j], dz, H4);
              }
              for (let j = 0; j < E; j++) grad[e0 + j] += dIn[j];
            } else {
              axpy(grad, L.wx + id * H4, 1, dz, 0, H4);
            }
          }
        }

        // Recurrent side: weights, and dh for t-1 of this layer.
        if (t > 0) {
          const Hs = this.hs[l];
          const h0 = (t - 1) * H;
          for (let j = 0; j < H; j++) {
            dh[j] = outerDot(grad, p, L.wh + j * H4, Hs[h0 + j], dz, H4);
          }
        } else {
          dh.fill(0);
        }
      }
    }
    return loss;
  }
}

// The two inner loops everything above spends its time in, unrolled by 4 (n is a multiple of 4:
// it is always 4 x hidden): JS does not vectorise, so fewer loop tests and independent
// accumulators are what speed them up.

/** y[y0..y0+n) += a * x[x0..x0+n) */
function axpy(y: Float64Array, y0: number, a: number, x: Float64Array, x0: number, n: number): void {
  for (let r = 0; r < n; r += 4) {
    y[y0 + r] += a * x[x0 + r];
    y[y0 + r + 1] += a * x[x0 + r + 1];
    y[y0 + r + 2] += a * x[x0 + r + 2];
    y[y0 + r + 3] += a * x[x0 + r + 3];
  }
}

/** grad[w0..w0+n) += a * dz, and returns w[w0..w0+n) . dz (the gradient flowing to the input). */
function outerDot(grad: Float64Array, w: Float64Array, w0: number, a: number, dz: Float64Array, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let r = 0; r < n; r += 4) {
    const d0 = dz[r];
    const d1 = dz[r + 1];
    const d2 = dz[r + 2];
    const d3 = dz[r + 3];
    grad[w0 + r] += a * d0;
    grad[w0 + r + 1] += a * d1;
    grad[w0 + r + 2] += a * d2;
    grad[w0 + r + 3] += a * d3;
    s0 += w[w0 + r] * d0;
    s1 += w[w0 + r + 1] * d1;
    s2 += w[w0 + r + 2] * d2;
    s3 += w[w0 + r + 3] * d3;
  }
  return s0 + s1 + s2 + s3;
}
