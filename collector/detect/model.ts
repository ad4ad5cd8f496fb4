// The DeepLog execution-path model: a key vocabulary, hyperparameters and a trained LSTM, with the
// top-g check and a file format.
//
// Framing of a sequence: h padding ids, then the keys, then END. Every key and END is predicted
// from the (up to) h ids before it, so a short sequence is checked too, and one that stops early
// (a crash, a killed process) is caught at END.
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { fit, type Examples } from './fit';
import { Lstm } from './lstm';
import { Prng } from './prng';

export const END = '<end>';
const PAD = 0;
const FORMAT = 'alastor-deeplog';
const FORMAT_VERSION = 1;
/** The file stores little-endian float64; on such a machine the bytes are copied as they are. */
const LITTLE_ENDIAN = endianness() === 'LE';

export interface Hyper {
  /** h: keys of history the model sees. */
  window: number;
  /** g: a key outside the g most likely is an anomaly. */
  topG: number;
  /**
   * A candidate must also have at least this probability (0 = the paper's pure top-g). With a small
   * vocabulary, g can cover keys the model all but rules out; see docs/detect.md.
   */
  minProb: number;
  hidden: number;
  layers: number;
  /** 0 = one-hot input. */
  embed: number;
  epochs: number;
  batch: number;
  /**
   * A distinct (window, next key) example weighs count^countPower. 1 is the plain objective (every
   * occurrence counts); below 1 lifts rare but normal paths, which top-g must still rank (fewer
   * false alarms); see docs/detect.md.
   */
  countPower: number;
  lr: number;
  clip: number;
  seed: number;
}

/** The paper's h, g and network (2 x 64); epochs, batch and lr chosen for 2 cores (docs/detect.md). */
export const DEFAULT_HYPER: Hyper = {
  window: 10,
  topG: 9,
  minProb: 0.002,
  hidden: 64,
  layers: 2,
  embed: 0,
  epochs: 12,
  batch: 32,
  countPower: 1,
  lr: 0.005,
  clip: 5,
  seed: 1,
};

export interface Anomaly {
  /** Index of the key in the sequence; sequence length when END was not expected there. */
  position: number;
  key: string;
  /** The g keys the model expected, most likely first. */
  expected: string[];
  /** True when the key is not in the vocabulary at all. */
  unknown: boolean;
}

export interface ModelMeta {
  function?: string;
  sequences: number;
  examples: number;
  distinctExamples: number;
  loss: number;
}

export interface TrainHooks {
  onBatch?: (done: number, total: number) => void;
  onEpoch?: (epoch: number, loss: number) => void;
}

export class DeepLogModel {
  readonly vocab: readonly string[];
  readonly hyper: Hyper;
  readonly net: Lstm;
  meta: ModelMeta;
  private readonly index: Map<string, number>;
  /** Top-g classes per window, memoised: normal traffic repeats the same windows. */
  private readonly cache = new Map<string, Int32Array>();

  private constructor(vocab: readonly string[], hyper: Hyper, net: Lstm, meta: ModelMeta) {
    this.vocab = vocab;
    this.hyper = hyper;
    this.net = net;
    this.meta = meta;
    this.index = new Map(vocab.map((k, i) => [k, i]));
  }

  /** Trains a model on sequences of keys taken to be normal. */
  static train(sequences: readonly (readonly string[])[], hyper: Partial<Hyper> = {}, meta: Partial<ModelMeta> = {}, hooks: TrainHooks = {}): DeepLogModel {
    const hp: Hyper = { ...DEFAULT_HYPER, ...hyper };
    validateHyper(hp);
    const keys = new Set<string>([END]);
    for (const s of sequences) for (const k of s) keys.add(k);
    // Sorted so the vocabulary, and with it the model, does not depend on the order of the data.
    const vocab = [...keys].sort();
    const net = new Lstm({ inputSize: vocab.length + 1, outputSize: vocab.length, hidden: hp.hidden, layers: hp.layers, embed: hp.embed });
    net.init(new Prng(hp.seed));
    const model = new DeepLogModel(vocab, hp, net, { sequences: sequences.length, examples: 0, distinctExamples: 0, loss: NaN, ...meta });
    const ex = model.examples(sequences);
    if (hp.countPower !== 1) for (let i = 0; i < ex.counts.length; i++) ex.counts[i] = Math.pow(ex.counts[i], hp.countPower);
    model.meta.examples = ex.total;
    model.meta.distinctExamples = ex.targets.length;
    model.meta.loss = fit(net, ex, { epochs: hp.epochs, batch: hp.batch, lr: hp.lr, clip: hp.clip, seed: hp.seed, ...hooks });
    return model;
  }

  /** Distinct (window, next) pairs with counts, in first-seen order (deterministic). */
  examples(sequences: readonly (readonly string[])[]): Examples & { total: number } {
    const h = this.hyper.window;
    const seen = new Map<string, number>();
    const inputs: number[] = [];
    const targets: number[] = [];
    const counts: number[] = [];
    let total = 0;
    for (const s of sequences) {
      const ids = this.frame(s);
      for (let i = h; i < ids.length; i++) {
        const target = ids[i] - 1;
        const sig = ids.slice(i - h, i + 1).join(',');
        total++;
        const at = seen.get(sig);
        if (at !== undefined) {
          counts[at]++;
          continue;
        }
        seen.set(sig, targets.length);
        for (let j = i - h; j < i; j++) inputs.push(ids[j]);
        targets.push(target);
        counts.push(1);
      }
    }
    return { window: h, inputs: Int32Array.from(inputs), targets: Int32Array.from(targets), counts: Float64Array.from(counts), total };
  }

  /** Input ids: PAD x h, keys (unknown -> -1, a zero input), END. Class of an id = id - 1. */
  private frame(s: readonly string[]): number[] {
    const ids = new Array<number>(this.hyper.window).fill(PAD);
    for (const k of s) {
      const i = this.index.get(k);
      ids.push(i === undefined ? -1 : i + 1);
    }
    ids.push((this.index.get(END) as number) + 1);
    return ids;
  }

  private topGFor(ids: number[], end: number): Int32Array {
    const h = this.hyper.window;
    const sig = ids.slice(end - h, end).join(',');
    let top = this.cache.get(sig);
    if (!top) {
      const p = this.net.forward(ids, end - h, h);
      const order = Array.from(p.keys()).sort((a, b) => p[b] - p[a] || a - b);
      const floor = this.hyper.minProb;
      top = Int32Array.from(order.slice(0, Math.min(this.hyper.topG, order.length)).filter((c) => p[c] >= floor));
      if (this.cache.size > 200_000) this.cache.clear();
      this.cache.set(sig, top);
    }
    return top;
  }

  /** Changes the detection threshold (not the network): g and the probability floor. */
  setDetection(d: { topG?: number; minProb?: number }): void {
    const hp = { ...this.hyper, ...Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined)) };
    validateHyper(hp);
    this.hyper.topG = hp.topG;
    this.hyper.minProb = hp.minProb;
    this.cache.clear();
  }

  /** The keys (and END) that fall outside the model's top g, or are not in its vocabulary. */
  check(s: readonly string[], opts: { firstOnly?: boolean } = {}): Anomaly[] {
    const h = this.hyper.window;
    const ids = this.frame(s);
    const out: Anomaly[] = [];
    for (let i = h; i < ids.length; i++) {
      const top = this.topGFor(ids, i);
      const cls = ids[i] - 1;
      const unknown = ids[i] < 0;
      if (unknown || !top.includes(cls)) {
        const pos = i - h;
        out.push({ position: pos, key: pos < s.length ? s[pos] : END, expected: Array.from(top, (c) => this.vocab[c]), unknown });
        if (opts.firstOnly) break;
      }
    }
    return out;
  }

  /** Serialises to a deterministic byte string: same model, same bytes. */
  serialize(): string {
    const p = this.net.params;
    let buf: Buffer;
    if (LITTLE_ENDIAN) buf = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
    else {
      buf = Buffer.alloc(p.length * 8);
      for (let i = 0; i < p.length; i++) buf.writeDoubleLE(p[i], i * 8);
    }
    return JSON.stringify({
      format: FORMAT,
      version: FORMAT_VERSION,
      hyper: this.hyper,
      vocab: this.vocab,
      shape: this.net.shape,
      meta: this.meta,
      weights: buf.toString('base64'),
    }) + '\n';
  }

  static parse(text: string, source = 'model'): DeepLogModel {
    let o: any;
    try {
      o = JSON.parse(text);
    } catch (e) {
      throw new Error(`${source} is not a DeepLog model file (${(e as Error).message})`);
    }
    if (o?.format !== FORMAT) throw new Error(`${source} is not a DeepLog model file (format is ${JSON.stringify(o?.format)})`);
    if (o.version !== FORMAT_VERSION) throw new Error(`${source} has model format v${o.version}; this alastor reads v${FORMAT_VERSION}`);
    const buf = Buffer.from(String(o.weights), 'base64');
    if (buf.length % 8 !== 0) throw new Error(`${source}: weights are not a whole number of float64 values`);
    const params = new Float64Array(buf.length / 8);
    if (LITTLE_ENDIAN) new Uint8Array(params.buffer).set(buf);
    else for (let i = 0; i < params.length; i++) params[i] = buf.readDoubleLE(i * 8);
    const vocab: string[] = o.vocab;
    if (!Array.isArray(vocab) || o.shape.outputSize !== vocab.length) throw new Error(`${source}: vocabulary and network shape disagree`);
    return new DeepLogModel(vocab, { ...DEFAULT_HYPER, ...o.hyper }, new Lstm(o.shape, params), o.meta);
  }

  save(file: string): string {
    const text = this.serialize();
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, text);
    renameSync(tmp, file);
    return createHash('sha256').update(text).digest('hex');
  }

  static load(file: string): DeepLogModel {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new Error(`cannot read model ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return DeepLogModel.parse(text, file);
  }
}

function validateHyper(hp: Hyper): void {
  const ints: (keyof Hyper)[] = ['window', 'topG', 'hidden', 'layers', 'epochs', 'batch'];
  for (const k of ints) {
    if (!Number.isInteger(hp[k]) || (hp[k] as number) < 1) throw new Error(`hyperparameter ${k} must be a positive integer, got ${hp[k]}`);
  }
  if (!Number.isInteger(hp.embed) || hp.embed < 0) throw new Error(`hyperparameter embed must be 0 (one-hot) or a positive integer, got ${hp.embed}`);
  if (!(hp.minProb >= 0 && hp.minProb < 1)) throw new Error(`hyperparameter minProb must be in [0, 1), got ${hp.minProb}`);
  if (!(hp.countPower >= 0 && hp.countPower <= 1)) throw new Error(`hyperparameter countPower must be in [0, 1], got ${hp.countPower}`);
  if (!(hp.lr > 0)) throw new Error(`hyperparameter lr must be positive, got ${hp.lr}`);
  if (!Number.isInteger(hp.seed)) throw new Error(`seed must be an integer, got ${hp.seed}`);
}
