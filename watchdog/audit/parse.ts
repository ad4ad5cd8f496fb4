// One audit log line -> one record header, and a cursor over its key=value fields.
//
// Written by hand for speed: the parser runs over every line auditd writes, host-wide in agent
// mode, so it avoids regular expressions and allocates only for the values it keeps. The record
// body is not split up front; consumers walk it with nextField() and slice just the fields they
// want (see event.ts).
//
// Accepted shapes (auditd's RAW and ENRICHED log formats, optionally with name_format's node=):
//   [node=NAME ]type=TYPE msg=audit(SEC.MS:SERIAL): k=v k="quoted" k=HEX ...[\x1dK=interpreted ...]

export interface AuditRecord {
  type: string;
  /** Audit timestamp: whole seconds since the epoch, and milliseconds. */
  sec: number;
  ms: number;
  serial: number;
  line: string;
  /** Raw fields live in line[from, to); in ENRICHED logs the interpreted ones follow to+1. */
  from: number;
  to: number;
  node?: string;
}

const SP = 32;
const QUOTE = 34;
const APOS = 39;
const EQ = 61;
const BRACE = 123;
const GS = '\x1d';

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Parses a record header; null when the line is not an audit record (garbage, binary, cut short). */
export function parseRecord(line: string): AuditRecord | null {
  let p = 0;
  let node: string | undefined;
  if (line.charCodeAt(0) === 110 /* n */ && line.startsWith('node=')) {
    const sp = line.indexOf(' ', 5);
    if (sp < 0) return null;
    node = line.slice(5, sp);
    p = sp + 1;
  }
  if (!line.startsWith('type=', p)) return null;
  const sp = line.indexOf(' ', p + 5);
  if (sp <= p + 5) return null;
  for (let i = p + 5; i < sp; i++) {
    const c = line.charCodeAt(i);
    // A-Z 0-9 _ and UNKNOWN[1234]
    if (!((c >= 65 && c <= 90) || isDigit(c) || c === 95 || c === 91 || c === 93)) return null;
  }
  if (!line.startsWith('msg=audit(', sp + 1)) return null;
  let q = sp + 11;
  const len = line.length;
  let sec = 0;
  const secStart = q;
  while (q < len && isDigit(line.charCodeAt(q))) sec = sec * 10 + (line.charCodeAt(q++) - 48);
  if (q === secStart || line.charCodeAt(q) !== 46 /* . */) return null;
  q++;
  let ms = 0;
  const msStart = q;
  while (q < len && isDigit(line.charCodeAt(q))) ms = ms * 10 + (line.charCodeAt(q++) - 48);
  if (q === msStart || q - msStart > 3 || line.charCodeAt(q) !== 58 /* : */) return null;
  q++;
  let serial = 0;
  const serStart = q;
  while (q < len && isDigit(line.charCodeAt(q))) serial = serial * 10 + (line.charCodeAt(q++) - 48);
  if (q === serStart || line.charCodeAt(q) !== 41 /* ) */ || line.charCodeAt(q + 1) !== 58 /* : */) return null;
  q += 2;
  if (line.charCodeAt(q) === SP) q++;
  const gs = line.indexOf(GS, q);
  return { type: typeName(line, p + 5, sp), sec, ms, serial, line, from: q, to: gs < 0 ? len : gs, node };
}

// The record types of syscall events, as shared constants: no string is allocated for them and
// comparing them is a pointer check.
const COMMON_TYPES = ['SYSCALL', 'PATH', 'CWD', 'EXECVE', 'SOCKADDR', 'PROCTITLE', 'EOE', 'BPRM_FCAPS'];

function typeName(line: string, s: number, e: number): string {
  for (let i = 0; i < COMMON_TYPES.length; i++) {
    const t = COMMON_TYPES[i];
    if (t.length === e - s && line.startsWith(t, s)) return t;
  }
  return line.slice(s, e);
}

/**
 * Position of the field nextField() last found. One shared instance per consumer, so walking a
 * record allocates nothing; keys and values are compared and sliced in place.
 */
export class Cursor {
  kS = 0;
  kE = 0;
  vS = 0;
  vE = 0;
  /** 0 unquoted, else the opening char code: " ' { */
  q = 0;
  /** Set when a quoted value ran off the end of the record (a truncated line). */
  cut = false;
}

/** Finds the field at or after i in line[..to); returns the index after it, or -1 at the end. */
export function nextField(line: string, i: number, to: number, c: Cursor): number {
  while (i < to && line.charCodeAt(i) === SP) i++;
  if (i >= to) return -1;
  c.kS = i;
  let ch = 0;
  while (i < to && (ch = line.charCodeAt(i)) !== EQ && ch !== SP) i++;
  c.kE = i;
  if (i >= to || ch === SP) {
    // A bare word without '=': kept as a key with an empty value.
    c.vS = c.vE = i;
    c.q = 0;
    return i;
  }
  i++;
  ch = line.charCodeAt(i);
  if (ch === QUOTE || ch === APOS || ch === BRACE) {
    const close = line.indexOf(ch === QUOTE ? '"' : ch === APOS ? "'" : '}', i + 1);
    c.q = ch;
    c.vS = i + 1;
    if (close < 0 || close >= to) {
      c.vE = to;
      c.cut = true;
      return to;
    }
    c.vE = close;
    return close + 1;
  }
  c.q = 0;
  c.vS = i;
  const sp = line.indexOf(' ', i);
  c.vE = sp < 0 || sp > to ? to : sp;
  return c.vE;
}

/** True when the field under the cursor has key `k`. */
export function keyIs(line: string, c: Cursor, k: string): boolean {
  return c.kE - c.kS === k.length && line.startsWith(k, c.kS);
}

/** The value under the cursor as a decimal integer (leading '-' allowed), or NaN. */
export function intValue(line: string, c: Cursor): number {
  let i = c.vS;
  const e = c.vE;
  if (i >= e) return NaN;
  let neg = false;
  if (line.charCodeAt(i) === 45) {
    neg = true;
    i++;
    if (i >= e) return NaN;
  }
  let n = 0;
  for (; i < e; i++) {
    const d = line.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return neg ? -n : n;
}

export function rawValue(line: string, c: Cursor): string {
  return line.slice(c.vS, c.vE);
}

/**
 * An "untrusted string" value (comm, exe, name, cwd, proctitle, argv): audit writes it quoted when
 * it is plain printable ASCII, else as hex of its bytes. (null)/(none) become undefined.
 */
export function stringValue(line: string, c: Cursor): string | undefined {
  if (c.q !== 0) return line.slice(c.vS, c.vE);
  const n = c.vE - c.vS;
  if (n === 0) return '';
  if (line.charCodeAt(c.vS) === 40 /* ( */) return undefined; // (null), (none)
  return hexToString(line, c.vS, c.vE);
}

function hexNibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** Bytes of the hex digits in s[from, to); null when they are not hex (odd length, bad digit). */
export function hexBytes(s: string, from: number, to: number): Buffer | null {
  const n = to - from;
  if (n & 1) return null;
  const out = Buffer.allocUnsafe(n >> 1);
  for (let i = from, j = 0; i < to; i += 2, j++) {
    const hi = hexNibble(s.charCodeAt(i));
    const lo = hexNibble(s.charCodeAt(i + 1));
    if (hi < 0 || lo < 0) return null;
    out[j] = (hi << 4) | lo;
  }
  return out;
}

/** Hex-encoded bytes as UTF-8 text; the text as is when it is not hex after all. */
export function hexToString(s: string, from: number, to: number): string {
  const b = hexBytes(s, from, to);
  return b ? b.toString('utf8') : s.slice(from, to);
}
