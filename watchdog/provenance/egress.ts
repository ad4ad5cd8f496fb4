// The egress proxy the function's outgoing calls go through (HTTP_PROXY, or the local
// /function/NAME route to the gateway). The watchdog sees these calls itself, so their http.out
// events are *confirmed*. It injects the current invocation's trace context with a new span id
// per call, so the callee's invocation names this call as its parent. CONNECT tunnels (HTTPS
// through the proxy) are recorded by host and port only: the proxy cannot see inside TLS.
import { createHash, type Hash } from 'node:crypto';
import { Agent as HttpAgent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { SCHEMA_VERSION, nowUs, uuidv7 } from '../../events';
import { extractContext, contextHeaders, newSpanId, newTraceId } from './trace';
import type { Inflight } from './inflight';

export interface EgressOptions {
  instance: string;
  function: string;
  inflight: Inflight;
  emit(ev: object): void;
  /** Real gateway for /function/NAME; undefined = that route answers 502. */
  gatewayUrl?: string;
  /** host:port of the collector: calls there are the function's own telemetry and are not recorded. */
  collectorHostPort?: string;
  log(line: string): void;
}

export interface EgressProxy {
  url: string;
  port: number;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'host',
]);
const EMPTY_SHA256 = createHash('sha256').digest('hex');

class Tap {
  private h: Hash | null = null;
  bytes = 0;
  update(c: Buffer): void {
    (this.h ??= createHash('sha256')).update(c);
    this.bytes += c.length;
  }
  hex(): string {
    return this.h ? this.h.digest('hex') : EMPTY_SHA256;
  }
}

export async function startEgressProxy(o: EgressOptions): Promise<EgressProxy> {
  const httpAgent = new HttpAgent({ keepAlive: true });
  const httpsAgent = new HttpsAgent({ keepAlive: true });
  const gateway = o.gatewayUrl ? new URL(o.gatewayUrl) : undefined;
  const gwBase = gateway ? gateway.pathname.replace(/\/$/, '') : '';

  /** inv is decided when the call starts: the invocation may have ended by the time it closes. */
  function record(fields: Record<string, unknown>, inv: { id: string } | undefined): void {
    o.emit({
      v: SCHEMA_VERSION,
      id: uuidv7(),
      instance: o.instance,
      function: o.function,
      invocation: inv?.id,
      kind: 'http.out',
      evidence: 'confirmed',
      source: 'proxy',
      ...fields,
    });
  }

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const raw = req.url ?? '/';
    let target: URL;
    let callee: string | undefined;
    if (/^https?:\/\//i.test(raw)) {
      try {
        target = new URL(raw);
      } catch {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`egress proxy: bad absolute URI ${raw}\n`);
        return;
      }
      callee = /^\/function\/([^/?#]+)/.exec(target.pathname)?.[1];
      if (callee && gateway && target.host !== gateway.host) callee = undefined;
    } else if (raw.startsWith('/function/')) {
      if (!gateway) {
        req.resume();
        res.writeHead(502, { 'content-type': 'text/plain' }).end('egress proxy: ALASTOR_GATEWAY_URL is not set, /function/NAME has nowhere to go\n');
        return;
      }
      target = new URL(gwBase + raw, gateway);
      callee = /^\/function\/([^/?#]+)/.exec(raw)?.[1];
    } else {
      req.resume();
      res.writeHead(400, { 'content-type': 'text/plain' }).end('egress proxy: send absolute-URI requests (HTTP_PROXY) or /function/NAME\n');
      return;
    }

    const telemetry = o.collectorHostPort !== undefined && target.host === o.collectorHostPort;
    const claimed = extractContext(req.headers);
    const inv = o.inflight.current(claimed?.spanId);
    const traceId = inv?.traceId ?? claimed?.traceId ?? newTraceId();
    const spanId = newSpanId();
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    headers.host = target.host;
    if (!telemetry) Object.assign(headers, contextHeaders(traceId, spanId, inv?.traceFlags ?? claimed?.traceFlags ?? 1, claimed?.traceState));

    const ts = nowUs();
    const t0 = performance.now();
    const reqTap = new Tap();
    const resTap = new Tap();
    let status: number | undefined;
    let done = false;
    const finish = (error?: string) => {
      if (done || telemetry) return;
      done = true;
      record(
        {
          ts,
          method: req.method ?? 'GET',
          url: target.toString(),
          host: target.hostname,
          port: target.port ? Number(target.port) : target.protocol === 'https:' ? 443 : 80,
          callee,
          status,
          reqBytes: reqTap.bytes,
          resBytes: resTap.bytes,
          reqSha256: reqTap.hex(),
          resSha256: resTap.hex(),
          traceId,
          spanId,
          durationMs: Math.round((performance.now() - t0) * 1000) / 1000,
          error,
        },
        inv,
      );
    };

    const secure = target.protocol === 'https:';
    const up = (secure ? httpsRequest : httpRequest)(
      {
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port || (secure ? 443 : 80),
        path: target.pathname + target.search,
        method: req.method,
        headers,
        agent: secure ? httpsAgent : httpAgent,
      },
      (ures) => {
        status = ures.statusCode;
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(ures.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
        res.writeHead(ures.statusCode ?? 502, out);
        ures.on('data', (c: Buffer) => resTap.update(c));
        ures.pipe(res);
        ures.on('end', () => finish());
        ures.on('error', (e) => finish(e.message));
      },
    );
    up.on('error', (e) => {
      finish(e.message);
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(`egress proxy: ${target.host}: ${e.message}\n`);
      else res.destroy();
    });
    res.on('close', () => {
      if (!done) {
        up.destroy();
        finish('client closed the connection');
      }
    });
    req.on('data', (c: Buffer) => reqTap.update(c));
    req.pipe(up);
  }

  function onConnect(req: IncomingMessage, client: Socket, head: Buffer): void {
    const hostPort = req.url ?? '';
    const i = hostPort.lastIndexOf(':');
    const host = i > 0 ? hostPort.slice(0, i).replace(/^\[|\]$/g, '') : hostPort;
    const port = i > 0 ? Number(hostPort.slice(i + 1)) : 443;
    const inv = o.inflight.current(extractContext(req.headers)?.spanId);
    const ts = nowUs();
    const t0 = performance.now();
    let sent = head.length;
    let received = 0;
    let status: number | undefined;
    let recorded = false;
    const finish = (error?: string) => {
      if (recorded) return;
      recorded = true;
      record(
        { ts, method: 'CONNECT', url: `${host}:${port}`, host, port, status, reqBytes: sent, resBytes: received, durationMs: Math.round((performance.now() - t0) * 1000) / 1000, error },
        inv,
      );
    };
    const upstream = connect(port, host, () => {
      status = 200;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      client.on('data', (c: Buffer) => (sent += c.length));
      upstream.on('data', (c: Buffer) => (received += c.length));
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', (e) => {
      if (status === undefined) {
        status = 502;
        client.end(`HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\n\r\negress proxy: ${hostPort}: ${e.message}\n`);
      } else client.destroy();
      finish(e.message);
    });
    client.on('error', () => upstream.destroy());
    upstream.on('close', () => {
      client.destroy();
      finish();
    });
    client.on('close', () => upstream.destroy());
  }

  const server: Server = createServer(onRequest);
  server.on('connect', onConnect);
  server.on('clientError', (_e, sock) => sock.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        httpAgent.destroy();
        httpsAgent.destroy();
      }),
  };
}
