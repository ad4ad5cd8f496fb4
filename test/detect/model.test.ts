// The LSTM's gradients, the model file round trip, and seed reproducibility.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lstm } from '../../collector/detect/lstm';
import { DeepLogModel } from '../../collector/detect/model';
import { Prng } from '../../collector/detect/prng';
import { readSessions } from '../support/deeplog-data';

const dir = mkdtempSync(join(tmpdir(), 'alastor-detect-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const train = readSessions('hdfs_train');
const abnormal = readSessions('hdfs_test_abnormal');
// Small enough to train in a few seconds, real enough that the predictions mean something.
const small = { epochs: 1, hidden: 24, layers: 2 };

test.each([0, 4])('backprop matches numerical gradients (embed %i)', (embed) => {
  const net = new Lstm({ inputSize: 6, outputSize: 5, hidden: 4, layers: 2, embed });
  net.init(new Prng(3));
  const ids = [0, 2, -1, 5, 1, 3, 3];
  const target = 2;
  const grad = new Float64Array(net.size);
  net.forward(ids);
  net.backward(target, 1, grad);
  let worst = 0;
  for (let i = 0; i < net.size; i++) {
    const o = net.params[i];
    net.params[i] = o + 1e-5;
    const up = -Math.log(net.forward(ids)[target]);
    net.params[i] = o - 1e-5;
    const down = -Math.log(net.forward(ids)[target]);
    net.params[i] = o;
    const num = (up - down) / 2e-5;
    // relative error, with a floor so float noise on near-zero gradients does not count
    worst = Math.max(worst, Math.abs(num - grad[i]) / Math.max(Math.abs(num) + Math.abs(grad[i]), 1e-3));
  }
  expect(worst).toBeLessThan(1e-4);
});

test('a model round-trips through a file: same bytes, same predictions', () => {
  const m = DeepLogModel.train(train.slice(0, 200), small);
  const file = join(dir, 'rt.deeplog.json');
  m.save(file);
  const back = DeepLogModel.load(file);
  expect(back.vocab).toEqual(m.vocab);
  expect(back.hyper).toEqual(m.hyper);
  expect(back.serialize()).toBe(readFileSync(file, 'utf8'));
  expect(Array.from(back.net.params)).toEqual(Array.from(m.net.params));
  const probe = abnormal.slice(0, 300);
  const before = probe.map((s) => m.check(s));
  expect(before.some((a) => a.length > 0)).toBe(true);
  expect(probe.map((s) => back.check(s))).toEqual(before);
  const window = [0, 1, 2, 3, 3, 4, 5, 1, 2, 6];
  expect(Array.from(back.net.forward(window))).toEqual(Array.from(m.net.forward(window)));
});

test('the same seed gives a byte-identical model; another seed does not', () => {
  const data = train.slice(0, 200);
  const a = DeepLogModel.train(data, { ...small, epochs: 1, seed: 7 });
  const b = DeepLogModel.train(data, { ...small, epochs: 1, seed: 7 });
  const c = DeepLogModel.train(data, { ...small, epochs: 1, seed: 8 });
  const fa = join(dir, 'a.json');
  const fb = join(dir, 'b.json');
  a.save(fa);
  b.save(fb);
  expect(readFileSync(fa).equals(readFileSync(fb))).toBe(true);
  expect(c.serialize()).not.toBe(a.serialize());
});

test('bad files and bad hyperparameters are named', () => {
  const f = join(dir, 'junk.json');
  require('node:fs').writeFileSync(f, '{"format":"something-else"}');
  expect(() => DeepLogModel.load(f)).toThrow(/is not a DeepLog model file/);
  expect(() => DeepLogModel.load(join(dir, 'missing.json'))).toThrow(/cannot read model .*ENOENT/);
  expect(() => DeepLogModel.train([['a', 'b']], { window: 0 })).toThrow(/window must be a positive integer/);
  expect(() => DeepLogModel.train([['a', 'b']], { minProb: 1 })).toThrow(/minProb must be in \[0, 1\)/);
});

test('unknown keys are anomalies, and a sequence that stops early is caught at its end', () => {
  const seqs = Array.from({ length: 30 }, () => ['start', 'read', 'read', 'write', 'end']);
  const m = DeepLogModel.train(seqs, { epochs: 30, hidden: 16, window: 4, topG: 1, lr: 0.02 });
  expect(m.check(['start', 'read', 'read', 'write', 'end'])).toEqual([]);
  const odd = m.check(['start', 'read', 'connect', 'read', 'write', 'end']);
  expect(odd[0]).toMatchObject({ position: 2, key: 'connect', unknown: true });
  const cut = m.check(['start', 'read', 'read']);
  expect(cut).toEqual([expect.objectContaining({ position: 3, key: '<end>', expected: ['write'] })]);
  const swapped = m.check(['start', 'write', 'read', 'read', 'end']);
  expect(swapped.map((a) => a.position)).toContain(1);
});
