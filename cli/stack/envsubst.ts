// Environment variable substitution over a stack file's text, as faas-cli does before parsing the
// YAML: ${VAR}, ${VAR:-default} (default when unset or empty), ${VAR-default} (default when unset),
// bare $VAR, and $$ for a literal dollar sign. Unset variables without a default become "".

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

export function envsubst(text: string, env: Record<string, string | undefined>, source = 'stack file'): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      const close = text.indexOf('}', i + 2);
      if (close < 0) throw new Error(`${source}:${lineOf(text, i)}: unterminated "\${" (missing "}")`);
      out += expand(text.slice(i + 2, close), env, source, lineOf(text, i));
      i = close + 1;
      continue;
    }
    const m = NAME.exec(text.slice(i + 1));
    if (m) {
      out += env[m[0]] ?? '';
      i += 1 + m[0].length;
      continue;
    }
    out += c; // a lone "$" (e.g. at the end of a value) stays as it is
    i++;
  }
  return out;
}

function expand(expr: string, env: Record<string, string | undefined>, source: string, line: number): string {
  const m = NAME.exec(expr);
  if (!m) throw new Error(`${source}:${line}: bad variable reference "\${${expr}}"`);
  const name = m[0];
  const rest = expr.slice(name.length);
  const value = env[name];
  if (rest === '') return value ?? '';
  if (rest.startsWith(':-')) return value === undefined || value === '' ? rest.slice(2) : value;
  if (rest.startsWith('-')) return value === undefined ? rest.slice(1) : value;
  throw new Error(`${source}:${line}: unsupported form "\${${expr}}" (use \${VAR}, \${VAR:-default} or \${VAR-default})`);
}

function lineOf(text: string, index: number): number {
  let n = 1;
  for (let k = 0; k < index; k++) if (text.charCodeAt(k) === 10) n++;
  return n;
}
