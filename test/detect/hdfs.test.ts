// The LSTM really learns an execution path: trained on normal HDFS sessions, it passes most held-out
// normal sessions and flags abnormal ones whose keys it knows (so neither the unknown-key rule nor
// the end-of-sequence check does the work: only its predictions can). Thresholds are what was
// measured here, with margin (docs/detect.md has the figures).
import { DeepLogModel } from '../../collector/detect/model';
import { readSessions } from '../support/deeplog-data';

test('trained on normal HDFS sessions, it separates held-out normal from abnormal', () => {
  const train = readSessions('hdfs_train');
  const abnormal = readSessions('hdfs_test_abnormal');
  const fit = train.slice(0, 1000);
  const heldOut = train.slice(4000); // 855 sessions, never seen in training
  // A smaller network than the default 2x64 so the test stays quick on 2 shared cores.
  const model = DeepLogModel.train(fit, { hidden: 32, epochs: 3, lr: 0.01, seed: 11 });
  const vocab = new Set(model.vocab);
  const hard = abnormal.filter((s) => s.length > model.hyper.window && s.every((k) => vocab.has(k))).filter((_, i) => i % 4 === 0);
  const flagged = (set: string[][]) => set.filter((s) => model.check(s, { firstOnly: true }).length > 0).length;

  const fpr = flagged(heldOut) / heldOut.length;
  const recall = flagged(hard) / hard.length;
  console.log(`HDFS (1000 training sessions, 2x32, 3 epochs): false positives ${(100 * fpr).toFixed(1)}% of ${heldOut.length} held-out normal; recall ${(100 * recall).toFixed(1)}% of ${hard.length} abnormal sessions with only known keys`);
  expect(fpr).toBeLessThan(0.05);
  expect(recall).toBeGreaterThan(0.8);
  expect(recall).toBeGreaterThan(10 * fpr);
}, 60000);
