// Prometheus metrics with of-watchdog's names, help texts, labels and buckets (Go's
// prometheus.DefBuckets equal prom-client's defaults). Label objects are cached per
// (method, status) so recording a request allocates nothing; the in-flight gauge is read from the
// server's counter at scrape time instead of being updated per request.
import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

type Labels = { code: string; method: string };

export class HttpMetrics {
  readonly registry = new Registry();
  private readonly total: Counter<'code' | 'method'>;
  private readonly duration: Histogram<'code' | 'method'>;
  private readonly labelCache = new Map<string, Map<number, Labels>>();

  constructor(inflight: () => number) {
    this.total = new Counter({
      name: 'http_requests_total',
      help: 'total HTTP requests processed',
      labelNames: ['code', 'method'],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Seconds spent serving HTTP requests.',
      labelNames: ['code', 'method'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    new Gauge({
      name: 'http_requests_in_flight',
      help: 'total HTTP requests in-flight',
      registers: [this.registry],
      collect() {
        this.set(inflight());
      },
    });
    // Process metrics as Go's registry has them; the event-loop lag sampler wakes the process, so
    // it samples every 100 ms rather than prom-client's default 10 ms.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
  }

  record(method: string, status: number, seconds: number): void {
    let byCode = this.labelCache.get(method);
    if (byCode === undefined) {
      byCode = new Map();
      this.labelCache.set(method, byCode);
    }
    let labels = byCode.get(status);
    if (labels === undefined) {
      // promhttp's label values: the method lower-cased, the status as a decimal string.
      labels = { code: String(status), method: method.toLowerCase() };
      byCode.set(status, labels);
    }
    this.total.inc(labels);
    this.duration.observe(labels, seconds);
  }

  /** Serves /metrics on its own port (of-watchdog's metrics server; 404 elsewhere). */
  listen(port: number): Promise<Server> {
    const server = createServer((req, res) => {
      if (req.url !== '/metrics' && !req.url?.startsWith('/metrics?')) {
        res.writeHead(404).end('404 page not found\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(text),
        (err) => res.writeHead(500).end(String(err)),
      );
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  }
}
