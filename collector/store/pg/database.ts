// better-sqlite3's calls (the DB type in ../db.ts) on a PostgreSQL connection, synchronously (see
// sync.ts). Statements are translated once per text (translate.ts); transactions nest with
// savepoints, as better-sqlite3's do. `pragma` is SQLite's own and does nothing here.
import type { DB } from '../db';
import { DIALECT } from '../db';
import { SyncConnection } from './sync';
import { translate, type Translated } from './translate';

function bind(t: Translated, args: unknown[]): unknown[] {
  const flat: unknown[] = [];
  let named: Record<string, unknown> | undefined;
  for (const a of args) {
    if (Array.isArray(a)) flat.push(...a);
    else if (a !== null && typeof a === 'object' && !Buffer.isBuffer(a) && !ArrayBuffer.isView(a)) named = a as Record<string, unknown>;
    else flat.push(a);
  }
  const values = t.names ? t.names.map((n) => named?.[n]) : flat;
  // better-sqlite3 stores undefined as an error and bigint as integers; pg takes null and text.
  return values.map((v) => (v === undefined ? null : typeof v === 'bigint' ? v.toString() : v));
}

class PgStatement {
  private rawRows = false;
  constructor(private readonly conn: SyncConnection, private readonly t: Translated) {}

  private query(args: unknown[]) {
    return this.conn.call({ t: 'query', sql: this.t.sql, params: bind(this.t, args), raw: this.rawRows });
  }

  raw(on = true): this {
    this.rawRows = on;
    return this;
  }

  get(...args: unknown[]): unknown {
    return this.query(args).rows[0];
  }

  all(...args: unknown[]): unknown[] {
    return this.query(args).rows;
  }

  iterate(...args: unknown[]): IterableIterator<unknown> {
    return this.query(args).rows[Symbol.iterator]();
  }

  run(...args: unknown[]): { changes: number; lastInsertRowid: number } {
    const r = this.query(args);
    const last = this.t.returns && r.rows.length > 0 ? (r.rows[r.rows.length - 1] as Record<string, unknown>)[this.t.returns] : 0;
    return { changes: r.count, lastInsertRowid: Number(last) };
  }
}

export class PgDatabase {
  readonly [DIALECT] = 'postgres' as const;
  private readonly conn: SyncConnection;
  private depth = 0;
  private open = true;

  constructor(url: string) {
    this.conn = new SyncConnection(url);
  }

  get inTransaction(): boolean {
    return this.depth > 0;
  }

  prepare(sql: string): PgStatement {
    return new PgStatement(this.conn, translate(sql));
  }

  /** Runs SQL as written (PostgreSQL's own; several statements allowed), no parameters. */
  exec(sql: string): this {
    this.conn.call({ t: 'exec', sql });
    return this;
  }

  pragma(): undefined {
    return undefined;
  }

  transaction<A extends unknown[], R>(fn: (...args: A) => R) {
    const run = (...args: A): R => {
      const outer = this.depth === 0;
      const sp = `alastor_sp${this.depth}`;
      this.exec(outer ? 'BEGIN' : `SAVEPOINT ${sp}`);
      this.depth++;
      let r: R;
      try {
        r = fn(...args);
      } catch (e) {
        this.depth--;
        try {
          this.exec(outer ? 'ROLLBACK' : `ROLLBACK TO SAVEPOINT ${sp}; RELEASE SAVEPOINT ${sp}`);
        } catch {
          // The connection is gone; the server rolled back.
        }
        throw e;
      }
      this.depth--;
      this.exec(outer ? 'COMMIT' : `RELEASE SAVEPOINT ${sp}`);
      return r;
    };
    // SQLite's lock modes mean nothing here: PostgreSQL locks rows, and callers that must run one
    // at a time take advisory locks.
    return Object.assign(run, { deferred: run, immediate: run, exclusive: run, default: run });
  }

  close(): this {
    if (this.open) {
      this.open = false;
      this.conn.close();
    }
    return this;
  }

  /** The same object, as the DB type the callers take. */
  asDB(): DB {
    return this as unknown as DB;
  }
}
