// What `--db` names: a SQLite file, or a PostgreSQL URL (postgres://user@host:port/db). Errors
// here are the one line the CLI prints, so each names --db and never shows a password.
export type StoreTarget = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string; shown: string };

const PG = /^postgres(ql)?:\/\//i;

export function isPostgresUrl(db: string): boolean {
  return PG.test(db);
}

/** The URL with any password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:@/]*):[^@/]*@/i, '$1:***@');
}

export function storeTarget(db: string): StoreTarget {
  if (!isPostgresUrl(db)) return { kind: 'sqlite', file: db };
  const shown = redactUrl(db);
  let u: URL;
  try {
    u = new URL(db);
  } catch {
    throw new Error(`--db: "${shown}" is not a valid PostgreSQL URL (expected postgres://user@host:port/database)`);
  }
  if (!u.hostname) throw new Error(`--db: "${shown}" names no host (expected postgres://user@host:port/database)`);
  if (u.pathname.replace(/^\//, '') === '') throw new Error(`--db: "${shown}" names no database (expected postgres://user@host:port/database)`);
  return { kind: 'postgres', url: db, shown };
}
