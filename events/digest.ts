import { createHash, createHmac, type Hash } from 'node:crypto';

/** Incremental sha256 over a body seen chunk by chunk, so bodies are never buffered for hashing. */
export class StreamDigest {
  private hash: Hash = createHash('sha256');
  bytes = 0;
  update(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
  }
  hex(): string {
    return this.hash.digest('hex');
  }
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function hmacHex(key: string, data: string): string {
  return createHmac('sha256', key).update(data).digest('hex');
}
