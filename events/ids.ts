import { randomBytes, randomFillSync } from 'node:crypto';
import { hostname } from 'node:os';

let lastMs = 0;
let counter = 0;

// Random bits come from one pool refilled 64 KiB at a time. Each refill is a call into the CSPRNG
// whose fixed cost (several us, more when cold) dwarfs the bytes: per id it showed as a fifth of
// the watchdog's provenance cost with randomBytes(16), and still ~1% of a request at 4 KiB.
const pool = Buffer.allocUnsafeSlow(64 * 1024);
let poolAt = pool.length;
function take(n: number): number {
  if (poolAt + n > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const at = poolAt;
  poolAt += n;
  return at;
}
function randomInto(b: Buffer): void {
  const at = take(b.length);
  pool.copy(b, 0, at, at + b.length);
}

/** `bytes` random bytes as lowercase hex (trace and span ids). */
export function randomHex(bytes: number): string {
  const at = take(bytes);
  return pool.toString('hex', at, at + bytes);
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
