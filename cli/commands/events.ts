// `alastor events --db FILE [--invocation ID] [--kind K] [--json]`
import type { Command } from 'commander';
import { KINDS, isKind, parseTimeArg, usToIso } from '../../events';
import { openStore } from '../../collector/store/open';
import { listEvents, summarize } from '../../collector/query/events';
import { table } from '../../collector/query/table';

export function register(program: Command): void {
  program
    .command('events')
    .description('list raw events as stored (each event is its own JSON object)')
    .requiredOption('--db <file|url>', 'SQLite store or postgres:// URL written by the collector')
    .option('--invocation <id>', 'only events of this invocation (and syscalls audit gave another one in flight with it by a guess, marked)')
    .option('--kind <kind>', `only this kind (${KINDS.join(', ')})`)
    .option('--instance <id>', 'only this instance')
    .option('--function <name>', 'only this function')
    .option('--since <time>', 'only events at or after (ISO time, epoch, or 15m/2h/3d ago)')
    .option('--limit <n>', 'at most n events')
    .option('--json', 'a JSON array for scripts')
    .action((o: { db: string; invocation?: string; kind?: string; instance?: string; function?: string; since?: string; limit?: string; json?: boolean }) => {
      if (o.kind && !isKind(o.kind)) throw new Error(`--kind: unknown kind "${o.kind}" (known: ${KINDS.join(', ')})`);
      const db = openStore(o.db, { readonly: true });
      try {
        const evs = listEvents(db, {
          invocation: o.invocation,
          kind: o.kind,
          instance: o.instance,
          function: o.function,
          sinceUs: o.since ? parseTimeArg(o.since) : undefined,
          limit: o.limit ? Number(o.limit) : undefined,
        });
        if (o.json) {
          process.stdout.write(`${JSON.stringify(evs, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          table(
            ['TIME', 'KIND', 'FUNCTION', 'INVOCATION', 'DETAIL'],
            evs.map((e) => [usToIso(e.ts as number), e.kind as string, e.function as string, (e.invocation as string) ?? '-', summarize(e)]),
          ),
        );
      } finally {
        db.close();
      }
    });
}
