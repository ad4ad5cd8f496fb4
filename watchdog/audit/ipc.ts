// Messages between fwatchdog (parent) and its audit tailer child, over Node's IPC channel.
import type { Claim } from '../../events/claims';
import type { AlastorEvent } from '../../events/schema';
import type { Birth } from './births';

export interface ChildConfig {
  t: 'config';
  rootPid: number;
  instance: string;
  function: string;
  key: string;
  logPath?: string;
  readDirs?: string[];
  includeRoot?: boolean;
}

export type ToChild =
  | ChildConfig
  | { t: 'start'; invocation: string; tsUs: number; pid?: number }
  /** The process serving an invocation, named after its start (attribute.ts servedBy tells a fork). */
  | { t: 'pid'; invocation: string; pid: number }
  | { t: 'end'; invocation: string; tsUs: number }
  /** What the function's instrumentation says one of its acts was for (events/claims.ts). */
  | { t: 'claim'; claim: Claim }
  | { t: 'stop' };

export type FromChild =
  | { t: 'ready'; pid: number; logPath: string }
  | { t: 'error'; message: string }
  | { t: 'events'; events: AlastorEvent[] }
  /** Processes whose creation was just attributed: the invocation each was born in. */
  | { t: 'births'; births: Birth[] }
  | { t: 'log'; line: string }
  | { t: 'stopped' };

/**
 * Sends over an IPC channel that may close at any moment (the other side exits, e.g. a watchdog
 * whose function died at start-up): a closed channel drops the message instead of throwing, and a
 * write error (EPIPE when the peer is gone but its end-of-file is not read yet) goes to the callback
 * rather than becoming an unhandled 'error' event that kills the process. Returns false if dropped.
 */
export function safeSend<M>(target: { connected: boolean; send?(m: M, cb?: (err: Error | null) => void): boolean }, m: M, onError?: (err: Error) => void): boolean {
  if (!target.connected || !target.send) return false;
  try {
    target.send(m, (err) => {
      if (err) onError?.(err);
    });
    return true;
  } catch (err) {
    onError?.(err as Error);
    return false;
  }
}
