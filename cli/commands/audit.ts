// `alastor audit`: the audit tailer's offline and node-level faces.
//   parse FILE [--json]          decode an audit log and print its syscall events
//   ingest FILE --collector URL  ship an offline log to a collector as a source
//   agent                        node-level mode: host-wide audit, events tagged with container ids
import type { Command } from 'commander';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { ENV } from '../../events/names';
import { uuidv7 } from '../../events/ids';
import { usToIso } from '../../events/time';
import { readToken } from '../../events/token';
import type { AlastorEvent } from '../../events/schema';
import { startAuditAgent } from '../../watchdog/audit/agent';
import { statsEvent, toSyscallEvent } from '../../watchdog/audit/emit';
import type { AuditEvent } from '../../watchdog/audit/event';
import { readAuditFile } from '../../watchdog/audit/file';
import type { ReaderStats } from '../../watchdog/audit/reader';
import { Shipper } from '../../watchdog/ship/shipper';
import { readRecord, stateDirFor } from '../stack/state';

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

function collectorUrl(url: string | undefined): string {
  const u = url ?? process.env[ENV.collectorUrl];
  if (!u) throw new Error(`--collector URL (or ${ENV.collectorUrl}) is required`);
  try {
    return new URL(u).toString();
  } catch {
    throw new Error(`--collector: not a URL: "${u}"`);
  }
}

const stderrLog = (line: string) => process.stderr.write(`${line}\n`);

/**
 * The batch key for shipping to `url`: --token, else ALASTOR_TOKEN / ALASTOR_TOKEN_FILE, else the
 * key of the `alastor up` stack whose collector `url` is (found through the record in its state
 * folder). Without the last, a newcomer shipping into their own stack was refused with 401 until
 * the timeout, because that stack's key was one they had never seen.
 */
export function shippingToken(o: { token?: string; stateDir?: string }, url: string): { token: string; from: string } {
  if (o.token !== undefined) return { token: o.token, from: '--token' };
  if (process.env[ENV.token] !== undefined) return { token: readToken(process.env), from: ENV.token };
  const named = process.env[ENV.tokenFile]?.trim();
  if (named) return { token: readToken(process.env), from: `${ENV.tokenFile} (${named})` };
  const stateDir = stateDirFor('stack.yml', o.stateDir);
  const rec = readRecord(stateDir);
  const sameCollector = (a: string) => {
    try {
      return new URL(a).origin === new URL(url).origin;
    } catch {
      return false;
    }
  };
  if (!rec?.keyFile || !rec.collectorUrl || !sameCollector(rec.collectorUrl)) {
    return { token: '', from: `nowhere (the empty key): no --token, ${ENV.token} or ${ENV.tokenFile}, and no running \`alastor up\` in ${stateDir} with this collector` };
  }
  try {
    return { token: readFileSync(rec.keyFile, 'utf8').replace(/\r?\n$/, ''), from: rec.keyFile };
  } catch (e) {
    throw new Error(`cannot read the stack's batch key ${rec.keyFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Pushes events to a shipper without outrunning it, then closes it; returns the batches left undelivered. */
async function shipAll(shipper: Shipper, events: AlastorEvent[], timeoutMs: number): Promise<number> {
  for (let i = 0; i < events.length; i += 1000) {
    for (const ev of events.slice(i, i + 1000)) shipper.push(ev);
    while (shipper.snapshot().memoryBytes > 4 * 1024 * 1024) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setImmediate(r));
  }
  await shipper.close(timeoutMs);
  return shipper.snapshot().queuedBatches;
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

  audit
    .command('ingest')
    .description('Ship an offline audit log to a collector as its own source (syscall events plus a source.stats event)')
    .argument('<file>', 'audit log')
    .option('--collector <url>', `collector base URL (default: ${ENV.collectorUrl})`)
    .option('--token <token>', `batch MAC key (default: ${ENV.token}, the file ${ENV.tokenFile} names, or the key of the \`alastor up\` stack running this collector)`)
    .option('--state-dir <dir>', 'state folder of the `alastor up` stack whose key to use (default ./.alastor)')
    .option('--instance <id>', 'instance the events belong to (default: audit-<file name>-<id>)')
    .option('--function <name>', 'function name to record', 'unknown')
    .option('--timeout <ms>', 'how long to wait for delivery', '60000')
    .action(async (file: string, o: { collector?: string; token?: string; stateDir?: string; instance?: string; function: string; timeout: string }) => {
      const url = collectorUrl(o.collector);
      const key = shippingToken(o, url);
      const instance = o.instance ?? `audit-${basename(file)}-${uuidv7().slice(-12)}`;
      const origin = { instance, function: o.function };
      const events: AlastorEvent[] = [];
      let stats: ReaderStats;
      try {
        stats = readAuditFile(file, { onEvent: (ev) => events.push(toSyscallEvent(ev, origin)) });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        throw new Error(e.code === 'ENOENT' ? `no such file: ${file}` : `cannot read ${file}: ${e.message}`);
      }
      const counters: Record<string, number> = {};
      for (const [k, v] of Object.entries(stats)) counters[`audit.${k}`] = v;
      events.push(statsEvent(origin, counters));
      const spoolDir = mkdtempSync(join(tmpdir(), 'alastor-ingest-'));
      const shipper = new Shipper({ collectorUrl: url, token: key.token, source: instance, spoolDir, log: stderrLog });
      const left = await shipAll(shipper, events, Number(o.timeout));
      // The shipper retries a 401 like an outage; only here can the likely cause be named.
      if (left > 0) throw new Error(`${left} batch(es) not delivered to ${url}; they are kept in ${spoolDir}. The key came from ${key.from}: if the collector answered HTTP 401, it runs with a different key`);
      rmSync(spoolDir, { recursive: true, force: true });
      process.stderr.write(`alastor audit ingest: ${statsLine(file, stats)}\n`);
      process.stdout.write(`shipped ${events.length - 1} syscall events from ${file} as instance ${instance}\n`);
    });

  audit
    .command('agent')
    .description('Node-level mode: follow the host audit log, map host pids to containers (/proc/PID/cgroup), ship syscall events')
    .option('--collector <url>', `collector base URL (default: ${ENV.collectorUrl}); without it, JSON lines on stdout`)
    .option('--token <token>', `batch MAC key (default: ${ENV.token}, the file ${ENV.tokenFile} names, or the key of the \`alastor up\` stack running this collector)`)
    .option('--state-dir <dir>', 'state folder of the `alastor up` stack whose key to use (default ./.alastor)')
    .option('--all', 'host processes too, not only containers')
    .option('--log <file>', 'audit log to follow (default: auditd.conf log_file)')
    .option('--read-dirs <list>', 'comma-separated directories whose read-only opens are audited (default /tmp,/dev/shm,/var/tmp)')
    .option('--spool-dir <dir>', 'where undelivered batches wait', join(tmpdir(), 'alastor-spool', 'audit-agent'))
    .action(async (o: { collector?: string; token?: string; stateDir?: string; all?: boolean; log?: string; readDirs?: string; spoolDir: string }) => {
      const url = o.collector ?? process.env[ENV.collectorUrl];
      const source = `audit-agent-${uuidv7().slice(-12)}`;
      const shipper = url
        ? new Shipper({ collectorUrl: collectorUrl(url), token: shippingToken(o, collectorUrl(url)).token, source, spoolDir: o.spoolDir, log: stderrLog })
        : undefined;
      const agent = await startAuditAgent({
        all: o.all === true,
        logPath: o.log,
        readDirs: o.readDirs !== undefined ? o.readDirs.split(',').map((d) => d.trim()).filter(Boolean) : undefined,
        log: stderrLog,
        emit(ev) {
          if (shipper) shipper.push(ev);
          else process.stdout.write(`${JSON.stringify(ev)}\n`);
        },
      });
      const origin = { instance: source, function: 'audit-agent' };
      const reportStats = () => {
        const counters: Record<string, number> = {};
        for (const [k, v] of Object.entries(agent.counters())) counters[`audit.${k}`] = v;
        shipper?.push(statsEvent(origin, counters));
      };
      const statsTimer = setInterval(reportStats, 30000);
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          stderrLog(`audit agent: ${sig}: removing rules ${agent.key} and stopping`);
          resolve();
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      clearInterval(statsTimer);
      await agent.stop();
      reportStats();
      await shipper?.close(5000);
    });
}
