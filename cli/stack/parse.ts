// Reads a faas-cli stack file (stack.yml): environment substitution over the text first, as
// faas-cli does, then YAML, then the fields the local stack needs, each checked with a clear error.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
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
  /** The stack's configuration.copy, which faas-cli applies to every function's build. */
  copy: CopyPath[];
}

/** A path from configuration.copy: `from` (absolute) lands at `to` inside the build's function/ folder. */
export interface CopyPath {
  from: string;
  to: string;
}

export interface Stack {
  file: string;
  dir: string;
  provider: { name: string; gateway?: string };
  functions: StackFunction[];
  copy: CopyPath[];
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
  const copy = copyPaths(doc.configuration, dir, file);
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
      copy,
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
    copy,
  };
}

/**
 * faas-cli's `configuration: copy:` (its copyExtraPaths): each path is copied into every
 * function's build at function/<path as written, cleaned>, after the handler, so a handler
 * requires ./common/lib for `copy: [./common]`. faas-cli refuses a path outside the project or
 * the project itself, and fails the build on one that does not exist; here all three stop the
 * start before anything runs, naming the entry. The project is the stack file's folder (faas-cli
 * takes its working directory, which is that folder when it is run as documented).
 */
function copyPaths(configuration: unknown, dir: string, file: string): CopyPath[] {
  if (configuration === undefined || configuration === null) return [];
  if (!isObj(configuration)) throw new Error(`${file}: configuration: expected a map`);
  const list = configuration.copy;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new Error(`${file}: configuration.copy: expected a list of paths relative to the stack file's folder`);
  return list.map((entry, i) => {
    const where = `${file}: configuration.copy[${i}]`;
    if (typeof entry !== 'string' || !entry.trim()) throw new Error(`${where}: expected a path relative to the stack file's folder`);
    const from = resolve(dir, entry);
    const rel = relative(dir, from);
    if (rel === '') throw new Error(`${where}: "${entry}" is the whole stack folder; name the folder or file to copy (e.g. ./common)`);
    if (rel === '..' || rel.startsWith('../') || isAbsolute(rel)) {
      throw new Error(`${where}: "${entry}" is outside the stack file's folder (${dir}); faas-cli copies only paths inside it`);
    }
    if (!existsSync(from)) throw new Error(`${where}: "${entry}" does not exist (looked for ${from})`);
    // faas-cli joins the path as written onto function/, so an absolute entry inside the project
    // lands under function/ with its whole absolute path, odd but what its images contain.
    const to = join(entry).replace(/^\/+/, '').replace(/\/+$/, '');
    if (to === '..' || to.startsWith('../')) throw new Error(`${where}: "${entry}" would be copied outside the function/ folder (to ${to}); write it without ".."`);
    return { from, to };
  });
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
