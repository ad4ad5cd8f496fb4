// Hello, Retail! traffic for the DeepLog test, as one child process (the workload and attacker
// modules are ESM): `alastor up` the example stack on free ports with a store in DIR, send normal
// traffic (the training period), note the time, send more normal traffic with the two-step attack
// hidden in it (the held-out period), stop the stack so every watchdog flushes, print JSON.
//   node test/support/detect-hr-scenario.mjs DIR [trainRequests] [heldOutRequests]
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
const { runWorkload } = await import(join(root, 'examples', 'hello-retail', 'load.mjs'));
const { startAttacker } = await import(join(root, 'examples', 'hello-retail', 'attacker', 'server.mjs'));

const [dir, trainN = '150', heldN = '60'] = process.argv.slice(2);
const db = join(dir, 'hr.db');
const stack = spawn(
  process.execPath,
  [join(root, 'dist', 'alastor.js'), 'up', join(root, 'examples', 'hello-retail', 'stack.yml'), '--port', '0', '--db', db, '--state-dir', join(dir, 'state'), '--audit', 'off'],
  { stdio: ['ignore', 'pipe', 'pipe'] },
);
let logs = '';
stack.stderr.on('data', (d) => (logs += d));
const exited = new Promise((r) => stack.on('exit', r));
try {
  const gateway = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stack not ready in 60 s:\n${logs}`)), 60000);
    stack.stdout.on('data', (d) => {
      logs += d;
      const m = /stack ready: .* behind (http:\/\/[0-9.:]+)/.exec(logs);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    stack.on('exit', (c) => reject(new Error(`alastor up exited (${c}):\n${logs}`)));
  });
  const attacker = await startAttacker({});
  const train = await runWorkload({ gateway, requests: Number(trainN), concurrency: 2, seed: 1 });
  // Microseconds, the store's time unit; the gap keeps in-flight work on one side of it.
  await new Promise((r) => setTimeout(r, 200));
  const split = Date.now() * 1000;
  await new Promise((r) => setTimeout(r, 200));
  const held = await runWorkload({ gateway, requests: Number(heldN), concurrency: 2, seed: 2, attack: { payloadUrl: attacker.payloadUrl } });
  const stolen = attacker.stolen.length;
  await attacker.close();
  stack.kill('SIGTERM');
  await exited;
  process.stdout.write(JSON.stringify({ db, split, train, held, stolen }) + '\n');
} catch (e) {
  // Say what failed (fetch hides the socket error in `cause`) and what the stack said meanwhile.
  const alive = stack.exitCode === null && stack.signalCode === null;
  stack.kill('SIGTERM');
  await exited;
  const cause = e instanceof Error && e.cause ? `\ncause: ${e.cause instanceof Error ? e.cause.stack : e.cause}` : '';
  // The lines of a function that died come before everyone's shutdown lines: keep them all.
  const lines = logs.trim().split('\n');
  const died = [...new Set(lines.map((l) => /^\[([^\]]+)\].*Forked function has terminated/.exec(l)?.[1]).filter(Boolean))];
  const tail = [...lines.filter((l) => died.some((d) => l.startsWith(`[${d}]`))).slice(-40), '...', ...lines.slice(-20)].join('\n');
  process.stderr.write(`${e instanceof Error ? e.stack : e}${cause}\nthe stack was ${alive ? 'still running' : 'gone'}; its last lines:\n${tail}\n`);
  process.exit(1);
}
