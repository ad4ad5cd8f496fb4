// Duration parsing as of-watchdog does it: a plain non-negative integer is a number of seconds,
// anything else must be a Go duration string ("500ms", "1m30s", "1.5h"). Values are milliseconds.

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3, // U+00B5 micro sign
  'μs': 1e-3, // U+03BC Greek mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const GO_PART = /(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)/y;

/** Parses a Go duration (time.ParseDuration syntax) into milliseconds; undefined if malformed. */
export function parseGoDuration(text: string): number | undefined {
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  GO_PART.lastIndex = 0;
  while (GO_PART.lastIndex < s.length) {
    const m = GO_PART.exec(s);
    if (!m || m[1] === '' || m[1] === '.') return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]];
  }
  return sign * total;
}

/**
 * of-watchdog's parseIntOrDurationValue: "30" means 30 s, "1m30s" is a Go duration. Returns
 * milliseconds, or undefined when the text is neither (the caller names the variable).
 */
export function parseIntOrDuration(text: string): number | undefined {
  const t = text.trim();
  if (/^[+-]?\d+$/.test(t)) return Number(t) * 1000;
  return parseGoDuration(t);
}

/** Formats milliseconds the way Go prints a time.Duration ("30s", "1m30s", "500ms", "0s"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${+ms.toFixed(3)}ms`;
  let rest = ms / 1000;
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  rest -= m * 60;
  const s = `${+rest.toFixed(3)}s`;
  if (h > 0) return `${h}h${m}m${s}`;
  if (m > 0) return `${m}m${s}`;
  return s;
}
