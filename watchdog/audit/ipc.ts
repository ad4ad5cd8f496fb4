// Messages between fwatchdog (parent) and its audit tailer child, over Node's IPC channel.
import type { AlastorEvent } from '../../events/schema';

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
  | { t: 'pid'; invocation: string; pid: number }
  | { t: 'end'; invocation: string; tsUs: number }
  | { t: 'stop' };

export type FromChild =
  | { t: 'ready'; pid: number; logPath: string }
  | { t: 'error'; message: string }
  | { t: 'events'; events: AlastorEvent[] }
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
