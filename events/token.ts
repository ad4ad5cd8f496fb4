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
import { readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
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

/** The Bearer credential for OTLP exports from function code: derived from the key, useless for signing batches. */
export function otlpKey(token: string): string {
  return token ? createHmac('sha256', token).update('alastor-otlp-v1').digest('hex') : '';
}
