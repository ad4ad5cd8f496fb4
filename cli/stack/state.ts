// The record a running `alastor up` leaves in its state folder, so `alastor down` (or a script)
// can find and stop it.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export interface UpRecord {
  pid: number;
  stackFile: string;
  gatewayUrl: string;
  collectorUrl?: string;
  db?: string;
  /** The stack's own batch key file (key.ts), so `alastor audit ingest` can sign for this collector. */
  keyFile?: string;
  log?: string;
  startedAt: string;
}

export const stateDirFor = (stackFile: string, stateDir?: string) => resolve(stateDir ?? join(dirname(resolve(stackFile)), '.alastor'));
export const recordPath = (stateDir: string) => join(stateDir, 'up.json');

export function writeRecord(stateDir: string, rec: UpRecord): void {
  writeFileSync(recordPath(stateDir), `${JSON.stringify(rec, null, 2)}\n`);
}

export function readRecord(stateDir: string): UpRecord | undefined {
  const p = recordPath(stateDir);
  if (!existsSync(p)) return undefined;
  try {
    return JSON.parse(readFileSync(p, 'utf8')) as UpRecord;
  } catch {
    throw new Error(`${p}: not a valid record of a running stack (remove it)`);
  }
}

export function removeRecord(stateDir: string, pid: number): void {
  const rec = readRecord(stateDir);
  if (rec && rec.pid === pid) rmSync(recordPath(stateDir), { force: true });
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
