// The store as the collector, the graph and the CLI use it: the part of better-sqlite3's Database
// they call (prepare/get/all/run/iterate/raw, exec, pragma, transaction). SQLite is better-sqlite3
// itself, so its path costs nothing; PostgreSQL (pg/database.ts) offers the same calls,
// synchronously, over a connection on a thread of its own.
import type Database from 'better-sqlite3';

export type DB = Pick<Database.Database, 'prepare' | 'exec' | 'pragma' | 'transaction' | 'inTransaction' | 'close'>;

export type Dialect = 'sqlite' | 'postgres';

/** Set by the PostgreSQL store; a better-sqlite3 Database has no such field. */
export const DIALECT = Symbol.for('alastor.store.dialect');

export function dialectOf(db: DB): Dialect {
  return (db as { [DIALECT]?: Dialect })[DIALECT] ?? 'sqlite';
}
