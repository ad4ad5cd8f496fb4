// Where each event's JSON text lies in a batch body. The batch MAC covers the events' exact text,
// and that text is what the store keeps, so the collector takes it from the body as received
// instead of re-serialising every parsed event (which cost as much as parsing it). Runs only on a
// body JSON.parse accepted, so it can assume valid JSON.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;
const OPEN_ARR = 0x5b;
const CLOSE_ARR = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipWs(t: string, i: number): number {
  while (i < t.length && isWs(t.charCodeAt(i))) i++;
  return i;
}

/** i at an opening quote; returns the index after the closing quote. */
function skipString(t: string, i: number): number {
  for (let j = i + 1; ; ) {
    const q = t.indexOf('"', j);
    if (q < 0) return t.length;
    let k = q - 1;
    while (t.charCodeAt(k) === BACKSLASH) k--;
    if ((q - 1 - k) % 2 === 0) return q + 1; // an even run of backslashes: the quote is real
    j = q + 1;
  }
}

/** i at the first character of any value; returns the index after it. */
function skipValue(t: string, i: number): number {
  const c = t.charCodeAt(i);
  if (c === QUOTE) return skipString(t, i);
  if (c === OPEN_OBJ || c === OPEN_ARR) {
    let depth = 0;
    for (let j = i; j < t.length; j++) {
      const d = t.charCodeAt(j);
      if (d === QUOTE) j = skipString(t, j) - 1;
      else if (d === OPEN_OBJ || d === OPEN_ARR) depth++;
      else if (d === CLOSE_OBJ || d === CLOSE_ARR) {
        if (--depth === 0) return j + 1;
      }
    }
    return t.length;
  }
  let j = i;
  while (j < t.length) {
    const d = t.charCodeAt(j);
    if (d === COMMA || d === CLOSE_OBJ || d === CLOSE_ARR || isWs(d)) break;
    j++;
  }
  return j;
}

/**
 * [start0, end0, start1, end1, ...]: the text of each element of the top-level "events" array
 * (the last one, as JSON.parse keeps the last of duplicate keys). null when the body is not an
 * object or the key is spelt with escapes; the caller then serialises the parsed events instead.
 */
export function eventSpans(t: string): Int32Array | null {
  let i = skipWs(t, 0);
  if (t.charCodeAt(i) !== OPEN_OBJ) return null;
  i = skipWs(t, i + 1);
  let found: number[] | null = null;
  while (i < t.length && t.charCodeAt(i) === QUOTE) {
    const keyEnd = skipString(t, i);
    const isEvents = keyEnd - i === 8 && t.startsWith('"events"', i);
    i = skipWs(t, keyEnd);
    if (t.charCodeAt(i) !== COLON) return null;
    i = skipWs(t, i + 1);
    if (isEvents && t.charCodeAt(i) === OPEN_ARR) {
      const spans: number[] = [];
      i = skipWs(t, i + 1);
      while (i < t.length && t.charCodeAt(i) !== CLOSE_ARR) {
        const start = i;
        i = skipValue(t, i);
        spans.push(start, i);
        i = skipWs(t, i);
        if (t.charCodeAt(i) === COMMA) i = skipWs(t, i + 1);
      }
      i++;
      found = spans;
    } else {
      i = skipValue(t, i);
    }
    i = skipWs(t, i);
    if (t.charCodeAt(i) === COMMA) i = skipWs(t, i + 1);
  }
  return found ? Int32Array.from(found) : null;
}

/** True when the spans are joined by single commas, as JSON.stringify and fwatchdog write them. */
export function compactSpans(t: string, spans: Int32Array): boolean {
  for (let k = 2; k < spans.length; k += 2) {
    if (spans[k] !== spans[k - 1] + 1 || t.charCodeAt(spans[k - 1]) !== COMMA) return false;
  }
  return true;
}
