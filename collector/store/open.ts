import Database from 'better-sqlite3';
import { COMPONENTS } from './migrations';
import { PG_COMPONENTS } from './pg/migrations';
import { PgDatabase } from './pg/database';
import { storeTarget } from './target';
import { dialectOf, type DB } from './db';

export type { DB } from './db';
export { dialectOf } from './db';

/**
 * Opens (creating if needed) a store: a SQLite file, or a PostgreSQL database when `db` is a
 * postgres:// URL (store/target.ts). The errors a bad --db causes are one line naming --db.
 */
export function openStore(db: string, opts: { readonly?: boolean } = {}): DB {
  const t = storeTarget(db);
  return t.kind === 'postgres' ? openPostgres(t.url, t.shown, opts) : openSqlite(t.file, opts);
}

/**
 * WAL lets readers (the CLI) run while the collector writes; synchronous=NORMAL under WAL still
 * survives a process crash (only an OS crash can lose the last transactions), which is what "a
 * crash of the collector loses nothing accepted" needs.
 */
function openSqlite(file: string, opts: { readonly?: boolean }): DB {
  const readonly = opts.readonly ?? false;
  const db = new Database(file, { readonly, fileMustExist: readonly });
  db.pragma('busy_timeout = 5000');
  if (readonly) {
    const ok = db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'schema_version'`).get();
    if (!ok) throw new Error(`${file} is not an alastor store (no schema)`);
    return db;
  }
  // 16 KiB pages for a new store (an existing one keeps its size): a third fewer WAL writes per
  // event than 4 KiB at ingest rates, measured in scripts/bench-ingest.mjs.
  db.pragma('page_size = 16384');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  migrate(db);
  return db;
}

/** Key of the advisory lock under which one collector at a time migrates a shared database. */
const MIGRATE_LOCK = 7_311_001;

function openPostgres(url: string, shown: string, opts: { readonly?: boolean }): DB {
  const pg = new PgDatabase(url);
  const db = pg.asDB();
  try {
    db.prepare('SELECT 1').get();
  } catch (e) {
    pg.close();
    throw new Error(`--db: cannot use PostgreSQL at ${shown}: ${(e as Error).message}`);
  }
  try {
    if (opts.readonly) {
      const ok = db.prepare(`SELECT to_regclass('schema_version') IS NOT NULL AS ok`).get() as { ok: boolean };
      if (!ok.ok) throw new Error(`--db: ${shown} is not an alastor store (no schema)`);
      // Reads only: a mistaken UPDATE from a query path fails instead of changing evidence.
      db.exec('SET default_transaction_read_only = on');
    } else {
      db.transaction(() => {
        // Replicas starting together: one migrates, the others then find it done.
        db.prepare('SELECT pg_advisory_xact_lock(?)').get(MIGRATE_LOCK);
        migrate(db);
      })();
    }
  } catch (e) {
    pg.close();
    throw e;
  }
  return db;
}

export function migrate(db: DB): void {
  const postgres = dialectOf(db) === 'postgres';
  db.exec(`CREATE TABLE IF NOT EXISTS schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)`);
  const get = db.prepare<[string], { version: number }>(`SELECT version FROM schema_version WHERE component = ?`);
  const set = db.prepare(`INSERT INTO schema_version (component, version) VALUES (?, ?)
                          ON CONFLICT(component) DO UPDATE SET version = excluded.version`);
  for (const [component, steps] of postgres ? PG_COMPONENTS : COMPONENTS) {
    const have = get.get(component)?.version ?? 0;
    if (have > steps.length) {
      throw new Error(`store's ${component} schema (v${have}) is newer than this alastor (v${steps.length}); upgrade alastor`);
    }
    for (let v = have; v < steps.length; v++) {
      db.transaction(() => {
        db.exec(steps[v]);
        set.run(component, v + 1);
      })();
    }
  }
}
