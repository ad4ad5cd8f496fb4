// The shipper keeps event texts as UTF-8 bytes and seals batches from them. Through a real
// collector: non-ASCII text and an event larger than a whole batch buffer arrive byte for byte,
// in order, in chained batches that verify.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Shipper } from '../../watchdog/ship/shipper';
import { startCollector, stopAllCollectors } from '../support/collector';
import { stopEvent } from '../support/batches';

const TOKEN = 'batch-bytes-secret';
afterAll(stopAllCollectors);

test('multi-byte and oversized events are shipped exactly, in order, and verify', async () => {
  const c = await startCollector({ token: TOKEN });
  const spoolDir = mkdtempSync(join(tmpdir(), 'batch-bytes-'));
  const source = `batch-bytes-${process.pid}`;
  const shipper = new Shipper({ collectorUrl: c.url, token: TOKEN, source, spoolDir, log: () => {}, batchMaxBytes: 4096 });
  const texts: string[] = [];
  const reasons = [
    'plain',
    'é ü 漢字 🚀 \u2028', // 2-, 3- and 4-byte UTF-8, and a JS line separator
    'x'.repeat(300_000), // larger than the batch buffer: gets a buffer of its own
    '漢'.repeat(15_000), // fewer characters than the buffer has bytes, more bytes than it has
    'é'.repeat(100_000),
    '"quoted" \\ back\nslash',
    ...Array.from({ length: 200 }, (_, i) => `filler ${i} ${'ß'.repeat(i % 40)}`),
  ];
  try {
    for (const reason of reasons) {
      const text = JSON.stringify(stopEvent(source, { reason }));
      texts.push(text);
      shipper.pushText(text);
    }
    await shipper.close();
    const stored = c.query<{ body: string }>(`SELECT body FROM events WHERE instance = ? ORDER BY rowid`, source);
    expect(stored.map((r) => r.body)).toEqual(texts);
    const batches = c.query<{ n: number }>(`SELECT count(*) AS n FROM batches WHERE source = ?`, source)[0].n;
    expect(batches).toBeGreaterThan(3);
    expect((await c.cli(['verify'])).code).toBe(0);
  } finally {
    await c.stop();
    rmSync(spoolDir, { recursive: true, force: true });
  }
});
