// Reads a faas-cli stack file (stack.yml): environment substitution over the text first, as
// faas-cli does, then YAML, then the fields the local stack needs, each checked with a clear error.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { envsubst } from './envsubst';

export interface StackFunction {
  name: string;
  lang: string;
  /** Absolute path of the handler folder. */
  handler: string;
  image?: string;
  environment: Record<string, string>;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface Stack {
  file: string;
  dir: string;
  provider: { name: string; gateway?: string };
  functions: StackFunction[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringMap(v: unknown, where: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new Error(`${where}: expected a map of names to values`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (isObj(val) || Array.isArray(val)) throw new Error(`${where}.${k}: expected a scalar value`);
    out[k] = val === null || val === undefined ? '' : String(val);
  }
  return out;
}

function parseYamlText(text: string, source: string): unknown {
  try {
    return parseYaml(text);
  } catch (e) {
    throw new Error(`${source}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
}

export function parseStackText(text: string, file: string, env: Record<string, string | undefined> = process.env): Stack {
  const abs = resolve(file);
  const dir = dirname(abs);
  const doc = parseYamlText(envsubst(text, env, file), file);
  if (!isObj(doc)) throw new Error(`${file}: expected a YAML map with "provider" and "functions"`);
  const provider = doc.provider;
  if (provider !== undefined && !isObj(provider)) throw new Error(`${file}: provider: expected a map`);
  const fns = doc.functions;
  if (!isObj(fns) || Object.keys(fns).length === 0) throw new Error(`${file}: functions: expected a map with at least one function`);

  const functions: StackFunction[] = [];
  for (const [name, raw] of Object.entries(fns)) {
    const where = `${file}: functions.${name}`;
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) throw new Error(`${where}: a function name must be lower-case letters, digits and "-"`);
    if (!isObj(raw)) throw new Error(`${where}: expected a map`);
    if (typeof raw.lang !== 'string' || !raw.lang) throw new Error(`${where}: missing "lang" (the template name)`);
    if (typeof raw.handler !== 'string' || !raw.handler) throw new Error(`${where}: missing "handler" (the handler folder)`);
    const environment: Record<string, string> = {};
    // faas-cli: environment_file entries are YAML files with an `environment:` map, applied first.
    const files = raw.environment_file;
    if (files !== undefined) {
      if (!Array.isArray(files)) throw new Error(`${where}.environment_file: expected a list of files`);
      for (const f of files) {
        const path = resolve(dir, String(f));
        let body: string;
        try {
          body = readFileSync(path, 'utf8');
        } catch {
          throw new Error(`${where}.environment_file: cannot read ${path}`);
        }
        const envDoc = parseYamlText(envsubst(body, env, path), path);
        if (!isObj(envDoc)) throw new Error(`${path}: expected a map with "environment"`);
        Object.assign(environment, stringMap(envDoc.environment, `${path}: environment`));
      }
    }
    Object.assign(environment, stringMap(raw.environment, `${where}.environment`));
    functions.push({
      name,
      lang: raw.lang,
      handler: resolve(dir, raw.handler),
      image: typeof raw.image === 'string' ? raw.image : undefined,
      environment,
      labels: stringMap(raw.labels, `${where}.labels`),
      annotations: stringMap(raw.annotations, `${where}.annotations`),
    });
  }
  return {
    file: abs,
    dir,
    provider: {
      name: isObj(provider) && typeof provider.name === 'string' ? provider.name : 'openfaas',
      gateway: isObj(provider) && typeof provider.gateway === 'string' ? provider.gateway : undefined,
    },
    functions,
  };
}

export function parseStackFile(file: string, env: Record<string, string | undefined> = process.env): Stack {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`${file}: cannot read the stack file`);
  }
  return parseStackText(text, file, env);
}
