// Who this watchdog is: the function's name and the instance id.
import { hostname } from 'node:os';
import { ENV } from '../../events';

/**
 * OpenFaaS runs a function as a Deployment named after it, so pods are named
 * NAME-<replicaset hash>-<pod suffix> (hash: 6-10 of k8s's safe alphabet, suffix: 5).
 */
const POD_NAME = /^(.+?)-[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}$/;

export function functionFromHostname(host: string): string {
  const m = POD_NAME.exec(host);
  return m ? m[1] : host;
}

export function functionName(env: NodeJS.ProcessEnv, host = hostname()): string {
  const given = env[ENV.functionName]?.trim();
  return given || functionFromHostname(host);
}
