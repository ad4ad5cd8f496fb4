import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import { Batch, KINDS, SCHEMAS, type AlastorEvent, type BatchMessage, type Kind } from './schema';

const checkers = new Map<string, TypeCheck<TSchema>>(
  KINDS.map((k) => [k, TypeCompiler.Compile(SCHEMAS[k])]),
);
const batchChecker = TypeCompiler.Compile(Batch);

export type Verdict<T> = { ok: true; value: T } | { ok: false; error: string };

function firstError(check: TypeCheck<TSchema>, value: unknown, prefix: string): string {
  const e = check.Errors(value).First();
  if (!e) return `${prefix}: invalid`;
  const at = e.path ? `${prefix}${e.path.replace(/\//g, '.')}` : prefix;
  return `${at}: ${e.message}`;
}

/** Validates one event against the schema of its kind; the error names the first bad field. */
export function validateEvent(value: unknown, where = 'event'): Verdict<AlastorEvent> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: `${where}: not an object` };
  }
  const kind = (value as { kind?: unknown }).kind;
  const check = typeof kind === 'string' ? checkers.get(kind) : undefined;
  if (!check) return { ok: false, error: `${where}.kind: unknown kind ${JSON.stringify(kind)} (known: ${KINDS.join(', ')})` };
  if (!check.Check(value)) return { ok: false, error: firstError(check, value, where) };
  return { ok: true, value: value as AlastorEvent };
}

/** Validates the envelope and then every event, stopping at the first bad one. */
export function validateBatch(value: unknown): Verdict<BatchMessage> {
  if (!batchChecker.Check(value)) return { ok: false, error: firstError(batchChecker, value, 'batch') };
  const b = value as BatchMessage;
  for (let i = 0; i < b.events.length; i++) {
    const v = validateEvent(b.events[i], `batch.events[${i}]`);
    if (!v.ok) return v;
  }
  return { ok: true, value: b };
}

export function isKind(k: string): k is Kind {
  return (KINDS as readonly string[]).includes(k);
}
