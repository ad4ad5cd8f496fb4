// Low-level writes of nodes and edges, with the prepared statements stitching reuses per event.
import type { DB } from '../store/open';
import type { Evidence, NodeKind, Relation, Trust } from './model';

export interface NodeSpec {
  id: string;
  kind: NodeKind;
  label: string;
  time?: number;
  instance?: string;
  invocation?: string;
  attrs?: Record<string, unknown>;
}

export interface EdgeSpec {
  src: number;
  dst: number;
  relation: Relation;
  time: number;
  evidence: Evidence;
  trust?: Trust;
  attrs?: Record<string, unknown>;
  key?: string;
}

export class GraphWriter {
  private readonly findNode;
  private readonly insertNode;
  private readonly readAttrs;
  private readonly writeAttrs;
  private readonly writeLabel;
  private readonly insertEdge;
  private readonly deleteKeyed;
  /** Seq of the event being applied, stored on each edge for audits of the derivation. */
  eventSeq = 0;

  constructor(readonly db: DB) {
    this.findNode = db.prepare<[string], { nid: number }>(`SELECT nid FROM graph_nodes WHERE id = ?`);
    this.insertNode = db.prepare(`INSERT INTO graph_nodes (id, kind, label, time, instance, invocation, attrs)
                                  VALUES (@id, @kind, @label, @time, @instance, @invocation, @attrs)`);
    this.readAttrs = db.prepare<[number], { attrs: string }>(`SELECT attrs FROM graph_nodes WHERE nid = ?`);
    this.writeAttrs = db.prepare(`UPDATE graph_nodes SET attrs = ? WHERE nid = ?`);
    this.writeLabel = db.prepare(`UPDATE graph_nodes SET label = ? WHERE nid = ?`);
    this.insertEdge = db.prepare(`INSERT INTO graph_edges (src, dst, relation, time, evidence, trust, attrs, key, event_seq)
                                  VALUES (@src, @dst, @relation, @time, @evidence, @trust, @attrs, @key, @seq)`);
    this.deleteKeyed = db.prepare(`DELETE FROM graph_edges WHERE key = ? AND key IS NOT NULL`);
  }

  lookup(id: string): number | undefined {
    return this.findNode.get(id)?.nid;
  }

  /** Returns the node's key, creating it if new; an existing node keeps what it has (see mergeAttrs). */
  node(spec: NodeSpec): number {
    const have = this.findNode.get(spec.id);
    if (have) return have.nid;
    const r = this.insertNode.run({
      id: spec.id, kind: spec.kind, label: spec.label, time: spec.time ?? null,
      instance: spec.instance ?? null, invocation: spec.invocation ?? null,
      attrs: JSON.stringify(dropUndefined(spec.attrs ?? {})),
    });
    return Number(r.lastInsertRowid);
  }

  mergeAttrs(nid: number, patch: Record<string, unknown>): void {
    const row = this.readAttrs.get(nid);
    if (!row) return;
    const merged = { ...JSON.parse(row.attrs), ...dropUndefined(patch) };
    const text = JSON.stringify(merged);
    if (text !== row.attrs) this.writeAttrs.run(text, nid);
  }

  relabel(nid: number, label: string): void {
    this.writeLabel.run(label, nid);
  }

  edge(e: EdgeSpec): void {
    if (e.key) this.deleteKeyed.run(e.key);
    this.insertEdge.run({
      src: e.src, dst: e.dst, relation: e.relation, time: e.time, evidence: e.evidence,
      trust: e.trust ?? null, attrs: e.attrs ? JSON.stringify(dropUndefined(e.attrs)) : null,
      key: e.key ?? null, seq: this.eventSeq,
    });
  }

  dropKeyed(key: string): void {
    this.deleteKeyed.run(key);
  }
}

function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}
