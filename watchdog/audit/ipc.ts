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
