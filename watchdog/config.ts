// Configuration from the environment, with of-watchdog's names, aliases and defaults. Where
// of-watchdog silently falls back to a default on a malformed value, fwatchdog refuses to start
// and names the variable: a typo in a timeout should not quietly become 30 s.
import { parseIntOrDuration } from './durations';

export type Mode = 'http' | 'streaming' | 'serializing' | 'static';
const MODES: readonly string[] = ['http', 'streaming', 'serializing', 'static'];

export interface WatchdogConfig {
  mode: Mode;
  /** fprocess / function_process, as given. */
  fprocess: string;
  port: number;
  metricsPort: number;
  readTimeoutMs: number;
  writeTimeoutMs: number;
  /** 0 disables. */
  execTimeoutMs: number;
  healthcheckIntervalMs: number;
  upstreamUrl: string;
  contentType: string;
  staticPath: string;
  suppressLock: boolean;
  bufferHttpBody: boolean;
  /** 0 = unlimited. */
  maxInflight: number;
  prefixLogs: boolean;
  /** Longest child log line in bytes; negative means no limit. */
  logBufferSize: number;
  readyPath: string;
  logCallId: boolean;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
  }
}

type Env = Record<string, string | undefined>;

const DEFAULT_TIMEOUT_MS = 30_000;
/** bufio.MaxScanTokenSize, of-watchdog's default line limit. */
const DEFAULT_LOG_BUFFER = 64 * 1024;

function duration(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const ms = parseIntOrDuration(raw);
  if (ms === undefined || !Number.isFinite(ms)) {
    throw new ConfigError(name, `invalid ${name} "${raw}": expected seconds (e.g. 30) or a Go duration (e.g. 1m30s)`);
  }
  if (ms < 0) throw new ConfigError(name, `invalid ${name} "${raw}": a timeout cannot be negative`);
  return ms;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[+-]?\d+$/.test(raw.trim())) throw new ConfigError(name, `invalid ${name} "${raw}": expected an integer`);
  const n = Number(raw.trim());
  if (n < min || n > max) throw new ConfigError(name, `invalid ${name} "${raw}": must be between ${min} and ${max}`);
  return n;
}

/** Go's strconv.ParseBool. */
function parseBool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(raw)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(raw)) return false;
  throw new ConfigError(name, `invalid ${name} "${raw}": expected true or false`);
}

/** of-watchdog's getBool: only "true" and "1" switch it on. */
function flag(env: Env, name: string): boolean {
  return env[name] === 'true' || env[name] === '1';
}

function pick(env: Env, ...names: string[]): string | undefined {
  // The later name wins, as in of-watchdog (function_process over fprocess, http_upstream_url
  // over upstream_url).
  let v: string | undefined;
  for (const n of names) if (env[n] !== undefined) v = env[n];
  return v;
}

export function loadConfig(env: Env): WatchdogConfig {
  const rawMode = env.mode === undefined || env.mode === '' ? 'streaming' : env.mode;
  if (!MODES.includes(rawMode)) {
    throw new ConfigError('mode', `invalid mode "${rawMode}": expected one of ${MODES.join(', ')}`);
  }
  const mode = rawMode as Mode;
  const writeTimeoutMs = duration(env, 'write_timeout', DEFAULT_TIMEOUT_MS);
  if (writeTimeoutMs === 0) throw new ConfigError('write_timeout', 'invalid write_timeout: HTTP write timeout must be over 0s');

  const cfg: WatchdogConfig = {
    mode,
    fprocess: pick(env, 'fprocess', 'function_process') ?? '',
    port: integer(env, 'port', 8080, 1, 65535),
    metricsPort: integer(env, 'metrics_port', 8081, 1, 65535),
    readTimeoutMs: duration(env, 'read_timeout', DEFAULT_TIMEOUT_MS),
    writeTimeoutMs,
    execTimeoutMs: duration(env, 'exec_timeout', DEFAULT_TIMEOUT_MS),
    healthcheckIntervalMs: duration(env, 'healthcheck_interval', writeTimeoutMs),
    upstreamUrl: pick(env, 'upstream_url', 'http_upstream_url') ?? '',
    contentType: env.content_type ?? 'application/octet-stream',
    staticPath: env.static_path ?? '/home/app/public',
    suppressLock: flag(env, 'suppress_lock'),
    bufferHttpBody: flag(env, 'buffer_http') || flag(env, 'http_buffer_req_body'),
    maxInflight: integer(env, 'max_inflight', 0, 0, Number.MAX_SAFE_INTEGER),
    prefixLogs: parseBool(env, 'prefix_logs', true),
    logBufferSize: integer(env, 'log_buffer_size', DEFAULT_LOG_BUFFER, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
    readyPath: env.ready_path ?? '',
    logCallId: env.log_callid === '1' || (env.log_callid !== undefined && env.log_callid !== '' && parseBool(env, 'log_callid', false)),
  };

  if (cfg.port === cfg.metricsPort) {
    throw new ConfigError('metrics_port', `invalid metrics_port ${cfg.metricsPort}: the same as port`);
  }
  if (mode !== 'static' && cfg.fprocess.trim() === '') {
    throw new ConfigError('fprocess', 'provide a "function_process" or "fprocess" environmental variable for your function');
  }
  if (mode === 'http') {
    if (cfg.upstreamUrl === '') {
      throw new ConfigError('upstream_url', 'for mode=http you must specify a valid URL for "http_upstream_url" (or "upstream_url")');
    }
    let u: URL;
    try {
      u = new URL(cfg.upstreamUrl);
    } catch {
      throw new ConfigError('upstream_url', `invalid upstream_url "${cfg.upstreamUrl}": not a URL`);
    }
    if (u.protocol !== 'http:') {
      throw new ConfigError('upstream_url', `invalid upstream_url "${cfg.upstreamUrl}": only http:// upstreams are supported`);
    }
  }
  if (mode === 'static' && cfg.staticPath === '') {
    throw new ConfigError('static_path', 'for mode=static you must specify the "static_path" to serve');
  }
  if (flag(env, 'jwt_auth')) {
    // Refuse rather than serve unauthenticated requests that the operator meant to protect.
    throw new ConfigError('jwt_auth', 'jwt_auth is not supported by fwatchdog (OpenFaaS for Enterprises only)');
  }
  return cfg;
}

/** of-watchdog's Process(): fprocess split on spaces, no shell (runs of spaces count as one). */
export function splitProcess(fprocess: string): { command: string; args: string[] } {
  const parts = fprocess.split(' ').filter((p) => p !== '');
  return { command: parts[0], args: parts.slice(1) };
}
