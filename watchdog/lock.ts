// The lock file that marks the watchdog healthy for exec health checks (Docker HEALTHCHECK with
// `fwatchdog --run-healthcheck`): <temp dir>/.lock, the temp dir honouring TMPDIR as Go's
// os.TempDir does.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function lockPath(): string {
  return join(tmpdir(), '.lock');
}

export function writeLock(): string {
  const path = lockPath();
  mkdirSync(tmpdir(), { recursive: true });
  writeFileSync(path, '', { mode: 0o660 });
  return path;
}

export function removeLock(): void {
  rmSync(lockPath(), { force: true });
}

export function lockPresent(): boolean {
  return existsSync(lockPath());
}
