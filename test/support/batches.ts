// Building signed batches the way a producer does (events/chain.ts), for collector tests.
import { GENESIS, SCHEMA_VERSION, batchMac, eventsJson, nowUs, uuidv7 } from '../../events';

export function stopEvent(instance: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { v: SCHEMA_VERSION, id: uuidv7(), ts: nowUs(), instance, function: 'fn', kind: 'instance.stop', reason: 'test', ...extra };
}

export interface Signed {
  body: string;
  mac: string;
  seq: number;
}

/** A producer's chain: next() seals the given events as the next batch. */
export class Chain {
  seq = 0;
  prev = GENESIS;
  constructor(readonly source: string, readonly token: string) {}
  next(events: Array<Record<string, unknown>>, opts: { seq?: number; prev?: string; key?: string } = {}): Signed {
    const seq = opts.seq ?? this.seq + 1;
    const prev = opts.prev ?? this.prev;
    const text = eventsJson(events.map((e) => JSON.stringify(e)));
    const mac = batchMac(opts.key ?? this.token, this.source, seq, prev, text);
    this.seq = seq;
    this.prev = mac;
    return { seq, mac, body: `{"v":1,"source":${JSON.stringify(this.source)},"seq":${seq},"prev":"${prev}","mac":"${mac}","events":${text}}` };
  }
}

export async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}
