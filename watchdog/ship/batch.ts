// Sealing events into a chained batch. The wire text embeds each event's JSON text verbatim,
// so the collector's JSON.stringify of each parsed event gives back exactly what the MAC covers.
import { batchMac, eventsJson, SCHEMA_VERSION } from '../../events';

export interface SealedBatch {
  seq: number;
  mac: string;
  events: number;
  /** The whole request body. */
  wire: string;
}

export function sealBatch(token: string, source: string, seq: number, prev: string, texts: readonly string[]): SealedBatch {
  const eventsText = eventsJson(texts);
  const mac = batchMac(token, source, seq, prev, eventsText);
  const wire = `{"v":${SCHEMA_VERSION},"source":${JSON.stringify(source)},"seq":${seq},"prev":"${prev}","mac":"${mac}","events":${eventsText}}`;
  return { seq, mac, events: texts.length, wire };
}
