// Builds event sequences in the events vocabulary and stores them in a real SQLite store (through
// the store's own appender, every event validated first), for graph tests that need exact control
// over order and time. Real-run tests use the collector and watchdogs instead.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SCHEMA_VERSION, uuidv7, validateEvent, sha256Hex } from '../../events';
import { openStore, type DB } from '../../collector/store/open';
import { appender } from '../../collector/store/append';

const hex = (n: number) => randomBytes(n).toString('hex');
const EMPTY = sha256Hex('');

export interface Inv { id: string; fn: string; instance: string; traceId: string; spanId: string; seq: number }

export class World {
  readonly dir = mkdtempSync(join(tmpdir(), 'alastor-graph-'));
  readonly file = join(this.dir, 'store.db');
  readonly db: DB = openStore(this.file);
  private readonly a = appender(this.db);
  private seqs = new Map<string, number>();
  /** Microseconds; every event advances it unless a time is given. */
  now = 1_700_000_000_000_000;

  close(): void {
    this.db.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Default step 20 ms: well above the walks' clock slack, so order in tests is unambiguous. */
  tick(us = 20000): number {
    this.now += us;
    return this.now;
  }

  emit(ev: Record<string, unknown>): Record<string, unknown> {
    const full: Record<string, unknown> = { v: SCHEMA_VERSION, id: uuidv7(), ts: this.tick(), ...ev };
    const ok = validateEvent(full);
    if (!ok.ok) throw new Error(`test event invalid: ${ok.error}`);
    const body = JSON.stringify(full);
    this.a.event({
      id: full.id as string, kind: full.kind as string, ts: full.ts as number, instance: full.instance as string, function: full.function as string,
      invocation: (full.invocation as string) ?? null, source: 'test', batchSeq: null, body,
    });
    return full;
  }

  instance(fn: string): string {
    const id = `${fn}-${hex(3)}`;
    this.emit({ kind: 'instance.start', instance: id, function: fn, pid: 100, hostname: id, mode: 'http' });
    return id;
  }

  start(fn: string, instance: string, parent?: { traceId: string; spanId: string }): Inv {
    const seq = (this.seqs.get(instance) ?? 0) + 1;
    this.seqs.set(instance, seq);
    const inv: Inv = { id: uuidv7(), fn, instance, traceId: parent?.traceId ?? hex(16), spanId: hex(8), seq };
    this.emit({
      kind: 'invocation.start', instance, function: fn, invocation: inv.id, seq, method: 'POST', path: '/',
      traceId: inv.traceId, spanId: inv.spanId, parentSpanId: parent?.spanId,
    });
    return inv;
  }

  end(inv: Inv, status = 200): void {
    this.emit({
      kind: 'invocation.end', instance: inv.instance, function: inv.fn, invocation: inv.id, seq: inv.seq, status,
      reqBytes: 0, resBytes: 0, reqSha256: EMPTY, resSha256: EMPTY, durationMs: 1,
    });
  }

  /** An outgoing call as one recorder saw it; returns the span the callee should name. */
  call(from: Inv, callee: string, source: 'proxy' | 'instrumentation' = 'proxy', spanId = hex(8), traceId = from.traceId): { traceId: string; spanId: string } {
    this.emit({
      kind: 'http.out', instance: from.instance, function: from.fn, invocation: from.id, method: 'POST', url: `http://gw/function/${callee}`,
      host: 'gw', port: 8080, callee, status: 200, traceId, spanId, evidence: source === 'proxy' ? 'confirmed' : 'claimed', source,
    });
    return { traceId, spanId };
  }

  fetch(from: Inv, host: string, port: number, path = '/'): void {
    this.emit({
      kind: 'http.out', instance: from.instance, function: from.fn, invocation: from.id, method: 'GET', url: `http://${host}:${port}${path}`,
      host, port, status: 200, traceId: from.traceId, spanId: hex(8), evidence: 'confirmed', source: 'proxy',
    });
  }

  syscall(instance: string, fn: string, invocation: string | undefined, fields: Record<string, unknown>): Record<string, unknown> {
    return this.emit({
      kind: 'syscall', instance, function: fn, invocation, serial: Math.floor(Math.random() * 1e9), success: true, exit: 0,
      comm: 'node', exe: '/usr/bin/node', ppid: 1, paths: [], outsideInvocation: invocation ? undefined : true, ...fields,
    });
  }
}

export interface AttackIds {
  pp1: Inv; pp2: Inv; gp1: Inv; ac1: Inv; pub1: Inv; gp2: Inv; ac2: Inv; pub2: Inv; ac3: Inv;
  exfil: string; download: string; planted: string; attacker: string; exfilAt: number; later: string;
}

/**
 * The Hello Retail attack as the producers report it: product-purchase calls get-price,
 * authorize-cc and publish through the proxy; request one makes authorize-cc download a script from
 * the attacker and write it to /tmp; a later, unrelated request two runs it on the same warm
 * instance, and the script, detached, sends data out. Then more happens later (a third request
 * rewrites the file), which a time-respecting backward trace must not follow.
 */
export function helloRetailAttack(w: World): AttackIds {
  const [P, G, A, U] = ['product-purchase', 'get-price', 'authorize-cc', 'publish'].map((f) => w.instance(f));
  const SERVER = 300; // authorize-cc's long-lived function process (http mode)
  const purchase = (malicious: 'one' | 'two' | 'none') => {
    const pp = w.start('product-purchase', P);
    // The callee starts before the caller's proxy reports the call (it reports on completion).
    const gpSpan = { traceId: pp.traceId, spanId: randomBytes(8).toString('hex') };
    const gp = w.start('get-price', G, gpSpan);
    w.end(gp);
    w.call(pp, 'get-price', 'proxy', gpSpan.spanId);
    const acSpan = w.call(pp, 'authorize-cc', 'proxy');
    const ac = w.start('authorize-cc', A, acSpan);
    if (malicious === 'one') {
      w.fetch(ac, '127.0.0.1', 7777, '/payload.js');
      w.syscall(A, 'authorize-cc', ac.id, { syscall: 'connect', pid: SERVER, exit: -115, success: false, sockaddr: { family: 'inet', address: '127.0.0.1', port: 7777 } });
      w.syscall(A, 'authorize-cc', ac.id, { syscall: 'openat', pid: SERVER, exit: 21, cwd: '/home/app', paths: [{ name: '/tmp', nametype: 'PARENT', inode: 2 }, { name: '/tmp/evil.js', nametype: 'CREATE', inode: 4711 }] });
    }
    if (malicious === 'two') {
      w.syscall(A, 'authorize-cc', ac.id, { syscall: 'clone', pid: SERVER, exit: 4242 });
      w.syscall(A, 'authorize-cc', ac.id, { syscall: 'execve', pid: 4242, ppid: SERVER, comm: 'sh', exe: '/bin/dash', argv: ['/bin/sh', '-c', 'node /tmp/evil.js &'], paths: [{ name: '/bin/sh', nametype: 'NORMAL', inode: 11 }] });
      w.syscall(A, 'authorize-cc', ac.id, { syscall: 'clone', pid: 4242, ppid: SERVER, comm: 'sh', exe: '/bin/dash', exit: 4243 });
      w.syscall(A, 'authorize-cc', ac.id, { syscall: 'execve', pid: 4243, ppid: 4242, comm: 'node', exe: '/usr/bin/node', argv: ['node', '/tmp/evil.js'], cwd: '/home/app', paths: [{ name: '/usr/bin/node', nametype: 'NORMAL', inode: 12 }] });
      // Read of the card table while still inside the window, and a runtime library read.
      w.syscall(A, 'authorize-cc', ac.id, { syscall: 'openat', pid: 4243, exit: 22, write: false, paths: [{ name: '/home/app/cards.db', nametype: 'NORMAL', inode: 99 }] });
    }
    for (let i = 0; i < 3; i++) w.emit({ kind: 'app.module', instance: A, function: 'authorize-cc', invocation: ac.id, path: '/home/app/node_modules/stripe/index.js', external: false });
    w.end(ac);
    const pubSpan = w.call(pp, 'publish', 'proxy');
    const pub = w.start('publish', U, pubSpan);
    w.end(pub);
    w.end(pp);
    return { pp, gp, ac, pub };
  };
  const r1 = purchase('one');
  const r2 = purchase('two');
  // The detached script connects out after request two ended: outside every invocation window.
  const exfil = w.syscall(A, 'authorize-cc', undefined, { syscall: 'connect', pid: 4243, ppid: 1, exit: 0, sockaddr: { family: 'inet', address: '127.0.0.1', port: 9999 } });
  const exfilAt = exfil.ts as number;
  // Later: a third request rewrites the planted file and the function process writes a log.
  const r3 = purchase('none');
  w.syscall(A, 'authorize-cc', r3.ac.id, { syscall: 'openat', pid: SERVER, exit: 23, paths: [{ name: '/tmp/evil.js', nametype: 'NORMAL', inode: 4711 }] });
  const later = w.syscall(A, 'authorize-cc', undefined, { syscall: 'connect', pid: 4243, ppid: 1, exit: 0, sockaddr: { family: 'inet', address: '127.0.0.1', port: 9999 } });
  const download = w.db.prepare<[], { id: string }>(`SELECT id FROM events WHERE kind = 'http.out' AND body LIKE '%payload.js%'`).get()!.id;
  return {
    pp1: r1.pp, gp1: r1.gp, ac1: r1.ac, pub1: r1.pub, pp2: r2.pp, gp2: r2.gp, ac2: r2.ac, pub2: r2.pub, ac3: r3.ac,
    exfil: exfil.id as string, download, planted: '/tmp/evil.js', attacker: '127.0.0.1:7777', exfilAt, later: later.id as string,
  };
}
