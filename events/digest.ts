import * as crypto from 'node:crypto';
import { createHash, createHmac, type Hash } from 'node:crypto';

/** One-shot sha256 (Node >= 20.12): no Hash object, whose native half costs a malloc, a global handle and a GC finaliser. */
const oneShot = (crypto as { hash?: (alg: string, data: Uint8Array | string, enc: 'hex') => string }).hash;

/** Bodies up to this size are hashed in one call at the end; larger ones stream through a Hash. */
const SMALL = 64 * 1024;

/**
 * sha256 of a body seen chunk by chunk. Small bodies (most function calls) keep references to
 * their chunks and hash once at the end; past SMALL bytes the digest streams, so a large body is
 * never held for hashing.
 */
export class StreamDigest {
  private hash: Hash | null = null;
  private chunks: Uint8Array[] | null = null;
  bytes = 0;
  update(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    if (this.hash) {
      this.hash.update(chunk);
      return;
    }
    (this.chunks ??= []).push(chunk);
    if (this.bytes > SMALL || !oneShot) {
      this.hash = createHash('sha256');
      for (const c of this.chunks) this.hash.update(c);
      this.chunks = null;
    }
  }
  hex(): string {
    if (this.hash) return this.hash.digest('hex');
    const c = this.chunks;
    if (c === null) return EMPTY_SHA256;
    return oneShot!('sha256', c.length === 1 ? c[0] : Buffer.concat(c), 'hex');
  }
}

export const EMPTY_SHA256 = createHash('sha256').digest('hex');

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function hmacHex(key: string, data: string): string {
  return createHmac('sha256', key).update(data).digest('hex');
}
