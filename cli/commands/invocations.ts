// `alastor invocations --db FILE [--function F] [--since T] [--json]`
import type { Command } from 'commander';
import { parseTimeArg } from '../../events';
import { openStore } from '../../collector/store/open';
import { listInvocations } from '../../collector/query/invocations';
import { table } from '../../collector/query/table';

export function register(program: Command): void {
  program
    .command('invocations')
    .description('list invocations: id, function, instance, sequence, trace, parent, status, duration')
    .requiredOption('--db <file|url>', 'SQLite store or postgres:// URL written by the collector')
    .option('--function <name>', 'only this function')
    .option('--instance <id>', 'only this instance')
    .option('--since <time>', 'only invocations started at or after (ISO time, epoch, or 15m/2h/3d ago)')
    .option('--limit <n>', 'at most n rows')
    .option('--json', 'a JSON array for scripts')
    .action((o: { db: string; function?: string; instance?: string; since?: string; limit?: string; json?: boolean }) => {
      const db = openStore(o.db, { readonly: true });
      try {
        const rows = listInvocations(db, {
          function: o.function,
          instance: o.instance,
          sinceUs: o.since ? parseTimeArg(o.since) : undefined,
          limit: o.limit ? Number(o.limit) : undefined,
        });
        if (o.json) {
          process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          table(
            ['START', 'ID', 'FUNCTION', 'INSTANCE', 'SEQ', 'TRACE', 'PARENT', 'STATUS', 'MS', 'REQUEST'],
            rows.map((r) => [r.start, r.id, r.function, r.instance, r.seq, r.traceId, r.parentInvocation ?? r.parent, r.status, r.durationMs, `${r.method} ${r.path}`]),
          ),
        );
      } finally {
        db.close();
      }
    });
}
