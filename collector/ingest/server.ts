// The collector's HTTP ingest API on node:http:
//   POST /v1/batches  a watchdog batch (events/schema.ts Batch) -> 200 {stored, duplicate}
//   POST /v1/traces   OTLP/HTTP JSON traces (Bearer token when one is configured)
//   GET  /healthz     200 once the store is open
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { API, otlpKey } from '../../events';
import type { GraphDriver } from './graph-driver';
import { prepareBatch, sameHex } from './batch';
import { mapOtlpTraces } from './otlp';
import type { BatchSink } from './writer';

const gunzipAsync = promisify(gunzip);
const MAX_BODY = 64 * 1024 * 1024;

export interface IngestOptions {
  /** Where prepared batches are stored: the store thread, or an IngestWriter on this thread. */
  sink: BatchSink;
  /** HMAC key of the batch chain; '' accepts batches chained with an empty key. OTLP exports carry it, or otlpKey(it), as Bearer. */
  token: string;
  log: (line: string) => void;
  /** Kicked after every commit to extend the derived graph (see graph-driver.ts). */
  graph: GraphDriver;
}

export interface Ingest {
  server: Server;
  sink: BatchSink;
  /** Stops accepting, waits for in-flight requests and their commits, runs the graph one last time. */
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, `body: larger than ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function createIngest(opts: IngestOptions): Ingest {
  const { token, log } = opts;
  const otlpBearer = otlpKey(token);
  const writer = opts.sink;

  async function batches(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const p = prepareBatch(body.toString('utf8'), token);
    if (!p.ok) {
      if (p.status === 401) {
        writer.recordRefusal(p.source ?? '?', p.seq ?? null, 'bad-mac', `refused from ${req.socket.remoteAddress ?? '?'}: ${p.error}`);
      }
      send(res, p.status, { error: p.error });
      return;
    }
    const r = await writer.submitBatch(p.batch);
    if (r.status === 'conflict') send(res, 409, { error: `batch.seq: ${r.detail}` });
    else if (r.status === 'duplicate') send(res, 200, { stored: 0, duplicate: true });
    else send(res, 200, { stored: r.stored, duplicate: false });
  }

  async function traces(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (token) {
      const auth = req.headers.authorization ?? '';
      // Functions export with the derived key (they never hold the chain key); other producers may use the key itself.
      if (!sameHex(auth, `Bearer ${otlpBearer}`) && !sameHex(auth, `Bearer ${token}`)) {
        await readBody(req).catch(() => undefined);
        writer.recordRefusal(`otlp:${req.socket.remoteAddress ?? '?'}`, null, 'bad-token', 'OTLP export without the right Bearer token');
        send(res, 401, { error: 'authorization: missing or wrong Bearer token' });
        return;
      }
    }
    const ctype = String(req.headers['content-type'] ?? 'application/json');
    if (!ctype.includes('json')) {
      await readBody(req).catch(() => undefined);
      send(res, 415, { error: `content-type: ${ctype} not supported, send OTLP/HTTP JSON (application/json)` });
      return;
    }
    let raw = await readBody(req);
    if (req.headers['content-encoding'] === 'gzip') raw = await gunzipAsync(raw);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      send(res, 400, { error: `body: not JSON (${(e as Error).message})` });
      return;
    }
    const m = mapOtlpTraces(parsed);
    if (m.spans === 0 && m.firstError) {
      send(res, 400, { error: m.firstError });
      return;
    }
    if (m.events.length > 0) {
      await writer.submitRows(
        m.events.map(({ event: e, text }) => ({
          id: e.id,
          kind: e.kind,
          ts: e.ts,
          instance: e.instance,
          function: e.function,
          invocation: e.invocation ?? null,
          source: `otlp:${e.instance}`,
          batchSeq: null,
          body: text,
        })),
      );
    }
    if (m.rejected > 0) send(res, 200, { partialSuccess: { rejectedSpans: m.rejected, errorMessage: m.firstError } });
    else send(res, 200, {});
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    let handler: ((q: IncomingMessage, s: ServerResponse) => Promise<void>) | undefined;
    if (req.method === 'POST' && path === API.batches) handler = batches;
    else if (req.method === 'POST' && path === API.otlpTraces) handler = traces;
    else if (req.method === 'GET' && path === API.health) {
      send(res, 200, { ok: true });
      return;
    } else {
      req.resume();
      send(res, 404, { error: `no route for ${req.method} ${path} (POST ${API.batches}, POST ${API.otlpTraces}, GET ${API.health})` });
      return;
    }
    handler(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) log(`ingest: ${req.method} ${path}: ${(e as Error).message}`);
      if (!res.headersSent) send(res, status, { error: (e as Error).message });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;

  return {
    server,
    sink: writer,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await writer.drain();
      await opts.graph.close();
      await writer.close();
    },
  };
}
