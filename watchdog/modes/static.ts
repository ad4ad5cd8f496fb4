// mode=static: files under static_path, as Go's http.FileServer serves them: index.html for a
// directory, a redirect to add the trailing slash, a plain listing when there is no index,
// Last-Modified / If-Modified-Since. The URL path is cleaned before it is joined to the root, so
// "..", encoded or not, can never leave static_path.
import { createReadStream, promises as fsp, type Stats } from 'node:fs';
import { extname, join, posix } from 'node:path';
import { durationHeader, type Exchange } from '../exchange';
import type { FunctionMode, ModeDeps } from './types';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.xml': 'text/xml; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.csv': 'text/csv; charset=utf-8',
};

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export class StaticMode implements FunctionMode {
  constructor(private readonly deps: ModeDeps) {}

  async start(): Promise<{ pid?: number }> {
    return {};
  }

  async stop(): Promise<void> {}

  serve(ex: Exchange): void {
    this.deps.arm(ex, 0);
    this.serveFile(ex).catch((err) => this.plain(ex, 500, `500 Internal Server Error: ${(err as Error).message}\n`));
  }

  private plain(ex: Exchange, status: number, body: string, extra?: Record<string, string>): void {
    if (ex.res.headersSent) return void ex.res.destroy();
    ex.res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Duration-Seconds': durationHeader(ex.t0), ...extra });
    ex.res.end(ex.req.method === 'HEAD' ? undefined : body);
  }

  private redirect(ex: Exchange, location: string): void {
    this.plain(ex, 301, '', { Location: location });
  }

  private async serveFile(ex: Exchange): Promise<void> {
    const q = ex.url.indexOf('?');
    const rawPath = q === -1 ? ex.url : ex.url.slice(0, q);
    const query = q === -1 ? '' : ex.url.slice(q);
    let urlPath: string;
    try {
      urlPath = decodeURIComponent(rawPath);
    } catch {
      return this.plain(ex, 400, '400 Bad Request\n');
    }
    if (urlPath.includes('\0')) return this.plain(ex, 400, '400 Bad Request\n');
    if (!urlPath.startsWith('/')) urlPath = '/' + urlPath;
    const clean = posix.normalize(urlPath); // resolves "." and ".." against "/", never above it
    const file = join(this.deps.cfg.staticPath, clean);

    if (clean.endsWith('/index.html')) return this.redirect(ex, './' + query);
    let st: Stats;
    try {
      st = await fsp.stat(file);
    } catch {
      return this.plain(ex, 404, '404 page not found\n');
    }
    if (st.isDirectory()) {
      if (!urlPath.endsWith('/')) return this.redirect(ex, posix.basename(clean) + '/' + query);
      const index = join(file, 'index.html');
      try {
        const ist = await fsp.stat(index);
        if (ist.isFile()) return this.sendFile(ex, index, ist);
      } catch {
        /* no index: list the directory */
      }
      const names = (await fsp.readdir(file, { withFileTypes: true })).map((d) => (d.isDirectory() ? d.name + '/' : d.name)).sort();
      const body = `<!doctype html>\n<meta name="viewport" content="width=device-width">\n<pre>\n${names
        .map((n) => `<a href="${escapeHtml(encodeURI(n))}">${escapeHtml(n)}</a>`)
        .join('\n')}\n</pre>\n`;
      ex.res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'X-Duration-Seconds': durationHeader(ex.t0) });
      ex.res.end(ex.req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (urlPath.endsWith('/')) return this.redirect(ex, '../' + posix.basename(clean) + query);
    return this.sendFile(ex, file, st);
  }

  private sendFile(ex: Exchange, file: string, st: Stats): void {
    const { req, res } = ex;
    const modified = new Date(Math.floor(st.mtimeMs / 1000) * 1000);
    const since = req.headers['if-modified-since'];
    const headers: Record<string, string> = {
      'Content-Type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Last-Modified': modified.toUTCString(),
      'Accept-Ranges': 'bytes',
      'X-Duration-Seconds': durationHeader(ex.t0),
    };
    if (since !== undefined && !Number.isNaN(Date.parse(since)) && modified.getTime() <= Date.parse(since)) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    let start = 0;
    let end = st.size - 1;
    let status = 200;
    const range = req.headers.range;
    const m = range === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (m && (m[1] !== '' || m[2] !== '')) {
      if (m[1] === '') start = Math.max(0, st.size - Number(m[2]));
      else {
        start = Number(m[1]);
        if (m[2] !== '') end = Math.min(end, Number(m[2]));
      }
      if (start > end || start >= st.size) {
        res.writeHead(416, { 'Content-Range': `bytes */${st.size}`, 'X-Duration-Seconds': headers['X-Duration-Seconds'] });
        res.end();
        return;
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${st.size}`;
    }
    headers['Content-Length'] = String(st.size === 0 ? 0 : end - start + 1);
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || st.size === 0) {
      res.end();
      return;
    }
    const stream = createReadStream(file, { start, end });
    stream.on('error', () => res.destroy());
    stream.on('data', (c) => ex.scope.responseChunk(c as Buffer));
    stream.pipe(res);
  }
}
