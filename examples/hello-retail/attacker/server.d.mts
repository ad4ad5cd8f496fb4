// Types for server.mjs.
export interface Attacker {
  url: string;
  port: number;
  payloadUrl: string;
  exfilUrl: string;
  stolen: Array<{ at: number; remote: string; bytes: number; body: string }>;
  fetched: Array<{ at: number; remote: string }>;
  close(): Promise<void>;
}
export function startAttacker(o?: { port?: number; host?: string; log?: (line: string) => void }): Promise<Attacker>;
