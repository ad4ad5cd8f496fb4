// A call through a function's own egress proxy is seen twice: by the kernel, as the calling
// process's connect to the proxy, and by the proxy, as the request with the connecting pid. Joined,
// each names the other, and the socket is not an outside endpoint (the proxy is part of the
// watchdog). Either record may arrive first.
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

/**
 * The two records name each other; no edge joins them. A keep-alive connection opened in one
 * request carries the calls of later ones, so "this call went over that socket" is no causal link:
 * as an edge it made every later call of the upstream depend on the request that first connected.
 */
function join(c: Context, msg: number, sock: number): void {
  const sockId = c.sql<[number], { id: string }>(`SELECT id FROM graph_nodes WHERE nid = ?`).get(sock)?.id;
  const msgId = c.sql<[number], { id: string }>(`SELECT id FROM graph_nodes WHERE nid = ?`).get(msg)?.id;
  c.w.mergeAttrs(msg, { seenBy_syscall: true, kernelConnect: sockId });
  c.w.mergeAttrs(sock, { proxiedCall: msgId });
}

export function onProxySocket(c: Context, instance: string, pid: number, ts: number, sock: number): void {
  c.sql(`INSERT INTO graph_proxy_socks (instance, pid, ts, nid) VALUES (?, ?, ?, ?)`).run(instance, pid, ts, sock);
  const next = c.sql<[string, number, number], { ts: number }>(`SELECT min(ts) AS ts FROM graph_proxy_socks WHERE instance = ? AND pid = ? AND ts > ?`).get(instance, pid, ts)?.ts;
  const msgs = c.sql<[string, number, number, number], { nid: number }>(
    `SELECT nid FROM graph_proxy_msgs WHERE instance = ? AND pid = ? AND ts >= ? AND ts < ?`).all(instance, pid, ts - TIME_SLACK_US, next ?? Number.MAX_SAFE_INTEGER);
  for (const m of msgs) join(c, m.nid, sock);
}

export function onProxyMessage(c: Context, instance: string, pid: number, ts: number, msg: number): void {
  c.sql(`INSERT INTO graph_proxy_msgs (instance, pid, ts, nid) VALUES (?, ?, ?, ?)`).run(instance, pid, ts, msg);
  const sock = c.sql<[string, number, number], { nid: number }>(
    `SELECT nid FROM graph_proxy_socks WHERE instance = ? AND pid = ? AND ts <= ? ORDER BY ts DESC LIMIT 1`).get(instance, pid, ts + TIME_SLACK_US);
  if (sock) join(c, msg, sock.nid);
}
