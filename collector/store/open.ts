import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations';

export type DB = Database.Database;

/**
 * Opens (creating if needed) a store. WAL lets readers (the CLI) run while the collector writes;
 * synchronous=NORMAL under WAL still survives a process crash (only an OS crash can lose the last
 * transactions), which is what "a crash of the collector loses nothing accepted" needs.
 */
export function openStore(file: string, opts: { readonly?: boolean } = {}): DB {
  const db = new Database(file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    migrate(db);
  } else {
    const have = db.pragma('user_version', { simple: true }) as number;
    if (have === 0) throw new Error(`${file} is not an alastor store (no schema)`);
  }
  db.pragma('busy_timeout = 5000');
  return db;
}

export function migrate(db: DB): void {
  const have = db.pragma('user_version', { simple: true }) as number;
  if (have > MIGRATIONS.length) {
    throw new Error(`store schema version ${have} is newer than this alastor (${MIGRATIONS.length}); upgrade alastor`);
  }
  for (let v = have; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
