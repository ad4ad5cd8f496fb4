// Entry of the audit tailer's child process (fwatchdog --alastor-audit-child). Until it lands, exits.
export async function runAuditChild(): Promise<void> {
  process.stderr.write('fwatchdog: the audit tailer is not built yet\n');
  process.exit(1);
}
