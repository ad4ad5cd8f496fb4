// The batch chain key of a stack `alastor up` runs. A store can only ever be verified with the key
// that made its MACs, so a key `up` generates is written down beside the store (owner-only) and
// reused by every later run on that store; `alastor verify` and `alastor audit ingest` find it
// there (events/token.ts). A key the user configured is never written anywhere.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ENV } from '../../events/names';
import { readToken, storeKeyFile } from '../../events/token';

export interface StackKey {
  token: string;
  /** The key file beside the store, when the key is the stack's own (not configured by the user). */
  file?: string;
  /** One line for the user: where the key came from and how verify will find it. */
  note: string;
}

export function stackKey(opts: { token?: string; db?: string; env: NodeJS.ProcessEnv; log: (line: string) => void }): StackKey {
  const { env, db } = opts;
  if (opts.token !== undefined) return { token: opts.token, note: 'batch key: given by the caller' };
  const configured = env[ENV.token] !== undefined ? ENV.token : env[ENV.tokenFile]?.trim() ? `${ENV.tokenFile} (${env[ENV.tokenFile]!.trim()})` : undefined;
  if (configured) {
    const token = readToken(env);
    if (db) warnIfFileDiffers(storeKeyFile(db), token, configured, opts.log);
    return { token, note: `batch key: from ${configured}; verify and ingest need it set the same way` };
  }
  // No store (provenance off): nothing is signed, so nothing needs keeping.
  if (!db) return { token: randomBytes(24).toString('hex'), note: 'batch key: none needed (provenance off)' };

  const file = storeKeyFile(db);
  mkdirSync(dirname(file), { recursive: true });
  const fresh = randomBytes(24).toString('hex');
  try {
    // 'wx': two `up`s racing on one store must not each keep a different key.
    writeFileSync(file, `${fresh}\n`, { mode: 0o600, flag: 'wx' });
    return { token: fresh, file, note: `batch key: generated and kept in ${file} (owner-only); \`alastor verify --db ${db}\` finds it there` };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot keep the stack's batch key in ${file}: ${(e as Error).message}`);
  }
  let token: string;
  try {
    token = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    throw new Error(`cannot read the store's batch key ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  // An empty file would quietly chain everything with the empty key, which proves nothing.
  if (!token) throw new Error(`${file} is empty: remove it (and the store it belongs to, whose MACs it can no longer check) or put the store's key in it`);
  if (statSync(file).mode & 0o077) opts.log(`warning: ${file} can be read by other users; whoever reads it can sign batches (chmod 600 it)`);
  return { token, file, note: `batch key: kept from an earlier run in ${file}` };
}

function warnIfFileDiffers(file: string, token: string, configured: string, log: (line: string) => void): void {
  let kept: string;
  try {
    kept = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch {
    return;
  }
  if (kept !== token) log(`warning: ${configured} is not the key in ${file}, which earlier runs signed this store's batches with; verify those with that key`);
}
