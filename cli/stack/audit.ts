// Whether the local stack can run the audit layer (ALASTOR_AUDIT=on in every watchdog): that needs
// root, auditctl, and auditd writing the log the tailer follows. `auto` uses it when it can and says
// why not otherwise; `on` insists. auditd installed but not running is started (as .ci/run does).
import { spawnSync } from 'node:child_process';

export type AuditMode = 'on' | 'off' | 'auto';

export interface AuditDecision {
  on: boolean;
  reason: string;
}

export function parseAuditMode(v: string): AuditMode {
  if (v === 'on' || v === 'off' || v === 'auto') return v;
  throw new Error(`--audit: expected on, off or auto, got "${v}"`);
}

function auditStatus(): { enabled: number; pid: number } | undefined {
  const r = spawnSync('auditctl', ['-s'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  const num = (key: string) => Number(new RegExp(`^${key}\\s+(\\d+)`, 'm').exec(r.stdout)?.[1] ?? 0);
  return { enabled: num('enabled'), pid: num('pid') };
}

export function decideAudit(mode: AuditMode, log: (l: string) => void = () => {}): AuditDecision {
  if (mode === 'off') return { on: false, reason: 'audit off (--audit off)' };
  const refuse = (why: string): AuditDecision => {
    if (mode === 'on') throw new Error(`--audit on: ${why}`);
    return { on: false, reason: `audit layer off: ${why}; provenance comes from the watchdog and the application layer only` };
  };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return refuse('Linux audit needs root');
  let status = auditStatus();
  if (!status) return refuse('auditctl is not installed or cannot talk to the kernel (apt-get install auditd)');
  if (status.pid === 0) {
    const probe = spawnSync('auditd', [], { encoding: 'utf8' });
    if (probe.error) return refuse('auditd is not installed (apt-get install auditd)');
    log('audit: auditd was not running; started it');
    for (let i = 0; i < 50 && (status = auditStatus()) && status.pid === 0; i++) spawnSync('sleep', ['0.1']);
    if (!status || status.pid === 0) return refuse(`auditd did not start${probe.stderr ? `: ${probe.stderr.trim()}` : ''}`);
  }
  if (status.enabled === 0) {
    spawnSync('auditctl', ['-e', '1']);
    status = auditStatus();
    if (!status || status.enabled === 0) return refuse('the kernel audit system is disabled and could not be enabled');
  }
  return { on: true, reason: `audit layer on (auditd pid ${status.pid})` };
}
