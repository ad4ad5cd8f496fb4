// The graph's vocabulary: W3C PROV node kinds and relations, and the shapes queries return.

export type NodeKind =
  | 'function' | 'instance'                 // agents
  | 'workflow' | 'invocation' | 'process'   // activities
  | 'request' | 'message' | 'file' | 'socket' | 'remote'; // entities

export type Relation =
  | 'used' | 'wasGeneratedBy' | 'wasInformedBy' | 'wasStartedBy' | 'wasDerivedFrom'
  | 'wasAssociatedWith' | 'actedOnBehalfOf' | 'wasInfluencedBy';

export type Evidence = 'syscall' | 'watchdog' | 'instrumentation';
/** Cross-function edges: the egress proxy saw it and knew which invocation made it (confirmed),
 * only the function said so (claimed), the proxy saw it but several invocations could have made it
 * (guess: every candidate is linked), or the evidence contradicts itself (flagged: not followed by
 * traces unless asked). */
export type Trust = 'confirmed' | 'claimed' | 'guess' | 'flagged';

/**
 * Time slack of a time-respecting walk, in microseconds: an edge up to this much after the bound is
 * still followed. Audit stamps are whole milliseconds from the kernel's clock, the watchdog stamps
 * microseconds from its own, and the proxy stamps a response when its own event loop sees the end
 * (measured: a function wrote a downloaded file 1.4 ms before the proxy's end stamp), so "before"
 * is only known to a few milliseconds.
 */
export const TIME_SLACK_US = 5000;

/** Relations that say who ran what, not what caused what: kept for context, never walked. */
export const STRUCTURAL: ReadonlySet<string> = new Set(['wasAssociatedWith', 'actedOnBehalfOf', 'wasInfluencedBy']);

export const AGENT_KINDS: ReadonlySet<string> = new Set(['function', 'instance']);
export const ACTIVITY_KINDS: ReadonlySet<string> = new Set(['workflow', 'invocation', 'process']);

export interface GraphNode {
  id: string;
  kind: NodeKind;
  label: string;
  time?: number;
  attributes: Record<string, unknown>;
}

export interface GraphEdge {
  from: string;
  to: string;
  relation: Relation;
  time: number;
  evidence: Evidence;
  trust?: Trust;
  attributes?: Record<string, unknown>;
}

export interface Graph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export const nodeId = {
  fn: (name: string) => `fn:${name}`,
  instance: (id: string) => `inst:${id}`,
  workflow: (traceId: string) => `wf:${traceId}`,
  invocation: (id: string) => `inv:${id}`,
  request: (invocation: string) => `req:${invocation}`,
  message: (key: string) => `msg:${key}`,
  remote: (endpoint: string) => `remote:${endpoint}`,
  socket: (eventId: string) => `sock:${eventId}`,
  process: (instance: string, pid: number, ts: number) => `proc:${instance}:${pid}:${ts}`,
  file: (instance: string, path: string, inode: number | null, version: number) =>
    `file:${instance}:${path}#${inode ?? '?'}@${version}`,
};

/** host:port with IPv6 addresses bracketed, the form people type. */
export function endpointName(host: string, port?: number | null): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return port == null ? h : `${h}:${port}`;
}
