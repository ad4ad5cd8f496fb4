// Decoders for the values audit writes as hex: SOCKADDR's saddr, EXECVE's arguments (whole or
// split into a0[0], a0[1], ... chunks when long), and PROCTITLE.
import { Cursor, hexBytes, intValue, nextField, stringValue, type AuditRecord } from './parse';

export interface SockAddr {
  family: string;
  address?: string;
  port?: number;
  path?: string;
}

const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const AF_NETLINK = 16;

/** Decodes a struct sockaddr from its hex dump (saddr=...). Family is in host order (LE here). */
export function decodeSockaddr(hex: string): SockAddr | undefined {
  const b = hexBytes(hex, 0, hex.length);
  if (!b || b.length < 2) return undefined;
  const fam = b[0] | (b[1] << 8);
  if (fam === AF_INET) {
    if (b.length < 8) return { family: 'inet' };
    return { family: 'inet', address: `${b[4]}.${b[5]}.${b[6]}.${b[7]}`, port: (b[2] << 8) | b[3] };
  }
  if (fam === AF_INET6) {
    if (b.length < 24) return { family: 'inet6' };
    return { family: 'inet6', address: ipv6(b, 8), port: (b[2] << 8) | b[3] };
  }
  if (fam === AF_UNIX) {
    if (b.length <= 2) return { family: 'unix', path: '' };
    // Abstract sockets start with a NUL; show them the way ss does, with a leading '@'.
    if (b[2] === 0) {
      let end = b.length;
      while (end > 3 && b[end - 1] === 0) end--;
      return { family: 'unix', path: '@' + b.toString('utf8', 3, end) };
    }
    let end = b.indexOf(0, 2);
    if (end < 0) end = b.length;
    return { family: 'unix', path: b.toString('utf8', 2, end) };
  }
  if (fam === AF_NETLINK) return { family: 'netlink' };
  if (fam === 0) return { family: 'unspec' };
  return { family: `af${fam}` };
}

/** RFC 5952 text of the 16 bytes at b[off]: lower case, longest zero run compressed. */
function ipv6(b: Buffer, off: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[off + 2 * i] << 8) | b[off + 2 * i + 1]);
  // IPv4-mapped ::ffff:a.b.c.d
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${b[off + 12]}.${b[off + 13]}.${b[off + 14]}.${b[off + 15]}`;
  }
  let bestS = -1;
  let bestL = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestL && j - i >= 2) {
      bestS = i;
      bestL = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (bestS < 0) return hex(g);
  return `${hex(g.slice(0, bestS))}::${hex(g.slice(bestS + bestL))}`;
}

/** Collects argv over one event's EXECVE records (a long argv spans several records). */
export class ArgvCollector {
  argc = -1;
  private args: Array<string | undefined> = [];
  private chunks: Array<Array<Buffer> | undefined> = [];

  add(rec: AuditRecord, c: Cursor): void {
    const line = rec.line;
    for (let i = nextField(line, rec.from, rec.to, c); i >= 0; i = nextField(line, i, rec.to, c)) {
      const k0 = c.kS;
      if (line.charCodeAt(k0) !== 97 /* a */) continue;
      if (c.kE - k0 === 4 && line.startsWith('argc', k0)) {
        this.argc = intValue(line, c);
        continue;
      }
      let p = k0 + 1;
      let idx = 0;
      const ds = p;
      while (p < c.kE) {
        const d = line.charCodeAt(p) - 48;
        if (d < 0 || d > 9) break;
        idx = idx * 10 + d;
        p++;
      }
      if (p === ds || idx > 100000) continue;
      if (p === c.kE) {
        this.args[idx] = stringValue(line, c) ?? '';
        continue;
      }
      if (line.charCodeAt(p) !== 91 /* [ */) continue; // aN_len=...: the chunks say it all
      let ci = 0;
      p++;
      while (p < c.kE && line.charCodeAt(p) !== 93) ci = ci * 10 + (line.charCodeAt(p++) - 48);
      if (ci > 100000) continue;
      const bytes = c.q !== 0 ? Buffer.from(line.slice(c.vS, c.vE), 'latin1') : hexBytes(line, c.vS, c.vE);
      if (!bytes) continue;
      const list = (this.chunks[idx] ??= []);
      list[ci] = bytes;
    }
  }

  result(): string[] {
    const n = Math.max(this.argc, this.args.length, this.chunks.length);
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const whole = this.args[i];
      if (whole !== undefined) out.push(whole);
      else {
        const ch = this.chunks[i];
        out.push(ch ? Buffer.concat(ch.filter((x) => x !== undefined)).toString('utf8') : '');
      }
    }
    return out;
  }
}

// Consecutive events mostly come from the same process: reuse the last decoded title when the
// hex is the same, compared in place (no slice, no allocation).
let lastHex = '';
let lastTitle = '';

/** PROCTITLE's value: the process's argv joined by NULs, hex-encoded; returned joined by spaces. */
export function decodeProctitle(rec: AuditRecord, c: Cursor): string | undefined {
  const line = rec.line;
  for (let i = nextField(line, rec.from, rec.to, c); i >= 0; i = nextField(line, i, rec.to, c)) {
    if (c.kE - c.kS !== 9 || !line.startsWith('proctitle', c.kS)) continue;
    if (c.q !== 0) return line.slice(c.vS, c.vE);
    if (c.vE - c.vS === lastHex.length && line.startsWith(lastHex, c.vS)) return lastTitle;
    const b = hexBytes(line, c.vS, c.vE);
    if (!b) return stringValue(line, c);
    let end = b.length;
    while (end > 0 && b[end - 1] === 0) end--;
    for (let j = 0; j < end; j++) if (b[j] === 0) b[j] = 32;
    lastHex = line.slice(c.vS, c.vE);
    lastTitle = b.toString('utf8', 0, end);
    return lastTitle;
  }
  return undefined;
}
