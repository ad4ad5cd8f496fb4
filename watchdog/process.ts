// Starting and stopping function processes. Each runs in its own process group (detached), so a
// timeout or shutdown stops everything it started, not only the direct child.
import { spawn, type ChildProcess } from 'node:child_process';
import { splitProcess } from './config';

/** claimPipe: give the process a fourth pipe (fd 3) on which its instrumentation reports claims (events/claims.ts). */
export function spawnFunction(fprocess: string, env: NodeJS.ProcessEnv, claimPipe = false): ChildProcess {
  const { command, args } = splitProcess(fprocess);
  return spawn(command, args, { env, detached: true, stdio: claimPipe ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'] });
}

/** Signals the child's whole process group; falls back to the child alone. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/** SIGTERM to the group, SIGKILL after graceMs; resolves once the child has exited. */
export function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    killGroup(child, 'SIGTERM');
  });
}

/** "exit status 1" / "signal: killed", as Go's exec.ExitError reads. */
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `signal: ${signal === 'SIGKILL' ? 'killed' : signal === 'SIGTERM' ? 'terminated' : signal}`;
  return `exit status ${code}`;
}
