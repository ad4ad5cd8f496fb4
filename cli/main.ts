// The `alastor` command. Each subcommand lives in cli/commands/<name>.ts and registers itself here;
// this file only wires them together and turns thrown errors into one clear line.
import { Command, CommanderError } from 'commander';
import { register as collector } from './commands/collector';
import { register as invocations } from './commands/invocations';
import { register as events } from './commands/events';
import { register as verify } from './commands/verify';
import { register as audit } from './commands/audit';
import { register as trace } from './commands/trace';
import { register as graph } from './commands/graph';
import { register as detect } from './commands/detect';
import { register as investigate } from './commands/investigate';
import { register as up } from './commands/up';
import { register as down } from './commands/down';

const program = new Command('alastor')
  .description('Provenance auditing for OpenFaaS functions')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

for (const r of [collector, invocations, events, verify, audit, trace, graph, detect, investigate, up, down]) r(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(`alastor: ${err instanceof Error ? err.message : String(err)}\n`);
  if (process.env.ALASTOR_DEBUG) console.error(err);
  process.exit(1);
});
