// Turning a received batch body into something the writer can store, or a one-line refusal.
// Order of checks: JSON, then the schema (400 naming the first bad field), then the MAC (401).
// Each event's stored text is its text in the body as received (scan.ts): exactly what the
// producer MAC'ed. Only a body whose events cannot be located that way (an escaped "events" key)
// falls back to JSON.stringify of each parsed event, which matches any compact producer.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { batchMacInput, validateBatch, type AlastorEvent } from '../../events';
import type { EventColumns } from '../store/append';
import { compactSpans, eventSpans } from './scan';

export interface PreparedBatch {
  source: string;
  seq: number;
  prev: string;
  mac: string;
  count: number;
  cols: EventColumns;
}

export type Prepared =
  | { ok: true; batch: PreparedBatch }
  | { ok: false; status: 400 | 401; error: string; source?: string; seq?: number };

function columnsOf(events: readonly AlastorEvent[]): EventColumns {
  const n = events.length;
  const cols: EventColumns = {
    id: new Array(n), kind: new Array(n), ts: new Array(n), instance: new Array(n), function: new Array(n), invocation: new Array(n),
    text: null, spans: null, texts: null,
  };
  for (let i = 0; i < n; i++) {
    const e = events[i];
    cols.id[i] = e.id;
    cols.kind[i] = e.kind;
    cols.ts[i] = e.ts;
    cols.instance[i] = e.instance;
    cols.function[i] = e.function;
    cols.invocation[i] = e.invocation ?? null;
  }
  return cols;
}

export function prepareBatch(body: string, token: string): Prepared {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (e) {
    return { ok: false, status: 400, error: `batch: not JSON (${(e as Error).message})` };
  }
  const v = validateBatch(value);
  if (!v.ok) return { ok: false, status: 400, error: v.error };
  const b = v.value;
  const events = b.events as unknown as AlastorEvent[];
  const cols = columnsOf(events);
  const spans = eventSpans(body);
  let expect: string;
  if (spans && spans.length === 2 * events.length) {
    cols.text = body;
    cols.spans = spans;
    expect = macOverSpans(token, b.source, b.seq, b.prev, body, spans);
  } else {
    const texts = new Array<string>(events.length);
    for (let i = 0; i < events.length; i++) texts[i] = JSON.stringify(events[i]);
    cols.texts = texts;
    expect = macOverTexts(token, b.source, b.seq, b.prev, texts);
  }
  if (!sameHex(expect, b.mac)) {
    return { ok: false, status: 401, error: 'batch.mac: does not verify with the collector\'s token', source: b.source, seq: b.seq };
  }
  return { ok: true, batch: { source: b.source, seq: b.seq, prev: b.prev, mac: b.mac, count: events.length, cols } };
}

function macOverSpans(token: string, source: string, seq: number, prev: string, text: string, spans: Int32Array): string {
  if (spans.length > 0 && compactSpans(text, spans)) {
    return createHmac('sha256', token)
      .update(batchMacInput(source, seq, prev, '['))
      .update(text.slice(spans[0], spans[spans.length - 1]))
      .update(']')
      .digest('hex');
  }
  const texts: string[] = [];
  for (let k = 0; k < spans.length; k += 2) texts.push(text.slice(spans[k], spans[k + 1]));
  return macOverTexts(token, source, seq, prev, texts);
}

/**
 * The batch MAC of events/chain.ts (batchMac over eventsJson(texts)), fed to the HMAC piece by
 * piece: joining the texts into one string first and hashing that cost ~8x more CPU per batch.
 */
export function macOverTexts(token: string, source: string, seq: number, prev: string, texts: readonly string[]): string {
  const h = createHmac('sha256', token);
  h.update(batchMacInput(source, seq, prev, '['));
  for (let i = 0; i < texts.length; i++) {
    if (i > 0) h.update(',');
    h.update(texts[i]);
  }
  h.update(']');
  return h.digest('hex');
}

export function sameHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1'));
}
