// The local stack's gateway: routes /function/NAME[/rest] to the function's watchdog as the
// OpenFaaS gateway does, and adds the headers OpenFaaS's gateway adds: X-Call-Id (a new UUID
// unless the caller sent one), X-Start-Time (Unix time in nanoseconds) and X-Forwarded-For (the
// caller's address appended). Also /system/functions (the deployed functions) and /healthz.
import { randomUUID } from 'node:crypto';
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Route {
  name: string;
  port: number;
  image?: string;
}

export interface Gateway {
  url: string;
  port: number;
  server: Server;
  /** Requests routed per function. */
  counts: Map<string, number>;
  close(): Promise<void>;
}

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

export async function startGateway(opts: { port: number; host?: string; routes: Route[]; log?: (l: string) => void }): Promise<Gateway> {
  const routes = new Map(opts.routes.map((r) => [r.name, r]));
  const counts = new Map<string, number>();
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
      return;
    }
    if (url === '/system/functions' && req.method === 'GET') {
      const list = [...routes.values()].map((r) => ({ name: r.name, image: r.image ?? '', replicas: 1, invocationCount: counts.get(r.name) ?? 0 }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(list));
      return;
    }
    const m = /^\/function\/([^/?#]+)(\/[^?#]*)?(\?.*)?$/.exec(url);
    if (!m) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`no route for ${url}\n`);
      return;
    }
    // OpenFaaS accepts NAME.NAMESPACE; the local stack has one namespace.
    const name = decodeURIComponent(m[1]);
    const route = routes.get(name) ?? routes.get(name.split('.')[0]);
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`function "${m[1]}" not found\n`);
      return;
    }
    counts.set(route.name, (counts.get(route.name) ?? 0) + 1);
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP.has(k)) headers[k] = v;
    if (!headers['x-call-id']) headers['x-call-id'] = randomUUID();
    headers['x-start-time'] = String(BigInt(Date.now()) * 1_000_000n);
    const client = req.socket.remoteAddress ?? '';
    const prior = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = prior ? `${prior}, ${client}` : client;
    if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] !== undefined) headers['transfer-encoding'] = 'chunked';

    const upstream = request(
      { host: '127.0.0.1', port: route.port, method: req.method, path: `${m[2] ?? '/'}${m[3] ?? ''}`, headers, agent },
      (up) => {
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP.has(k)) out[k] = v;
        out['x-call-id'] = headers['x-call-id'] as string;
        res.writeHead(up.statusCode ?? 502, out);
        up.pipe(res);
      },
    );
    upstream.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(`function "${route.name}" unavailable: ${e.message}\n`);
      else res.destroy();
    });
    req.pipe(upstream);
  };

  const server = createServer(handle);
  server.keepAliveTimeout = 65000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new Error(`gateway: port ${opts.port} is in use (choose another with --port)`) : e),
    );
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
