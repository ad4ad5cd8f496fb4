// Events from the node-level audit agent (they carry `containerId`) know their instance but, for a
// function's long-lived process in http mode, not their invocation: only the watchdog inside the
// container knows its request windows. The collector holds both, so it places such an event in the
// window of its instance that contains it, the latest start winning, as the in-watchdog tailer does
// (watchdog/audit/attribute.ts). Outside every window the event stays with the instance.
import type { SyscallEvent } from '../../events/schema';
import type { Context } from './context';
import { TIME_SLACK_US } from './model';

export function withAgentWindow(c: Context, e: SyscallEvent): SyscallEvent {
  if (e.invocation || !e.containerId) return e;
  const row = c
    .sql<[string, number, number], { invocation: string }>(
      `SELECT s.invocation AS invocation FROM events s
        WHERE s.instance = ? AND s.kind = 'invocation.start' AND s.ts <= ?
          AND NOT EXISTS (SELECT 1 FROM events x WHERE x.invocation = s.invocation AND x.kind = 'invocation.end' AND x.ts < ?)
        ORDER BY s.ts DESC LIMIT 1`,
    )
    .get(e.instance, e.ts + TIME_SLACK_US, e.ts - TIME_SLACK_US);
  return row?.invocation ? { ...e, invocation: row.invocation } : e;
}
