// `alastor audit`: the audit tailer's offline and node-level faces.
//   parse FILE [--json]          decode an audit log and print its syscall events
//   ingest FILE --collector URL  ship an offline log to a collector as a source
//   agent                        node-level mode: host-wide audit, events tagged with container ids
import type { Command } from 'commander';
import { usToIso } from '../../events/time';
import type { AuditEvent } from '../../watchdog/audit/event';
import { readAuditFile } from '../../watchdog/audit/file';
import type { ReaderStats } from '../../watchdog/audit/reader';

/** The JSON-lines shape of `audit parse --json`: one object per assembled syscall event. */
export function eventJson(ev: AuditEvent): Record<string, unknown> {
  const o: Record<string, unknown> = {
    serial: ev.serial,
    time: usToIso(ev.ts).replace('000Z', 'Z'),
    syscall: ev.syscall,
    success: ev.success,
    exit: ev.exit,
    pid: ev.pid,
    ppid: ev.ppid,
    uid: ev.uid,
    comm: ev.comm,
    exe: ev.exe,
    cwd: ev.cwd,
  };
  if (ev.argv) o.argv = ev.argv;
  o.paths = ev.paths;
  if (ev.sockaddr) o.sockaddr = ev.sockaddr;
  if (ev.proctitle !== undefined) o.proctitle = ev.proctitle;
  if (ev.key !== undefined) o.key = ev.key;
  if (ev.node !== undefined) o.node = ev.node;
  return o;
}

function detail(ev: AuditEvent): string {
  if (ev.argv) return ev.argv.map((a) => (/[\s"']/.test(a) || a === '' ? JSON.stringify(a) : a)).join(' ');
  if (ev.sockaddr) {
    const s = ev.sockaddr;
    if (s.path !== undefined) return `${s.family} ${s.path}`;
    return s.address !== undefined ? `${s.family} ${s.family === 'inet6' ? `[${s.address}]` : s.address}:${s.port}` : s.family;
  }
  if (ev.paths.length) return ev.paths.filter((p) => p.nametype !== 'PARENT').map((p) => `${p.name} (${p.nametype})`).join(' ');
  return '';
}

export function statsLine(file: string, s: ReaderStats): string {
  return (
    `${file}: ${s.lines} lines, ${s.records} records, ${s.syscallEvents} syscall events, ` +
    `${s.otherEvents} other events; skipped ${s.garbageLines} garbage lines, ${s.oversizeLines} oversize lines, ` +
    `${s.incompleteEvents} incomplete events`
  );
}

export function register(program: Command): void {
  const audit = program.command('audit').description('Linux audit: parse logs offline, ship them, run the node-level agent');

  audit
    .command('parse')
    .description('Decode an audit log (RAW or ENRICHED) and print its syscall events')
    .argument('<file>', 'audit log, e.g. /var/log/audit/audit.log')
    .option('--json', 'one JSON object per event (JSON lines)')
    .action((file: string, opts: { json?: boolean }) => {
      const out: string[] = [];
      const flush = () => {
        if (out.length) process.stdout.write(out.join(''));
        out.length = 0;
      };
      if (!opts.json) out.push(`${'TIME'.padEnd(23)} ${'SERIAL'.padStart(8)} ${'PID'.padStart(7)} ${'PPID'.padStart(7)} ${'COMM'.padEnd(15)} ${'SYSCALL'.padEnd(10)} ${'EXIT'.padStart(6)}  DETAIL\n`);
      let stats: ReaderStats;
      try {
        stats = readAuditFile(file, {
          onEvent(ev) {
            if (opts.json) out.push(JSON.stringify(eventJson(ev)) + '\n');
            else {
              const t = usToIso(ev.ts).slice(0, 23);
              out.push(
                `${t} ${String(ev.serial).padStart(8)} ${String(ev.pid).padStart(7)} ${String(ev.ppid).padStart(7)} ` +
                  `${ev.comm.slice(0, 15).padEnd(15)} ${ev.syscall.padEnd(10)} ${String(ev.exit).padStart(6)}${ev.success ? ' ' : '!'} ${detail(ev)}\n`,
              );
            }
            if (out.length >= 512) flush();
          },
        });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        throw new Error(e.code === 'ENOENT' ? `no such file: ${file}` : `cannot read ${file}: ${e.message}`);
      }
      flush();
      process.stderr.write(`alastor audit parse: ${statsLine(file, stats)}\n`);
    });
}
