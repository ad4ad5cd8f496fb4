// Applies one stored event to the graph: the dispatch from event kind to handler.
import type { AlastorEvent } from '../../events/schema';
import { onHttpOut, onInstanceStart, onInstanceStop, onInvocationEnd, onInvocationStart } from './calls';
import type { Context } from './context';
import { actorOf, onAppFile, onAppModule, onAppSpawn, onSyscall } from './system';
import { withAgentWindow } from './agent-window';

export function applyEvent(c: Context, seq: number, e: AlastorEvent): void {
  c.w.eventSeq = seq;
  switch (e.kind) {
    case 'instance.start': return onInstanceStart(c, e);
    case 'instance.stop': return onInstanceStop(c, e);
    case 'invocation.start': return onInvocationStart(c, e);
    case 'invocation.end': return onInvocationEnd(c, e);
    case 'http.out': return onHttpOut(c, e, seq, actorOf(c, e));
    case 'app.module': return onAppModule(c, e);
    case 'app.file': return onAppFile(c, e);
    case 'app.spawn': return onAppSpawn(c, e);
    case 'syscall': return onSyscall(c, withAgentWindow(c, e));
    default: return; // source.stats and kinds from newer producers carry no provenance
  }
}
