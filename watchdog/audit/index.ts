// Entry point of the audit tailer as the provenance layer uses it. Until it lands, audit is off.
import type { AlastorEvent } from '../../events';

export interface AuditTailerOptions {
  /** Events of this process's descendants are kept (the watchdog's own pid). */
  rootPid: number;
  instance: string;
  function: string;
  /** Each assembled, attributed syscall event; the caller ships it. */
  emit(ev: AlastorEvent): void;
  log(line: string): void;
}

export interface AuditTailer {
  invocationStart(w: { invocation: string; tsUs: number; pid?: number }): void;
  invocationEnd(w: { invocation: string; tsUs: number }): void;
  stop(): Promise<void>;
}

export async function startAuditTailer(_opts: AuditTailerOptions): Promise<AuditTailer> {
  throw new Error('ALASTOR_AUDIT=on: the audit tailer is not built yet');
}
