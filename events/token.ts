// The deployment's secret, the HMAC key of every batch chain, and the weaker key derived from it
// for OTLP exports.
//
// The key is read from ALASTOR_TOKEN, else from the file ALASTOR_TOKEN_FILE names; fwatchdog also
// looks for OpenFaaS's secret mount (`faas-cli secret create alastor-token`), which keeps the key
// out of every process environment. Code running inside the function must never hold the key:
// with it, a planted script could sign batches of its own. So fwatchdog removes ALASTOR_TOKEN
// from the environment it hands on, and gives the function's OpenTelemetry exporter otlpKey()
// instead, which the collector accepts on /v1/traces only. What a function exports is a claim
// anyway; a batch the watchdog signs is evidence.
//
// `alastor up` generates a key when none is configured and keeps it beside the store it keys
// (storeKeyFile), because a store's MACs can only ever be checked with the key that made them:
// `alastor verify` and `alastor audit ingest` look it up there (storeToken) after the variables.
import { existsSync, readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { resolve } from 'node:path';
import { ENV } from './names';

export const OPENFAAS_TOKEN_FILE = '/var/openfaas/secrets/alastor-token';

/**
 * The key from the environment or a file ('' when none is configured). A file that is named but
 * cannot be read is an error naming the variable, never a silent empty key.
 */
export function readToken(env: NodeJS.ProcessEnv, defaultFile?: string): string {
  const direct = env[ENV.token];
  if (direct !== undefined) return direct;
  const named = env[ENV.tokenFile]?.trim();
  const file = named || defaultFile;
  if (!file) return '';
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (!named && err.code === 'ENOENT') return '';
    throw new Error(`${named ? ENV.tokenFile : 'the OpenFaaS secret'}: cannot read ${file}: ${err.code ?? err.message}`);
  }
  // Secrets written by editors and `echo` end in a newline that is not part of the key.
  return text.replace(/\r?\n$/, '');
}

/**
 * Where the key `alastor up` generated for a store lives: next to the store, named after it, so
 * the store's path alone leads to it (the default store is in the stack's state folder, and so is
 * its key).
 */
export const storeKeyFile = (db: string) => `${resolve(db)}.key`;

export interface KeyLookup {
  /** The key ('' when none was found). */
  token: string;
  /** Where it came from, for messages: the variable, or the file. */
  from: string;
  /** Every place looked at, in order, with what was there: for a report that has to explain a wrong key. */
  looked: string[];
}

/**
 * The key for a store: ALASTOR_TOKEN, else the file ALASTOR_TOKEN_FILE names, else the key file
 * `alastor up` left beside the store. Explicit settings win so a user can always override a key
 * file (or check a store against the deployment's own key).
 */
export function storeToken(env: NodeJS.ProcessEnv, db: string): KeyLookup {
  const file = storeKeyFile(db);
  // The key file is named even when a variable wins: after a bad MAC it is where the right key
  // most likely is.
  const fileNote = (why: string) => `${file} (${existsSync(file) ? `present, not used: ${why}` : 'missing'})`;
  if (env[ENV.token] !== undefined) {
    return { token: env[ENV.token]!, from: ENV.token, looked: [`${ENV.token} (set)`, fileNote(`${ENV.token} wins`)] };
  }
  const named = env[ENV.tokenFile]?.trim();
  if (named) {
    return { token: readToken(env), from: `${ENV.tokenFile} (${named})`, looked: [`${ENV.token} (unset)`, `${ENV.tokenFile}=${named}`, fileNote(`${ENV.tokenFile} wins`)] };
  }
  const looked = [`${ENV.token} (unset)`, `${ENV.tokenFile} (unset)`];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // Unreadable is not the same as absent: going on with the empty key would only turn a
    // permission problem into a page of bad-mac lines.
    if (err.code !== 'ENOENT') throw new Error(`cannot read the store's key file ${file}: ${err.code ?? err.message}`);
    return { token: '', from: 'nowhere (the empty key)', looked: [...looked, `${file} (missing)`] };
  }
  return { token: text.replace(/\r?\n$/, ''), from: file, looked: [...looked, file] };
}

/** The Bearer credential for OTLP exports from function code: derived from the key, useless for signing batches. */
export function otlpKey(token: string): string {
  return token ? createHmac('sha256', token).update('alastor-otlp-v1').digest('hex') : '';
}
