// The batch hash chain. The MAC covers the exact JSON text of the events, so the collector stores
// each event's JSON text verbatim and `alastor verify` can recompute every MAC from the store.
import { createHmac } from 'node:crypto';

export const GENESIS = '0'.repeat(64);

export function eventsJson(eventTexts: readonly string[]): string {
  return `[${eventTexts.join(',')}]`;
}

export function batchMacInput(source: string, seq: number, prev: string, eventsText: string): string {
  return `alastor-batch-v1\n${source}\n${seq}\n${prev}\n${eventsText}`;
}

/**
 * eventsText: the `[...]` text, or its UTF-8 bytes (the watchdog's shipper keeps bytes).
 * Fed in two pieces: concatenating the header with a ~100 KB events text first would make V8
 * flatten a rope into a fresh copy for every batch.
 */
export function batchMac(token: string, source: string, seq: number, prev: string, eventsText: string | Uint8Array): string {
  return createHmac('sha256', token).update(batchMacInput(source, seq, prev, '')).update(eventsText).digest('hex');
}
