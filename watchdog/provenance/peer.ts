// Who connected to the egress proxy. A proxied call is attributed by the process that made it,
// never by "whatever invocation is in flight", so the proxy looks the connection up in the kernel's
// socket table (/proc/net/tcp: the client's port -> socket inode), finds which process of the
// function's tree holds that socket (/proc/PID/fd), and walks its parents up to the watchdog.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface Peer {
  pid: number;
  /** The connecting process first, then its parents, up to (not including) the watchdog. */
  lineage: number[];
  /** When each process of the lineage started, in us since the epoch (from /proc stat). */
  startedUs: number[];
}

const CLK_TCK = 100;

/** The inode of the client end of a loopback TCP connection from clientPort to serverPort. */
export function socketInode(clientPort: number, serverPort: number, procNet = '/proc/net'): number | undefined {
  const local = `:${clientPort.toString(16).toUpperCase().padStart(4, '0')}`;
  const remote = `:${serverPort.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`${procNet}/${table}`, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !f[1].endsWith(local) || !f[2].endsWith(remote)) continue;
      const inode = Number(f[9]);
      if (inode > 0) return inode;
    }
  }
  return undefined;
}

interface Stat {
  ppid: number;
  startTicks: number;
}

function stat(pid: number): Stat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // pid (comm) state ppid ...: comm may hold spaces and parens, so split after the last ')'.
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(rest[1]), startTicks: Number(rest[19]) };
  } catch {
    return undefined;
  }
}

/** Now minus uptime: the boot moment, to the resolution of /proc/uptime (10 ms). */
function bootUs(): number {
  const up = Number(readFileSync('/proc/uptime', 'latin1').split(' ')[0]);
  return Date.now() * 1000 - Math.round(up * 1e6);
}

function holds(pid: number, link: string): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === link) return true;
    } catch {
      /* closed meanwhile */
    }
  }
  return false;
}

/**
 * The process of `rootPid`'s tree (the watchdog's descendants, `exclude` and its descendants left
 * out) that holds the client end of the connection, with its lineage; undefined when no process
 * of the tree holds it (a connection from elsewhere on the host) or it is already gone.
 * `first` is tried before the others (the http upstream, which makes most calls).
 */
export function findPeer(clientPort: number, serverPort: number, rootPid: number, first?: number, exclude?: number): Peer | undefined {
  const inode = socketInode(clientPort, serverPort);
  if (inode === undefined) return undefined;
  const link = `socket:[${inode}]`;
  // Most calls come from the upstream itself: one fd table to read, no process walk.
  if (first !== undefined && holds(first, link)) return { pid: first, lineage: [first], startedUs: [] };
  const stats = new Map<number, Stat>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!(pid > 0)) continue;
    const s = stat(pid);
    if (s) stats.set(pid, s);
  }
  const inTree = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 0 && hops < 1024; hops++) {
      if (p === exclude) return false;
      if (p === rootPid) return pid !== rootPid;
      p = stats.get(p)?.ppid ?? 0;
    }
    return false;
  };
  const owner = [...stats.keys()].find((pid) => pid !== first && inTree(pid) && holds(pid, link));
  if (owner === undefined) return undefined;
  const boot = bootUs();
  const lineage: number[] = [];
  const startedUs: number[] = [];
  for (let p = owner; p > 0 && p !== rootPid; p = stats.get(p)?.ppid ?? 0) {
    lineage.push(p);
    startedUs.push(boot + Math.round(((stats.get(p)?.startTicks ?? 0) * 1e6) / CLK_TCK));
  }
  return { pid: owner, lineage, startedUs };
}
