// `alastor down [stack.yml]`: stop the stack `alastor up` runs for that stack file (in the
// background or in another terminal), and wait until everything it started has exited.
import type { Command } from 'commander';
import { alive, readRecord, recordPath, removeRecord, stateDirFor } from '../stack/state';

export function register(program: Command): void {
  program
    .command('down')
    .description('stop a stack started with `alastor up`')
    .argument('[stack]', 'stack file', 'stack.yml')
    .option('--state-dir <dir>', 'state folder given to `alastor up` (default <stack dir>/.alastor)')
    .option('--timeout <s>', 'seconds to wait before killing it', '60')
    .action(async (file: string, o: { stateDir?: string; timeout: string }) => {
      const stateDir = stateDirFor(file, o.stateDir);
      const rec = readRecord(stateDir);
      if (!rec) throw new Error(`no running stack recorded in ${recordPath(stateDir)}`);
      if (!alive(rec.pid)) {
        removeRecord(stateDir, rec.pid);
        console.log(`the stack (pid ${rec.pid}) was not running; removed its record`);
        return;
      }
      process.kill(rec.pid, 'SIGTERM');
      const deadline = Date.now() + Number(o.timeout) * 1000;
      while (alive(rec.pid)) {
        if (Date.now() > deadline) {
          process.kill(rec.pid, 'SIGKILL');
          removeRecord(stateDir, rec.pid);
          throw new Error(`the stack (pid ${rec.pid}) did not stop within ${o.timeout} s: killed it`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      console.log(`stopped the stack of ${rec.stackFile} (pid ${rec.pid})`);
    });
}
