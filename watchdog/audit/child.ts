// The audit tailer's own process (fwatchdog --alastor-audit-child): it reads the log, decodes and
// attributes events, and sends them to the watchdog over IPC, so a slow parse or a burst of audit
// records never stalls a request. It owns its rules: on stop, on the parent's disappearance
// (IPC disconnect) and on SIGTERM it removes them before exiting.
import type { AlastorEvent } from '../../events/schema';
import { Attributor } from './attribute';
import { statsEvent, toSyscallEvent } from './emit';
import type { AuditEvent } from './event';
import { safeSend, type ChildConfig, type FromChild, type ToChild } from './ipc';
import { LiveAudit } from './live';
import { DEFAULT_READ_DIRS, fileReadRuleSpec } from './rules';
import { ProcessTree } from './tree';
import { WrittenFileWatches } from './watch';

const TICK_MS = 100;
/**
 * Events wait this long before attribution, so the messages about their time have arrived: the
 * window starts and ends, the forked pids, and the claims the function wrote about its acts.
 */
const HOLD_MS = 150;
const MAX_BATCH = 500;
const STATS_EVERY_MS = 10000;

let sendErrors = 0;
function send(m: FromChild): void {
  // The parent may be gone already (a watchdog whose function died at start-up exits within 2 s).
  safeSend(process, m, () => sendErrors++);
}

export async function runAuditChild(): Promise<void> {
  if (!process.send) {
    process.stderr.write('fwatchdog --alastor-audit-child: must be started by fwatchdog (no IPC channel)\n');
    process.exit(2);
  }
  const cfg = await new Promise<ChildConfig>((resolve) => {
    const first = (m: ToChild) => {
      if (m && m.t === 'config') {
        process.off('message', first);
        resolve(m);
      }
    };
    process.on('message', first);
  });
  const log = (line: string) => send({ t: 'log', line });
  const origin = { instance: cfg.instance, function: cfg.function };
  const tree = new ProcessTree(cfg.rootPid, { exclude: [process.pid], includeRoot: cfg.includeRoot });
  tree.seedFromProc();
  const attributor = new Attributor(tree);
  const readDirs = cfg.readDirs ?? DEFAULT_READ_DIRS;
  let held: AuditEvent[] = [];

  const watches = new WrittenFileWatches({
    readDirs,
    install: (paths) => live.addRules(paths.map((path) => fileReadRuleSpec({ key: cfg.key, excludePid: process.pid, path }))),
    log,
  });
  const live: LiveAudit = new LiveAudit({
    key: cfg.key,
    logPath: cfg.logPath,
    readDirs,
    keep: (ev) => tree.observe(ev),
    onEvent: (ev) => {
      held.push(ev);
      watches.note(ev);
    },
    log,
  });

  process.on('message', (m: ToChild) => {
    if (!m || typeof m !== 'object') return;
    if (m.t === 'start') attributor.windows.start(m);
    else if (m.t === 'pid') {
      const b = attributor.servedBy(m.invocation, m.pid);
      if (b) send({ t: 'births', births: [b] });
    }
    else if (m.t === 'end') attributor.windows.end(m);
    else if (m.t === 'claim') attributor.claims.add(m.claim);
    else if (m.t === 'stop') void shutdown('stop');
  });

  const flushHeld = (all: boolean) => {
    const cutoff = (Date.now() - HOLD_MS) * 1000;
    const ready: AuditEvent[] = [];
    const later: AuditEvent[] = [];
    for (const ev of held) {
      if (!all && ev.ts > cutoff) later.push(ev);
      // A clone3 whose child was gone when read: a process by now has records of its own.
      else if (ev.creates !== 'unsure' || tree.settle(ev)) ready.push(ev);
    }
    held = later;
    if (ready.length === 0) return;
    const { verdicts, births } = attributor.attributeAll(ready);
    if (births.length > 0) send({ t: 'births', births });
    const out: AlastorEvent[] = ready.map((ev, i) => toSyscallEvent(ev, origin, verdicts[i]));
    let newest = 0;
    for (const ev of ready) if (ev.ts > newest) newest = ev.ts;
    attributor.claims.prune(newest);
    for (let i = 0; i < out.length; i += MAX_BATCH) send({ t: 'events', events: out.slice(i, i + MAX_BATCH) });
  };

  let lastStats = '';
  const sendStats = async (force: boolean) => {
    const counters: Record<string, number> = {};
    const own = { ...live.counters(), ...attributor.claims.counters, ...attributor.counters, ...watches.counters, threadClones: tree.threadClones, lateThreadClones: tree.lateThreadClones, sendErrors };
    for (const [k, v] of Object.entries(own)) counters[`audit.${k}`] = v;
    counters['audit.kernelLost'] = await live.lostSinceStart();
    const sig = JSON.stringify(counters);
    if (!force && sig === lastStats) return;
    lastStats = sig;
    send({ t: 'events', events: [statsEvent(origin, counters)] });
  };

  let timer: NodeJS.Timeout | undefined;
  let statsTimer: NodeJS.Timeout | undefined;
  let stopping: Promise<void> | undefined;
  const shutdown = (why: string): Promise<void> => {
    stopping ??= (async () => {
      if (timer) clearInterval(timer);
      if (statsTimer) clearInterval(statsTimer);
      try {
        await live.stop();
      } catch (err) {
        log(`audit: stopping: ${(err as Error).message}`);
      }
      flushHeld(true);
      await sendStats(true);
      if (why !== 'disconnect') log(`audit: tailer stopped (${why})`);
      send({ t: 'stopped' });
      // Let the IPC channel drain before exiting.
      setTimeout(() => process.exit(0), 50).unref();
      if (process.connected) process.disconnect();
    })();
    return stopping;
  };
  process.on('disconnect', () => void shutdown('disconnect'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  try {
    await live.start();
  } catch (err) {
    send({ t: 'error', message: (err as Error).message });
    await live.stop().catch(() => undefined);
    setTimeout(() => process.exit(1), 50);
    return;
  }
  if (stopping) return; // told to stop while starting: shutdown() has removed the rules
  timer = setInterval(() => {
    try {
      live.tick();
      attributor.windows.prune(Date.now() * 1000);
      flushHeld(false);
    } catch (err) {
      // The reader never throws on input; this is a bug, but it must not end provenance.
      log(`audit: ${(err as Error).stack ?? err}`);
    }
  }, TICK_MS);
  statsTimer = setInterval(() => void sendStats(false), STATS_EVERY_MS);
  send({ t: 'ready', pid: process.pid, logPath: live.logPath });
}
