// The CGI-style environment of a forked function process, as of-watchdog builds it: each request
// header as Http_<Canonical_Name> (first value), Http_Method, Http_Query (when non-empty),
// Http_Path (decoded) and Http_Transfer_Encoding; Host is not passed (Go moves it off the headers).
import type { Exchange } from '../exchange';

/** Go's textproto.CanonicalMIMEHeaderKey ("x-call-id" -> "X-Call-Id"), then '-' -> '_'. */
export function envNameForHeader(name: string): string {
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) return name.replace(/-/g, '_');
  let out = '';
  let upper = true;
  for (const ch of name) {
    if (ch === '-') {
      out += '_';
      upper = true;
    } else {
      out += upper ? ch.toUpperCase() : ch.toLowerCase();
      upper = false;
    }
  }
  return out;
}

export interface ForkRequestInfo {
  env: NodeJS.ProcessEnv;
  callId?: string;
  userAgent?: string;
  contentLength?: number;
}

export function forkEnv(ex: Exchange, baseEnv: NodeJS.ProcessEnv): ForkRequestInfo {
  const env: NodeJS.ProcessEnv = { ...baseEnv };
  const info: ForkRequestInfo = { env };
  const raw = ex.req.rawHeaders;
  const seen = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i].toLowerCase();
    if (seen.has(lower)) continue;
    seen.add(lower);
    const value = raw[i + 1];
    if (lower === 'host') continue;
    if (lower === 'transfer-encoding') {
      env.Http_Transfer_Encoding = value;
      continue;
    }
    if (lower === 'x-call-id') info.callId = value;
    else if (lower === 'user-agent') info.userAgent = value;
    else if (lower === 'content-length') info.contentLength = Number(value);
    env['Http_' + envNameForHeader(raw[i])] = value;
  }
  env.Http_Method = ex.req.method;
  const q = ex.url.indexOf('?');
  const rawPath = q === -1 ? ex.url : ex.url.slice(0, q);
  const query = q === -1 ? '' : ex.url.slice(q + 1);
  if (query !== '') env.Http_Query = query;
  let path = rawPath;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    /* keep the raw path when it is not valid percent-encoding */
  }
  if (path !== '') env.Http_Path = path;
  const extra = ex.scope.env;
  for (const k in extra) env[k] = extra[k];
  return info;
}
