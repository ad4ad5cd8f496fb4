// `alastor verify --db FILE [--json]`: recompute every batch chain; exit 1 on any problem.
//
// The key is the store's (events/token.ts storeToken): ALASTOR_TOKEN, ALASTOR_TOKEN_FILE, else
// the key file `alastor up` keeps beside its store. A wrong key makes every MAC fail at once and
// looks exactly like wholesale tampering, so the report says where the key came from and which
// cause is the likelier one.
import type { Command } from 'commander';
import { ENV, storeToken, usToIso, type KeyLookup } from '../../events';
import { openStore } from '../../collector/store/open';
import { verifyStore, type VerifyReport } from '../../collector/query/verify';

export function register(program: Command): void {
  program
    .command('verify')
    .description(`check every source's batch chain (gaps, breaks, MACs recomputed with ${ENV.token}, ${ENV.tokenFile}, or the key \`alastor up\` keeps in <db>.key); exits 1 on any problem`)
    .requiredOption('--db <file|url>', 'SQLite store or postgres:// URL written by the collector')
    .option('--require-closed', 'also fail when a source has no clean stop (its last events may be lost); for a store whose watchdogs have all stopped')
    .option('--json', 'the report as JSON')
    .action((o: { db: string; json?: boolean; requireClosed?: boolean }) => {
      const key = storeToken(process.env, o.db);
      const db = openStore(o.db, { readonly: true });
      let ok: boolean;
      try {
        const r = verifyStore(db, key.token, { requireClosed: o.requireClosed });
        ok = r.ok;
        const keyHint = badMacHint(r, key);
        if (o.json) process.stdout.write(`${JSON.stringify({ ...r, key: { from: key.from, looked: key.looked, hint: keyHint } }, null, 2)}\n`);
        else {
          const out: string[] = [`${r.sources} source(s), ${r.batches} batch(es), ${r.events} event(s) checked, key from ${key.from}`];
          const open = r.ends.filter((e) => e.state === 'open');
          out.push(`${r.ends.length - open.length} source(s) closed by a clean stop, ${open.length} open`);
          if (!o.requireClosed) {
            for (const e of open) out.push(`open: ${e.source}: no instance.stop after batch ${e.lastBatch} (stored ${usToIso(e.lastReceivedUs)}): still running, or it ended without a clean stop and its last events may be lost`);
          }
          for (const p of r.problems) out.push(`${p.problem}: ${p.source} seq ${p.seq ?? '-'}: ${p.detail}`);
          if (keyHint) out.push(keyHint);
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

/** What to say about recomputed MACs that fail: undefined when none do. */
export function badMacHint(r: VerifyReport, key: KeyLookup): string | undefined {
  const bad = r.problems.filter((p) => p.problem === 'bad-mac').length;
  if (bad === 0) return undefined;
  const where = `The key came from ${key.from}; looked up, in order: ${key.looked.join('; ')}.`;
  const fix = `Verify with the key the collector ran with: ${ENV.token}=KEY or ${ENV.tokenFile}=FILE (a store made by \`alastor up\` keeps its own in <db>.key unless one was configured).`;
  // Editing events breaks the MACs of the batches touched; a wrong key breaks every one of them.
  if (bad === r.batches) return `every batch fails its mac: likely cause: a different key from the one that signed them, rather than ${bad} altered batch(es). ${where} ${fix}`;
  return `${bad} of ${r.batches} batch(es) fail their mac while the rest verify with this key: their events were altered, or they were signed with a different key (an earlier run under another key, say). ${where}`;
}
