// Runs the real `alastor up` (dist/alastor.js) as a child process for tests, and stops it.
//
//   const up = await startUp(stackFile, ['--audit', 'off']);   // waits for "stack ready:"
//   await fetch(`${up.gatewayUrl}/function/echo`);
//   await up.stop();                                           // SIGTERM; resolves on exit
//
// --port 0 and a private --state-dir are added unless given, so runs never collide.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decideAudit } from '../../cli/stack/audit';

export const ALASTOR_CLI = join(__dirname, '..', '..', 'dist', 'alastor.js');

export interface UpHandle {
  proc: ChildProcess;
  gatewayUrl: string;
  db?: string;
  stateDir: string;
  output(): string;
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

export async function startUp(stackFile: string, args: string[] = [], env: NodeJS.ProcessEnv = process.env, timeoutMs = 90000): Promise<UpHandle> {
  const stateDir = args.includes('--state-dir') ? args[args.indexOf('--state-dir') + 1] : mkdtempSync(join(tmpdir(), 'alastor-up-'));
  const full = [ALASTOR_CLI, 'up', stackFile, ...args];
  if (!args.includes('--port')) full.push('--port', '0');
  if (!args.includes('--state-dir')) full.push('--state-dir', stateDir);
  const proc = spawn(process.execPath, full, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = /stack ready: \d+ functions behind (\S+?)(?:, provenance in (\S+?))?\. /.exec(out);
    if (m) {
      return {
        proc,
        gatewayUrl: m[1],
        db: m[2],
        stateDir,
        output: () => out,
        exited,
        stop: async () => {
          if (!done) proc.kill('SIGTERM');
          return exited;
        },
      };
    }
    if (done) throw new Error(`alastor up exited before the stack was ready:\n${out}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`alastor up not ready within ${timeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Why a test of `alastor up --audit on` cannot run here, or undefined. In CI (CI=true) it always
 * runs: a machine without audit must fail there, not skip.
 */
export function stackAuditSkip(what: string): string | undefined {
  if (process.env.CI === 'true') return undefined;
  let reason: string | undefined;
  try {
    const d = decideAudit('auto');
    if (!d.on) reason = d.reason;
  } catch (e) {
    reason = (e as Error).message;
  }
  if (reason) console.log(`skipping ${what}: ${reason}`);
  return reason;
}
