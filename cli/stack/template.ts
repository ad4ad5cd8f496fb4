// Finds a function's template as faas-cli does (./template/<lang> beside the stack file), falling
// back to this repository's function-templates/, and reads the watchdog configuration the image
// would have from the Dockerfile's ENV lines.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

export type Runtime = 'node' | 'python' | 'other';

export interface Template {
  lang: string;
  dir: string;
  runtime: Runtime;
  /** ENV lines of the Dockerfile (fprocess, mode, upstream_url, timeouts, ...). */
  env: Record<string, string>;
  /** Found in the template/ folder beside the stack file rather than among the bundled ones. */
  fromStack: boolean;
  /** A bundled template of that name exists and is not used. */
  shadowsBundled: boolean;
}

export function templateDirs(stackDir: string, root: string): string[] {
  return [join(stackDir, 'template'), join(root, 'function-templates', 'template')];
}

export function findTemplate(lang: string, stackDir: string, root: string): Template {
  const tried = templateDirs(stackDir, root).map((d) => join(d, lang));
  const dir = tried.find((d) => existsSync(join(d, 'template.yml')));
  if (!dir) throw new Error(`template "${lang}" not found (looked in ${tried.join(', ')})`);
  const meta = parseYaml(readFileSync(join(dir, 'template.yml'), 'utf8')) as { fprocess?: string } | null;
  const dockerfile = join(dir, 'Dockerfile');
  const env = existsSync(dockerfile) ? dockerfileEnv(readFileSync(dockerfile, 'utf8')) : {};
  if (!env.fprocess && meta?.fprocess) env.fprocess = meta.fprocess;
  if (!env.fprocess) throw new Error(`template "${lang}": no fprocess in its Dockerfile or template.yml`);
  const runtime: Runtime = existsSync(join(dir, 'package.json'))
    ? 'node'
    : existsSync(join(dir, 'requirements.txt')) || existsSync(join(dir, 'index.py'))
      ? 'python'
      : 'other';
  const fromStack = dir === tried[0];
  return { lang, dir, runtime, env, fromStack, shadowsBundled: fromStack && existsSync(join(tried[1], 'template.yml')) };
}

/**
 * A start-up line for a template taken from the stack's own template/ folder: a copy pulled there
 * once (faas-cli template pull) silently wins over the bundled one and can be stale.
 */
export function templateNote(t: Template): string | undefined {
  if (!t.fromStack) return undefined;
  return `template ${t.lang}: ${t.dir}, from the template/ folder beside the stack file${t.shadowsBundled ? ' (as faas-cli does), not the bundled one' : ''}`;
}

/** `ENV k="v"`, `ENV k=v k2=v2` and `ENV k v`; values that expand build arguments are skipped. */
export function dockerfileEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  for (const line of lines) {
    const m = /^\s*ENV\s+(.*)$/i.exec(line);
    if (!m) continue;
    const body = m[1].trim();
    if (!body.includes('=')) {
      const sp = /^(\S+)\s+(.*)$/.exec(body);
      if (sp && !sp[2].includes('$')) env[sp[1]] = unquote(sp[2].trim());
      continue;
    }
    for (const pair of body.match(/[A-Za-z_][A-Za-z0-9_]*=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g) ?? []) {
      const eq = pair.indexOf('=');
      const value = pair.slice(eq + 1);
      if (!value.includes('$')) env[pair.slice(0, eq)] = unquote(value);
    }
  }
  return env;
}

function unquote(v: string): string {
  if (v.length >= 2 && ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'")))) {
    return v.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return v;
}
