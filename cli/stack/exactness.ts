// Which functions of a stack can only be attributed by time under concurrency. In http mode one
// process serves every request in flight; only a template that reports claims from its async
// context (node-alastor, events/claims.ts) lets the audit layer tell those requests apart. Any
// other such function is exact with max_inflight=1 and a guess otherwise, which the user should
// hear before reading a graph full of guesses.
import type { Template } from './template';

export function concurrencyWarning(fn: { name: string; environment?: Record<string, string> }, t: Template): string | undefined {
  const env = { ...t.env, ...fn.environment };
  if ((env.mode ?? 'streaming') !== 'http' || t.runtime === 'node') return undefined;
  if (Number(env.max_inflight) === 1) return undefined;
  return `${fn.name}: ${t.lang} reports no claims, so requests in flight together in its one process are told apart by time only: their acts are recorded as guesses. Set max_inflight: "1" in its environment for exact attribution (docs/audit.md).`;
}
