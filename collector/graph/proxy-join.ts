// A call through a function's own egress proxy is seen twice: by the kernel, as the calling
// process's connect to the proxy, and by the proxy, as the request with the connecting pid. Joined,
// one message carries both: it is derived from the socket the kernel saw, and that socket is not
// an outside endpoint (the proxy is part of the watchdog). Either record may arrive first.
//
// A connection carries every call its process sends until it connects again (keep-alive), so a
// message joins the latest connect of its pid at or before it, and a connect joins the messages of
// its pid from its time until that pid's next connect.
import type { Context } from './context';
import { TIME_SLACK_US } from './model';

/** The ip:port of an instance's egress proxy (instance.start says it), or undefined. */
export function egressProxyOf(c: Context, instance: string): string | undefined {
  return c.instanceAttr(instance, 'egressProxy');
}

function join(c: Context, msg: number, sock: number, ts: number): void {
  c.w.edge({ src: msg, dst: sock, relation: 'wasDerivedFrom', time: ts, evidence: 'syscall', attrs: { role: 'connection' } });
  c.w.mergeAttrs(msg, { seenBy_syscall: true });
}

export function onProxySocket(c: Context, instance: string, pid: number, ts: number, sock: number): void {
  c.sql(`INSERT INTO graph_proxy_socks (instance, pid, ts, nid) VALUES (?, ?, ?, ?)`).run(instance, pid, ts, sock);
  const next = c.sql<[string, number, number], { ts: number }>(`SELECT min(ts) AS ts FROM graph_proxy_socks WHERE instance = ? AND pid = ? AND ts > ?`).get(instance, pid, ts)?.ts;
  const msgs = c.sql<[string, number, number, number], { nid: number; ts: number }>(
    `SELECT nid, ts FROM graph_proxy_msgs WHERE instance = ? AND pid = ? AND ts >= ? AND ts < ?`).all(instance, pid, ts - TIME_SLACK_US, next ?? Number.MAX_SAFE_INTEGER);
  for (const m of msgs) join(c, m.nid, sock, m.ts);
}

export function onProxyMessage(c: Context, instance: string, pid: number, ts: number, msg: number): void {
  c.sql(`INSERT INTO graph_proxy_msgs (instance, pid, ts, nid) VALUES (?, ?, ?, ?)`).run(instance, pid, ts, msg);
  const sock = c.sql<[string, number, number], { nid: number }>(
    `SELECT nid FROM graph_proxy_socks WHERE instance = ? AND pid = ? AND ts <= ? ORDER BY ts DESC LIMIT 1`).get(instance, pid, ts + TIME_SLACK_US);
  if (sock) join(c, msg, sock.nid, ts);
}
