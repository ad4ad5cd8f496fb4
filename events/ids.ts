import { randomBytes, randomFillSync } from 'node:crypto';
import { hostname } from 'node:os';

let lastMs = 0;
let counter = 0;

// Random bits come from a pool refilled 4 KiB at a time: randomBytes(16) per id costs a call into
// the CSPRNG each time, which showed as a fifth of the watchdog's per-request provenance cost.
const pool = Buffer.allocUnsafe(4096);
let poolAt = pool.length;
function randomInto(b: Buffer): void {
  if (poolAt + b.length > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  pool.copy(b, 0, poolAt, poolAt + b.length);
  poolAt += b.length;
}

/**
 * UUIDv7 (RFC 9562): 48-bit ms timestamp, then a 12-bit counter in rand_a so ids made in the same
 * millisecond by one process still sort in creation order, then random bits.
 */
export function uuidv7(): string {
  let ms = Date.now();
  if (ms <= lastMs) {
    counter++;
    if (counter > 0xfff) {
      lastMs++;
      counter = 0;
    }
    ms = lastMs;
  } else {
    lastMs = ms;
    counter = 0;
  }
  const b = Buffer.allocUnsafe(16);
  randomInto(b);
  b.writeUIntBE(ms, 0, 6);
  b[6] = 0x70 | (counter >> 8);
  b[7] = counter & 0xff;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Stable for one process's life: the hostname (the pod name under OpenFaaS) plus a boot nonce. */
export function newInstanceId(host = hostname()): string {
  return `${host}-${randomBytes(4).toString('hex')}`;
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
