// The HDFS log-key sequences DeepLog is evaluated on (see test/fixtures/deeplog/README.md for their
// origin and licence).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEEPLOG_DATA = join(__dirname, '..', 'fixtures', 'deeplog');

/** One session per line, keys as strings. */
export function readSessions(name: 'hdfs_train' | 'hdfs_test_abnormal'): string[][] {
  return readFileSync(join(DEEPLOG_DATA, name), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => l.split(/\s+/));
}
