// The store's SQL is written for SQLite; most of it is standard and runs on PostgreSQL as is.
// This turns the rest into PostgreSQL once per statement text:
//  - `?` and `@name` parameters -> `$n` (a name used twice is one parameter);
//  - `INSERT OR IGNORE INTO` -> `INSERT INTO ... ON CONFLICT DO NOTHING`;
//  - `json_extract(col, '$.key')` -> `(col::jsonb ->> 'key')`; `json_each(col, '$.key')` -> the
//    array's elements as a table with a `value` column (bodies are TEXT: the exact JSON received);
//  - camelCase aliases (`AS durationMs`) quoted, which PostgreSQL would fold to lower case;
//  - an INSERT into a table with a generated key returns it, as lastInsertRowid does.
// Anything that cannot be said portably is written per dialect by its caller (dialectOf).

export interface Translated {
  sql: string;
  /** For named parameters: the name behind each $n, in order. */
  names: string[] | null;
  /** The generated key column an INSERT returns, when it returns one. */
  returns: string | null;
}

/** Tables with a generated integer key (SQLite's INTEGER PRIMARY KEY). */
const KEYS: Record<string, string> = {
  events: 'seq',
  integrity: 'id',
  graph_nodes: 'nid',
  graph_edges: 'eid',
  detect_models: 'id',
  detect_detections: 'id',
};

/** Applies `f` to the text outside quoted strings and identifiers. */
function outsideQuotes(sql: string, f: (code: string) => string): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const q = sql.slice(i).search(/['"]/);
    if (q < 0) {
      out += f(sql.slice(i));
      break;
    }
    out += f(sql.slice(i, i + q));
    const quote = sql[i + q];
    let j = i + q + 1;
    for (;;) {
      const k = sql.indexOf(quote, j);
      if (k < 0) {
        j = sql.length;
        break;
      }
      if (sql[k + 1] === quote) {
        j = k + 2;
        continue;
      }
      j = k + 1;
      break;
    }
    out += sql.slice(i + q, j);
    i = j;
  }
  return out;
}

export function translate(sqlite: string): Translated {
  let sql = sqlite
    .replace(/json_extract\(\s*([\w.]+)\s*,\s*'\$\.(\w+)'\s*\)/g, `($1::jsonb ->> '$2')`)
    .replace(/json_each\(\s*([\w.]+)\s*,\s*'\$\.(\w+)'\s*\)/g, `jsonb_array_elements_text(COALESCE($1::jsonb -> '$2', '[]'::jsonb)) AS json_each(value)`);
  let ignore = false;
  let n = 0;
  const names: string[] = [];
  sql = outsideQuotes(sql, (code) =>
    code
      .replace(/\bINSERT\s+OR\s+IGNORE\s+INTO\b/gi, () => {
        ignore = true;
        return 'INSERT INTO';
      })
      .replace(/\bAS\s+([a-z]\w*[A-Z]\w*)\b/g, 'AS "$1"')
      .replace(/\?|@(\w+)/g, (_m, name: string | undefined) => {
        if (name === undefined) return `$${++n}`;
        let k = names.indexOf(name);
        if (k < 0) k = names.push(name) - 1;
        return `$${k + 1}`;
      }),
  );
  sql = sql.trim().replace(/;$/, '');
  if (ignore) sql += ' ON CONFLICT DO NOTHING';
  let returns: string | null = null;
  const ins = /^\s*INSERT\s+INTO\s+(\w+)/i.exec(sql);
  if (ins && KEYS[ins[1]] && !/\bRETURNING\b/i.test(sql)) {
    returns = KEYS[ins[1]];
    sql += ` RETURNING ${returns}`;
  }
  return { sql, names: names.length > 0 ? names : null, returns };
}
