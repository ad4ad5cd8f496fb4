// `alastor verify --db FILE [--json]`: recompute every batch chain; exit 1 on any problem.
import type { Command } from 'commander';
import { ENV, readToken, usToIso } from '../../events';
import { openStore } from '../../collector/store/open';
import { verifyStore } from '../../collector/query/verify';

export function register(program: Command): void {
  program
    .command('verify')
    .description(`check every source's batch chain (gaps, breaks, MACs recomputed with ${ENV.token}); exits 1 on any problem`)
    .requiredOption('--db <file>', 'SQLite store written by the collector')
    .option('--require-closed', 'also fail when a source has no clean stop (its last events may be lost); for a store whose watchdogs have all stopped')
    .option('--json', 'the report as JSON')
    .action((o: { db: string; json?: boolean; requireClosed?: boolean }) => {
      const db = openStore(o.db, { readonly: true });
      let ok: boolean;
      try {
        const r = verifyStore(db, readToken(process.env), { requireClosed: o.requireClosed });
        ok = r.ok;
        if (o.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        else {
          const out: string[] = [`${r.sources} source(s), ${r.batches} batch(es), ${r.events} event(s) checked`];
          const open = r.ends.filter((e) => e.state === 'open');
          out.push(`${r.ends.length - open.length} source(s) closed by a clean stop, ${open.length} open`);
          if (!o.requireClosed) {
            for (const e of open) out.push(`open: ${e.source}: no instance.stop after batch ${e.lastBatch} (stored ${usToIso(e.lastReceivedUs)}): still running, or it ended without a clean stop and its last events may be lost`);
          }
          for (const p of r.problems) out.push(`${p.problem}: ${p.source} seq ${p.seq ?? '-'}: ${p.detail}`);
          const stillGap = new Set(r.problems.filter((p) => p.problem === 'gap').map((p) => p.source));
          let findings = 0;
          for (const p of r.recorded) {
            const filled = p.problem === 'gap' && !stillGap.has(p.source);
            if (!filled) findings++;
            out.push(`recorded at ingest: ${p.problem}: ${p.source} seq ${p.seq ?? '-'}: ${p.detail}${filled ? ' (filled since)' : ''}`);
          }
          out.push(r.ok ? 'ok: every chain is complete and every mac verifies' : `FAILED: ${r.problems.length} problem(s) in the store, ${findings} recorded at ingest`);
          process.stdout.write(`${out.join('\n')}\n`);
        }
      } finally {
        db.close();
      }
      if (!ok) process.exitCode = 1;
    });
}
