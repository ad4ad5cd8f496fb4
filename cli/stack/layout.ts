// Lays a function out from its template as `faas-cli build` does before the image build: the
// template copied to build/<name>/, the handler copied into build/<name>/function/, then the
// stack's configuration.copy paths into build/<name>/function/<path>. Then, instead
// of the image's package install steps, the packages are made available locally:
//  - node: the template's own packages (OpenTelemetry, undici) resolve from this repository's
//    node_modules through NODE_PATH, so nothing is fetched at run time; the handler's own
//    dependencies are installed with npm (only when it declares any, and only when they changed).
//  - python: the handler's requirements.txt is installed with pip into build/<name>/.python
//    (only when it lists any).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { StackFunction } from './parse';
import type { Template } from './template';

export interface LaidOut {
  dir: string;
  /** Environment the function's process needs to find its packages. */
  env: Record<string, string>;
  installed: string[];
}

export function layoutFunction(fn: StackFunction, template: Template, buildRoot: string, repoRoot: string, log: (l: string) => void): LaidOut {
  if (!existsSync(fn.handler)) throw new Error(`function "${fn.name}": handler folder ${fn.handler} does not exist`);
  const dir = join(buildRoot, fn.name);
  // Keep installed handler packages across runs; everything else is laid out afresh.
  const keep = join(buildRoot, `.${fn.name}.deps`);
  const fnModules = join(dir, 'function', 'node_modules');
  if (existsSync(fnModules)) {
    rmSync(keep, { recursive: true, force: true });
    cpSync(fnModules, keep, { recursive: true });
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(template.dir, dir, { recursive: true, filter: (src) => basename(src) !== 'node_modules' });
  cpSync(fn.handler, join(dir, 'function'), {
    recursive: true,
    filter: (src) => !['node_modules', 'build', 'template', '.alastor'].includes(basename(src)),
  });
  copyConfigured(fn, join(dir, 'function'));
  if (existsSync(keep)) {
    cpSync(keep, fnModules, { recursive: true });
    rmSync(keep, { recursive: true, force: true });
  }

  const env: Record<string, string> = {};
  const installed: string[] = [];
  if (template.runtime === 'node') {
    const missing = unresolvable(join(dir, 'package.json'), repoRoot);
    if (missing.length) {
      log(`${fn.name}: template packages not in this repository's node_modules (${missing.join(', ')}): npm install`);
      npmInstall(dir, fn.name);
      installed.push('template');
    }
    env.NODE_PATH = [join(dir, 'node_modules'), join(repoRoot, 'node_modules')].join(':');
    if (hasDependencies(join(dir, 'function', 'package.json'))) {
      const stamp = join(fnModules, '.alastor-stamp');
      const want = digest(readFileSync(join(dir, 'function', 'package.json')));
      if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== want) {
        log(`${fn.name}: installing the handler's packages (npm install --omit=dev)`);
        npmInstall(join(dir, 'function'), fn.name);
        writeFileSync(stamp, want);
        installed.push('function');
      }
    }
  } else if (template.runtime === 'python') {
    const req = join(dir, 'function', 'requirements.txt');
    if (existsSync(req) && readFileSync(req, 'utf8').split('\n').some((l) => l.trim() && !l.trim().startsWith('#'))) {
      const target = join(dir, '.python');
      log(`${fn.name}: installing the handler's requirements (pip install --target)`);
      const r = spawnSync('python3', ['-m', 'pip', 'install', '--quiet', '--target', target, '-r', req], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`function "${fn.name}": pip install failed: ${(r.stderr || r.stdout || '').trim().split('\n').pop()}`);
      env.PYTHONPATH = target;
      installed.push('function');
    }
    env.PYTHONUNBUFFERED = '1';
  }
  return { dir, env, installed };
}

/**
 * The stack's configuration.copy paths into a build's function/ folder. Call it after the handler
 * is copied, as faas-cli does: a copied path wins over a handler file of the same name.
 */
export function copyConfigured(fn: StackFunction, functionDir: string): void {
  for (const c of fn.copy) {
    if (!existsSync(c.from)) throw new Error(`function "${fn.name}": configuration.copy path ${c.from} does not exist`);
    cpSync(c.from, join(functionDir, c.to), { recursive: true });
  }
}

function hasDependencies(pkgFile: string): boolean {
  if (!existsSync(pkgFile)) return false;
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { dependencies?: Record<string, string> };
  return Object.keys(pkg.dependencies ?? {}).length > 0;
}

/** The template's dependencies that cannot be required from the repository root. */
function unresolvable(pkgFile: string, repoRoot: string): string[] {
  if (!existsSync(pkgFile)) return [];
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { dependencies?: Record<string, string> };
  return Object.keys(pkg.dependencies ?? {}).filter((name) => !existsSync(join(repoRoot, 'node_modules', name, 'package.json')));
}

function npmInstall(cwd: string, name: string): void {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['install', '--omit=dev', '--no-audit', '--no-fund', '--no-package-lock'], { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`function "${name}": cannot run npm install in ${cwd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`function "${name}": npm install in ${cwd} failed:\n${npmCause(r.stderr || r.stdout || '')}`);
}

/**
 * npm's error lines ("npm error code ETARGET", "npm error notarget No matching version ...";
 * "npm ERR!" before npm 10), which name the cause; its last line only points at its log file.
 */
function npmCause(output: string): string {
  const lines = output.split(/\r?\n/).filter((l) => /^npm (error|ERR!)( |$)/.test(l) && l.replace(/^npm (error|ERR!)/, '').trim());
  const shown = lines.length ? lines.slice(0, 30) : output.trim().split(/\r?\n/).slice(-5);
  return shown.map((l) => `    ${l}`).join('\n');
}

function digest(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
