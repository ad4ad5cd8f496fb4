// The batch hash chain. The MAC covers the exact JSON text of the events, so the collector stores
// each event's JSON text verbatim and `alastor verify` can recompute every MAC from the store.
import { hmacHex } from './digest';

export const GENESIS = '0'.repeat(64);

export function eventsJson(eventTexts: readonly string[]): string {
  return `[${eventTexts.join(',')}]`;
}

export function batchMacInput(source: string, seq: number, prev: string, eventsText: string): string {
  return `alastor-batch-v1\n${source}\n${seq}\n${prev}\n${eventsText}`;
}

export function batchMac(token: string, source: string, seq: number, prev: string, eventsText: string): string {
  return hmacHex(token, batchMacInput(source, seq, prev, eventsText));
}
