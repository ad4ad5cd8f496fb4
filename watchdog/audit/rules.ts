// The audit rules the tailer installs, under its own key, and their removal. Linux audit is one
// per kernel and shared with other users, so this module only ever deletes rules carrying a key it
// made (never `auditctl -D`). A key names its owner's pid (alastor_<pid>_<nonce>): after a crash,
// the next start deletes rules whose owner is gone and leaves a live owner's rules alone.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const KEY_PREFIX = 'alastor_';
const OWNED_KEY = /^alastor_(\d+)_[0-9a-f]+$/;

export const AUDITCTL = process.env.ALASTOR_AUDITCTL || 'auditctl';

/** A fresh key owned by `ownerPid` (the process that will remove the rules). */
export function makeKey(ownerPid = process.pid): string {
  return `${KEY_PREFIX}${ownerPid}_${randomBytes(4).toString('hex')}`;
}

export interface RuleOptions {
  key: string;
  /** Syscalls of this pid (the tailer itself) are not audited at all: no feedback loop. */
  excludePid?: number;
  /**
   * Directories whose read-only opens are recorded too (default /tmp, /dev/shm, /var/tmp: the
   * writable places a planted file lives). Empty: no reads at all.
   */
  readDirs?: string[];
}

export const DEFAULT_READ_DIRS = ['/tmp', '/dev/shm', '/var/tmp'];

// open/openat flags that mean a write: O_WRONLY|O_RDWR|O_CREAT|O_TRUNC.
const WRITE_FLAGS = '0x243';

/** Each rule as the arguments that follow `auditctl -a` (or `-d` to delete it). */
export function ruleSpecs(o: RuleOptions): string[][] {
  const tail = [...(o.excludePid ? ['-F', `pid!=${o.excludePid}`] : []), '-F', `key=${o.key}`];
  const rule = (...body: string[]) => ['always,exit', '-F', 'arch=b64', ...body, ...tail];
  const rules = [
    // Processes: the tree (clone/fork/vfork), what runs (execve; failed ones are mostly PATH
    // lookups, 8 per spawn here, so only successes), when it ends (exit_group).
    rule('-S', 'execve,execveat', '-F', 'success=1'),
    rule('-S', 'clone,clone3,fork,vfork'),
    rule('-S', 'exit_group'),
    // Files written or created: only opens whose flags ask for writing, and only those that worked.
    rule('-S', 'open,creat', '-F', `a1&${WRITE_FLAGS}`, '-F', 'success=1'),
    rule('-S', 'openat', '-F', `a2&${WRITE_FLAGS}`, '-F', 'success=1'),
    rule('-S', 'rename,renameat,renameat2,unlink,unlinkat,link,linkat,symlink,symlinkat,truncate,ftruncate,chmod,fchmod,fchmodat'),
    // Network: who connects where, who accepts, who binds.
    rule('-S', 'connect,accept,accept4,bind'),
  ];
  for (const dir of o.readDirs ?? DEFAULT_READ_DIRS) {
    if (!/^\/[^\s]*$/.test(dir)) throw new Error(`audit read directory must be an absolute path without spaces: ${JSON.stringify(dir)}`);
    rules.push(rule('-S', 'open,openat', '-F', `dir=${dir}`, '-F', 'success=1'));
  }
  return rules;
}

/**
 * What a rule line can carry: `auditctl -R` and `auditctl -l` split on white space (quotes, '#',
 * backslash, '=' and UTF-8 go through both, checked with auditctl 3.0.9), and a path field is capped.
 */
export const SAFE_PATH = /^\/[^\s\x00-\x1f\x7f]{1,1023}$/;

/**
 * A read rule for one file written outside the read directories (watch.ts): its opens are recorded
 * like those under /tmp. `-F path=` follows the name, so it holds across a replace by rename.
 */
export function fileReadRuleSpec(o: { key: string; excludePid?: number; path: string }): string[] {
  if (!SAFE_PATH.test(o.path)) throw new Error(`audit watch path must be absolute, without spaces or control characters: ${JSON.stringify(o.path)}`);
  const tail = [...(o.excludePid ? ['-F', `pid!=${o.excludePid}`] : []), '-F', `key=${o.key}`];
  return ['always,exit', '-F', 'arch=b64', '-S', 'open,openat', '-F', `path=${o.path}`, '-F', 'success=1', ...tail];
}

export function auditctl(args: string[], timeoutMs = 10000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(AUDITCTL, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) {
        const why = (stderr || '').trim() || (err as Error).message;
        reject(new Error(`auditctl ${args.join(' ')}: ${why}`));
      } else resolve(stdout);
    });
  });
}

/**
 * Runs many rule changes with one auditctl (-R FILE): one process instead of one per rule, which
 * matters when the machine is busy and a shutdown has only seconds. The arguments hold no spaces
 * (ruleSpecs refuses such directories, and `auditctl -l` lines are split on spaces anyway).
 */
async function applyRuleFile(lines: string[][]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'alastor-rules-'));
  try {
    const file = join(dir, 'audit.rules');
    writeFileSync(file, lines.map((l) => l.join(' ')).join('\n') + '\n');
    await auditctl(['-R', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Installs every rule; if one fails, removes those already in (by their key) and throws. */
export async function installRules(specs: string[][]): Promise<void> {
  try {
    await applyRuleFile(specs.map((s) => ['-a', ...s]));
  } catch (err) {
    const key = specs[0]?.find((a) => a.startsWith('key='))?.slice(4);
    if (key) await removeRules(key).catch(() => undefined);
    throw err;
  }
}

/**
 * Adds rules to those already in, without taking anything back on failure (one auditctl for all;
 * if it fails, they are added one by one so one bad rule costs only itself). Returns how many failed.
 */
export async function addRules(specs: string[][]): Promise<number> {
  if (specs.length === 0) return 0;
  try {
    await applyRuleFile(specs.map((s) => ['-a', ...s]));
    return 0;
  } catch {
    // -R stops at the first failure, after adding those before it: add the rest one by one,
    // skipping what is in already (auditctl -a of a duplicate fails with EEXIST).
    let failed = 0;
    for (const s of specs) {
      await auditctl(['-a', ...s]).catch((err: Error) => {
        if (!/exists/i.test(err.message)) failed++;
      });
    }
    return failed;
  }
}

/** The rules currently loaded whose key passes `filter`, as argument lists for `-d`. */
export async function listRules(filter: (key: string) => boolean): Promise<string[][]> {
  const out = await auditctl(['-l']);
  const rules: string[][] = [];
  for (const line of out.split('\n')) {
    const m = / -F key=(\S+)$/.exec(line);
    if (!m || !filter(m[1]) || !line.startsWith('-a ')) continue;
    rules.push(line.slice(3).split(' '));
  }
  return rules;
}

async function deleteRules(rules: string[][]): Promise<void> {
  if (rules.length === 0) return;
  try {
    await applyRuleFile(rules.map((r) => ['-d', ...r]));
  } catch {
    // One of them went away meanwhile (-R stops at the first failure): one by one.
    for (const r of rules) await auditctl(['-d', ...r]).catch(() => undefined);
  }
}

/** Deletes every loaded rule carrying `key`; returns how many. */
export async function removeRules(key: string): Promise<number> {
  const rules = await listRules((k) => k === key);
  await deleteRules(rules);
  return rules.length;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Crash recovery: deletes rules under keys made by processes that no longer exist. */
export async function removeStaleRules(): Promise<string[]> {
  const rules = await listRules((k) => {
    const m = OWNED_KEY.exec(k);
    return m !== null && !alive(Number(m[1]));
  });
  await deleteRules(rules);
  return [...new Set(rules.map((r) => r[r.length - 1].slice(4)))];
}

export interface AuditStatus {
  enabled: number;
  pid: number;
  lost: number;
  backlogLimit: number;
}

export async function auditStatus(): Promise<AuditStatus> {
  const out = await auditctl(['-s']);
  const get = (k: string) => {
    const m = new RegExp(`^${k} (\\d+)`, 'm').exec(out);
    return m ? Number(m[1]) : 0;
  };
  return { enabled: get('enabled'), pid: get('pid'), lost: get('lost'), backlogLimit: get('backlog_limit') };
}

/** The log auditd writes, from auditd.conf (log_file), else the usual place. */
export function auditLogPath(conf = '/etc/audit/auditd.conf'): string {
  try {
    const m = /^\s*log_file\s*=\s*(\S+)/m.exec(readFileSync(conf, 'utf8'));
    if (m) return m[1];
  } catch {
    /* no config: the default */
  }
  return '/var/log/audit/audit.log';
}
