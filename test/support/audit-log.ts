// Helpers for audit tests: the recorded sample (test/fixtures/audit), record builders in the sample's shapes,
// and the audit daemon's availability (CI must have it; elsewhere a test may skip with a reason).
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const SAMPLE = join(__dirname, '..', 'fixtures', 'audit', 'planted-file-scenario.log');
export const FWATCHDOG_JS = join(__dirname, '..', '..', 'dist', 'fwatchdog.js');
export const ALASTOR_JS = join(__dirname, '..', '..', 'dist', 'alastor.js');

const hex = (s: string | Buffer) => Buffer.from(s).toString('hex').toUpperCase();

/** One event in the sample's record shapes: SYSCALL, optional EXECVE/CWD/PATH/SOCKADDR, PROCTITLE, EOE. */
export function eventLines(o: {
  serial: number;
  sec?: number;
  ms?: number;
  syscall: number;
  pid: number;
  ppid: number;
  exit?: number;
  success?: boolean;
  comm?: string;
  exe?: string;
  argv?: string[];
  cwd?: string;
  paths?: Array<{ name: string; nametype: string; inode?: number }>;
  saddr?: string;
  eoe?: boolean;
  enriched?: boolean;
}): string[] {
  const h = `msg=audit(${o.sec ?? 1795579401}.${String(o.ms ?? 822).padStart(3, '0')}:${o.serial}):`;
  const q = (s: string) => (/^[\x21-\x7e]*$/.test(s) && !s.includes('"') ? `"${s}"` : hex(s));
  const items = o.paths?.length ?? 0;
  const lines = [
    `type=SYSCALL ${h} arch=c000003e syscall=${o.syscall} success=${o.success === false ? 'no' : 'yes'} exit=${o.exit ?? 0} a0=3 a1=7ffe a2=80000 a3=0 items=${items} ppid=${o.ppid} pid=${o.pid} auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm=${q(o.comm ?? 'node')} exe=${q(o.exe ?? '/usr/bin/node')} key="alastor_test"` +
      (o.enriched ? '\x1dARCH=x86_64 SYSCALL=whatever AUID="unset" UID="root"' : ''),
  ];
  if (o.argv) lines.push(`type=EXECVE ${h} argc=${o.argv.length} ${o.argv.map((a, i) => `a${i}=${q(a)}`).join(' ')}`);
  if (o.cwd) lines.push(`type=CWD ${h} cwd=${q(o.cwd)}`);
  (o.paths ?? []).forEach((p, i) =>
    lines.push(`type=PATH ${h} item=${i} name=${q(p.name)} inode=${p.inode ?? 1000 + i} dev=fe:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=${p.nametype} cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`),
  );
  if (o.saddr) lines.push(`type=SOCKADDR ${h} saddr=${o.saddr}`);
  lines.push(`type=PROCTITLE ${h} proctitle=${hex((o.argv ?? [o.comm ?? 'node']).join('\0'))}`);
  if (o.eoe !== false) lines.push(`type=EOE ${h} `);
  return lines;
}

export function hasAuditctl(): boolean {
  return spawnSync('auditctl', ['-v'], { stdio: 'ignore' }).status === 0 || spawnSync('sh', ['-c', 'command -v auditctl'], { stdio: 'ignore' }).status === 0;
}

/**
 * Makes sure auditd runs. Returns a reason to skip outside CI when auditctl is absent; in CI (or
 * when auditctl exists but auditd cannot be started) it throws: those tests must not skip there.
 */
export function ensureAuditd(): string | undefined {
  if (!hasAuditctl()) {
    const why = 'auditctl is not installed (apt-get install auditd)';
    if (process.env.CI === 'true') throw new Error(`CI=true and ${why}: the audit tests must run in CI`);
    return why;
  }
  const status = () => execFileSync('auditctl', ['-s'], { encoding: 'utf8' });
  let s = status();
  if (/^pid 0$/m.test(s)) {
    execFileSync('auditd', [], { stdio: 'inherit' });
    for (let i = 0; i < 50 && /^pid 0$/m.test((s = status())); i++) execFileSync('sleep', ['0.1']);
    if (/^pid 0$/m.test(s)) throw new Error(`auditd could not be started:\n${s}`);
  }
  if (/^enabled 0$/m.test(s)) execFileSync('auditctl', ['-e', '1']);
  return undefined;
}

/** Rules currently loaded whose key starts with `prefix`. */
export function rulesWithKeyPrefix(prefix: string): string[] {
  return execFileSync('auditctl', ['-l'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => {
      const m = / -F key=(\S+)$/.exec(l);
      return m !== null && m[1].startsWith(prefix);
    });
}
