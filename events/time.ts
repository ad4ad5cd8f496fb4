// Event time is an integer count of microseconds since the Unix epoch. Microseconds fit a JS
// number exactly (2^53 us is ~285 years) and an SQLite INTEGER; nanoseconds since the epoch do not
// fit a double, and audit records only carry milliseconds anyway.

const anchorWallUs = Date.now() * 1000;
const anchorHr = process.hrtime.bigint();

/** Monotonic-backed wall clock in microseconds: never goes backwards within a process. */
export function nowUs(): number {
  return anchorWallUs + Number((process.hrtime.bigint() - anchorHr) / 1000n);
}

export function usToIso(us: number): string {
  const ms = Math.floor(us / 1000);
  const rest = String(us % 1000).padStart(3, '0');
  return new Date(ms).toISOString().replace('Z', `${rest}Z`);
}

/** Accepts an ISO date, a number of seconds/ms/us since the epoch, or a relative "15m"/"2h"/"3d". */
export function parseTimeArg(text: string, now = Date.now()): number {
  const rel = /^(\d+)(s|m|h|d)$/.exec(text);
  if (rel) {
    const mult = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return (now - Number(rel[1]) * mult) * 1000;
  }
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    if (n < 1e11) return Math.round(n * 1e6); // seconds
    if (n < 1e14) return Math.round(n * 1e3); // milliseconds
    return Math.round(n); // microseconds
  }
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new Error(`not a time: "${text}" (use ISO 8601, epoch seconds, or 15m/2h/3d ago)`);
  return ms * 1000;
}
