// `alastor up [stack.yml]`: run a faas-cli stack locally under fwatchdog with provenance, the
// collector and a gateway; Ctrl-C (or `alastor down`) stops it. --detach runs it in the background.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parseAuditMode } from '../stack/audit';
import { startStack } from '../stack/runner';
import { alive, readRecord, removeRecord, stateDirFor, writeRecord } from '../stack/state';

interface UpOptions {
  db?: string;
  audit: string;
  port?: string;
  stateDir?: string;
  provenance: boolean;
  detach?: boolean;
}

const READY = 'stack ready:';

export function register(program: Command): void {
  program
    .command('up')
    .description('run a faas-cli stack file locally: each function under fwatchdog, a gateway, and the collector')
    .argument('[stack]', 'stack file', 'stack.yml')
    .option('--db <file>', 'collector store (default <stack dir>/.alastor/alastor.db)')
    .option('--audit <mode>', 'audit layer: on, off or auto (on when root with auditd)', 'auto')
    .option('--port <n>', 'gateway port (default: the provider.gateway port, else 8080; 0 = any free port)')
    .option('--state-dir <dir>', 'build and state folder (default <stack dir>/.alastor)')
    .option('--no-provenance', 'plain fwatchdog: no provenance, no collector')
    .option('--detach', 'run in the background; stop it with `alastor down`')
    .action(async (file: string, o: UpOptions) => {
      parseAuditMode(o.audit);
      const port = o.port === undefined ? undefined : Number(o.port);
      if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new Error(`--port: not a port number: "${o.port}"`);
      const stateDir = stateDirFor(file, o.stateDir);
      const existing = readRecord(stateDir);
      if (existing && alive(existing.pid)) throw new Error(`a stack is already running from ${stateDir} (pid ${existing.pid}); stop it with \`alastor down\``);
      mkdirSync(stateDir, { recursive: true });
      if (o.detach) return detach(file, stateDir, process.argv.slice(2).filter((a) => a !== '--detach'));

      const stack = await startStack({
        stackFile: file,
        stateDir,
        db: o.db,
        gatewayPort: port,
        provenance: o.provenance,
        audit: parseAuditMode(o.audit),
      });
      console.log(stack.audit.reason);
      writeRecord(stateDir, {
        pid: process.pid,
        stackFile: resolve(file),
        gatewayUrl: stack.gatewayUrl,
        collectorUrl: stack.collectorUrl,
        db: stack.db,
        keyFile: stack.keyFile,
        startedAt: new Date().toISOString(),
      });
      console.log(`${READY} ${stack.functions.length} functions behind ${stack.gatewayUrl}${stack.db ? `, provenance in ${stack.db}` : ''}. Ctrl-C to stop.`);
      const stop = async (why: string) => {
        console.log(`stopping (${why})...`);
        await stack.stop();
        removeRecord(stateDir, process.pid);
        console.log('stopped');
        process.exit(why.startsWith('SIG') ? 0 : 1);
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
      void stack.failed.then((why) => stop(why));
    });
}

async function detach(file: string, stateDir: string, args: string[]): Promise<void> {
  const logFile = join(stateDir, 'up.log');
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, [process.argv[1], ...args], { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  const deadline = Date.now() + 120000;
  for (;;) {
    const text = readFileSync(logFile, 'utf8');
    if (text.includes(READY)) {
      process.stdout.write(text);
      console.log(`running in the background (pid ${child.pid}, log ${logFile}); stop it with: alastor down ${file}`);
      return;
    }
    if (child.exitCode !== null || !alive(child.pid!)) {
      process.stdout.write(text);
      throw new Error(`the stack did not start (log ${logFile})`);
    }
    if (Date.now() > deadline) throw new Error(`the stack was not ready within 120 s (log ${logFile}, pid ${child.pid})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
