import Database from 'better-sqlite3';
import { COMPONENTS } from './migrations';

export type DB = Database.Database;

/**
 * Opens (creating if needed) a store. WAL lets readers (the CLI) run while the collector writes;
 * synchronous=NORMAL under WAL still survives a process crash (only an OS crash can lose the last
 * transactions), which is what "a crash of the collector loses nothing accepted" needs.
 */
export function openStore(file: string, opts: { readonly?: boolean } = {}): DB {
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

export function migrate(db: DB): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)`);
  const get = db.prepare<[string], { version: number }>(`SELECT version FROM schema_version WHERE component = ?`);
  const set = db.prepare(`INSERT INTO schema_version (component, version) VALUES (?, ?)
                          ON CONFLICT(component) DO UPDATE SET version = excluded.version`);
  for (const [component, steps] of COMPONENTS) {
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
