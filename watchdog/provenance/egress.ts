// The egress proxy the function's outgoing calls go through (HTTP_PROXY, or the local
// /function/NAME route to the gateway). The watchdog sees these calls itself, so their http.out
// events are *confirmed*. Each call is attributed by the process that connected (peer.ts,
// call-owner.ts), with the level of that attribution; the owner's trace context is injected with
// a new span id per call, so the callee's invocation names this call as its parent. CONNECT
// tunnels (HTTPS through the proxy) are recorded by host and port only: the proxy cannot see
// inside TLS.
import { createHash, type Hash } from 'node:crypto';
import { Agent as HttpAgent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { HEADER, SCHEMA_VERSION, nowUs, uuidv7 } from '../../events';
import { extractContext, contextHeaders, newSpanId, newTraceId } from './trace';
import { ownerOfCall, type CallFacts, type OwnerContext, type Owner } from './call-owner';
import { findPeer, type Peer } from './peer';

export interface EgressOptions {
  instance: string;
  function: string;
  /** How a call is placed: what is in flight, the http upstream's pid, births the audit tailer saw, spawn claims. */
  owners: OwnerContext;
  /** True when births may still arrive from the audit tailer (worth waiting for before recording). */
  birthsExpected(): boolean;
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
/** How long a record waits for the audit tailer to report a calling process's birth (it lags by a few hundred ms). */
const BIRTH_WAIT_MS = 2000;
const BIRTH_POLL_MS = 50;

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

  const ctx = o.owners;
  let proxyPort = 0;
  // The peer of a connection is looked up once, on its first request, while the client waits.
  const peers = new WeakMap<Socket, Peer | undefined>();
  const peerOf = (sock: Socket): Peer | undefined => {
    if (peers.has(sock)) return peers.get(sock);
    let peer: Peer | undefined;
    try {
      peer = sock.remotePort ? findPeer(sock.remotePort, proxyPort, process.pid, ctx.upstreamPid) : undefined;
    } catch (e) {
      o.log(`egress proxy: cannot tell who connected: ${(e as Error).message}`);
    }
    peers.set(sock, peer);
    return peer;
  };

  /**
   * The owner was decided when the call began (its context went to the callee); a process spawned
   * by the upstream may have its birth reported by the audit tailer only later, so the record
   * waits for it a little (off the request's path) and says what is known then.
   */
  async function settle(facts: CallFacts, first: Owner): Promise<Owner> {
    // Only a process the http upstream spawned can still learn its birth from audit.
    const up = ctx.upstreamPid;
    const pending = () => facts.peer !== undefined && up !== undefined && facts.peer.pid !== up && facts.peer.lineage.includes(up) && first.basis !== 'lineage' && o.birthsExpected();
    if (!pending()) return first;
    for (let waited = 0; waited < BIRTH_WAIT_MS; waited += BIRTH_POLL_MS) {
      await new Promise((r) => setTimeout(r, BIRTH_POLL_MS).unref());
      const now = ownerOfCall(facts, ctx);
      if (now.basis === 'lineage') return now;
    }
    return ownerOfCall(facts, ctx);
  }

  function record(fields: Record<string, unknown>, facts: CallFacts, first: Owner): void {
    void settle(facts, first).then((w) => {
      o.emit({
        v: SCHEMA_VERSION,
        id: uuidv7(),
        instance: o.instance,
        function: o.function,
        invocation: w.invocation,
        kind: 'http.out',
        evidence: 'confirmed',
        source: 'proxy',
        ...fields,
        pid: facts.peer?.pid,
        lineage: facts.peer?.lineage,
        claimedInvocation: facts.claimedId,
        parentSpanId: facts.parentSpanId,
        attribution: w.attribution,
        basis: w.basis,
        alsoIn: w.alsoIn,
        contradiction: w.contradiction,
      });
    });
  }

  function factsOf(req: IncomingMessage, at: number, claimed = extractContext(req.headers)): CallFacts {
    const claimedId = req.headers[HEADER.invocation];
    return {
      peer: peerOf(req.socket),
      claimedId: typeof claimedId === 'string' && claimedId ? claimedId : undefined,
      traceId: claimed?.traceId,
      parentSpanId: claimed?.spanId,
      atUs: at,
    };
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
    const ts = nowUs();
    const facts = telemetry ? undefined : factsOf(req, ts, claimed);
    const owner = facts ? ownerOfCall(facts, ctx) : {};
    const inv = owner.inv;
    const traceId = inv?.traceId ?? claimed?.traceId ?? newTraceId();
    const spanId = newSpanId();
    const headers: Record<string, string | string[]> = {};
    // X-Alastor-Invocation is said to this proxy; it is not the destination's business.
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k) && k !== HEADER.invocation) headers[k] = v;
    headers.host = target.host;
    if (!telemetry) Object.assign(headers, contextHeaders(traceId, spanId, inv?.traceFlags ?? claimed?.traceFlags ?? 1, claimed?.traceState));

    const t0 = performance.now();
    const reqTap = new Tap();
    const resTap = new Tap();
    let status: number | undefined;
    let done = false;
    const finish = (error?: string) => {
      if (done || !facts) return;
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
        facts,
        owner,
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
    const ts = nowUs();
    const facts = factsOf(req, ts);
    const owner = ownerOfCall(facts, ctx);
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
        facts,
        owner,
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
  proxyPort = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${proxyPort}`,
    port: proxyPort,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        httpAgent.destroy();
        httpsAgent.destroy();
      }),
  };
}
