// Stitching state shared by the per-kind handlers: the writer plus lookups of the live processes,
// current file versions and invocations of each instance, all kept in SQLite so that an update
// picks up where the last one stopped.
import type { DB } from '../store/open';
import { nodeId } from './model';
import { GraphWriter } from './writer';

interface ProcRow { nid: number; born_in: string | null; execed: number }
interface FileRow { inode: number | null; version: number; nid: number }

export class Context {
  readonly w: GraphWriter;
  private readonly q;

  constructor(readonly db: DB) {
    this.w = new GraphWriter(db);
    this.q = {
      proc: db.prepare<[string, number], ProcRow>(`SELECT nid, born_in, execed FROM graph_procs WHERE instance = ? AND pid = ?`),
      setProc: db.prepare(`INSERT INTO graph_procs (instance, pid, nid, born_in, execed) VALUES (?, ?, ?, ?, ?)
                           ON CONFLICT(instance, pid) DO UPDATE SET nid = excluded.nid, born_in = excluded.born_in, execed = excluded.execed`),
      file: db.prepare<[string, string], FileRow>(`SELECT inode, version, nid FROM graph_files WHERE instance = ? AND path = ?`),
      setFile: db.prepare(`INSERT INTO graph_files (instance, path, inode, version, nid) VALUES (?, ?, ?, ?, ?)
                           ON CONFLICT(instance, path) DO UPDATE SET inode = excluded.inode, version = excluded.version, nid = excluded.nid`),
      dropFile: db.prepare(`DELETE FROM graph_files WHERE instance = ? AND path = ?`),
      counter: db.prepare<[string, string, number], { version: number }>(
        `SELECT version FROM graph_file_counters WHERE instance = ? AND path = ? AND inode = ?`),
      setCounter: db.prepare(`INSERT INTO graph_file_counters (instance, path, inode, version) VALUES (?, ?, ?, ?)
                              ON CONFLICT(instance, path, inode) DO UPDATE SET version = excluded.version`),
    };
  }

  private readonly cache = new Map<string, ReturnType<DB['prepare']>>();
  /** A prepared statement, made once per update. */
  sql<P extends unknown[] = unknown[], R = unknown>(text: string): import('better-sqlite3').Statement<P, R> {
    let st = this.cache.get(text);
    if (!st) this.cache.set(text, (st = this.db.prepare(text)));
    return st as unknown as import('better-sqlite3').Statement<P, R>;
  }

  instanceNode(instance: string, fn: string, ts: number): number {
    const have = this.w.lookup(nodeId.instance(instance));
    if (have !== undefined) return have;
    const nid = this.w.node({ id: nodeId.instance(instance), kind: 'instance', label: `${fn} @ ${instance}`, time: ts, instance, attrs: { function: fn } });
    const f = this.w.node({ id: nodeId.fn(fn), kind: 'function', label: fn, time: ts, attrs: { name: fn } });
    this.w.edge({ src: nid, dst: f, relation: 'actedOnBehalfOf', time: ts, evidence: 'watchdog' });
    return nid;
  }

  /** The invocation's node, created bare if its start event has not been seen yet (out-of-order sources). */
  invocationNode(invocation: string, fn: string, instance: string, ts: number): number {
    const have = this.w.lookup(nodeId.invocation(invocation));
    if (have !== undefined) return have;
    return this.w.node({ id: nodeId.invocation(invocation), kind: 'invocation', label: `${fn} ${invocation.slice(-8)}`, time: ts, instance, invocation, attrs: { function: fn, instance } });
  }

  private readonly instanceAttrs = new Map<string, Record<string, unknown>>();
  /** An attribute of an instance's node (from its instance.start), read once per update. */
  instanceAttr(instance: string, name: string): string | undefined {
    let attrs = this.instanceAttrs.get(instance);
    if (!attrs) {
      const nid = this.w.lookup(nodeId.instance(instance));
      const row = nid === undefined ? undefined : this.sql<[number], { attrs: string }>(`SELECT attrs FROM graph_nodes WHERE nid = ?`).get(nid);
      if (!row) return undefined;
      attrs = JSON.parse(row.attrs) as Record<string, unknown>;
      // Only cache what instance.start has filled in; a bare node may learn it later.
      if (attrs.startedAt !== undefined) this.instanceAttrs.set(instance, attrs);
    }
    const v = attrs[name];
    return typeof v === 'string' ? v : undefined;
  }

  proc(instance: string, pid: number): ProcRow | undefined {
    return this.q.proc.get(instance, pid);
  }

  setProc(instance: string, pid: number, nid: number, bornIn: string | null, execed: boolean): void {
    this.q.setProc.run(instance, pid, nid, bornIn, execed ? 1 : 0);
  }

  /** The version of `path` an instance sees now; a file never written in the graph gets version 0. */
  currentFile(instance: string, path: string, inode: number | null, ts: number): number {
    const row = this.q.file.get(instance, path);
    if (row && (inode == null || row.inode == null || row.inode === inode)) return row.nid;
    const id = nodeId.file(instance, path, inode, 0);
    const nid = this.w.node({ id, kind: 'file', label: path, time: ts, instance, attrs: { path, inode: inode ?? undefined, version: 0, instance, preexisting: true } });
    this.q.setFile.run(instance, path, inode, 0, nid);
    return nid;
  }

  /** Only an already-known version (for links found in argv, where creating nodes would be noise). */
  knownFile(instance: string, path: string): number | undefined {
    return this.q.file.get(instance, path)?.nid;
  }

  /** A new version of `path`, derived from the one it replaces when that was the same file. */
  newFileVersion(instance: string, path: string, inode: number | null, ts: number): { nid: number; previous?: number } {
    const cur = this.q.file.get(instance, path);
    const ino = inode ?? cur?.inode ?? null;
    const key = ino ?? -1;
    const last = this.q.counter.get(instance, path, key)?.version ?? 0;
    const version = last + 1;
    this.q.setCounter.run(instance, path, key, version);
    const nid = this.w.node({
      id: nodeId.file(instance, path, ino, version), kind: 'file', label: `${path} v${version}`, time: ts, instance,
      attrs: { path, inode: ino ?? undefined, version, instance },
    });
    this.q.setFile.run(instance, path, ino, version, nid);
    const sameFile = cur && (cur.inode == null || ino == null || cur.inode === ino);
    return { nid, previous: sameFile ? cur!.nid : undefined };
  }

  dropFile(instance: string, path: string): number | undefined {
    const cur = this.q.file.get(instance, path);
    this.q.dropFile.run(instance, path);
    return cur?.nid;
  }
}
