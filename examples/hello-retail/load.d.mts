// Types for load.mjs, so TypeScript callers (the demo, the benchmark) are checked.
export interface WorkloadRequest { fn: string; query?: string; body?: unknown }
export interface SendResult { fn: string; status: number; callId?: string; at: number; ms: number; text: string }
export interface AttackStep { callId?: string; status: number; at: number; body: Record<string, unknown> }
export interface WorkloadResult {
  sent: number;
  failed: number;
  statuses: Record<string, number>;
  attack: { one?: AttackStep; two?: AttackStep };
}
export function send(gateway: string, req: WorkloadRequest): Promise<SendResult>;
export function runWorkload(o: {
  gateway: string;
  requests?: number;
  concurrency?: number;
  seed?: number;
  attack?: { payloadUrl: string; oneAt?: number; twoAt?: number };
  user?: string;
  log?: (line: string) => void;
}): Promise<WorkloadResult>;
