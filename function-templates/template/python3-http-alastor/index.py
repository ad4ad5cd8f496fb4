"""Entry point of the python3-http-alastor template (fprocess "python3 index.py", fwatchdog in
http mode): an HTTP server on http_port (default 5000) that calls function.handler.handle(event,
context). Standard library only, so the image needs nothing from PyPI for the template itself."""
import json
import os
import socket
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from function import handler


class Event:
    def __init__(self, method, path, query, headers, body):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body


class Context:
    def __init__(self):
        self.hostname = os.getenv("HOSTNAME", socket.gethostname())


def to_response(result):
    """(status, headers, body bytes) from what the handler returned."""
    if isinstance(result, dict) and ("statusCode" in result or "body" in result):
        status = int(result.get("statusCode", 200))
        headers = dict(result.get("headers") or {})
        body = result.get("body", b"")
    else:
        status, headers, body = 200, {}, result
    if body is None:
        body = b""
    elif isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    return status, headers, body


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: fwatchdog reuses its connection to the upstream

    def setup(self):
        super().setup()
        # Headers and body leave in separate writes: without TCP_NODELAY, Nagle's algorithm and
        # the peer's delayed ACK hold the body back ~40 ms on every keep-alive response.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        url = urlsplit(self.path)
        query = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(url.query).items()}
        event = Event(self.command, url.path, query, {k: v for k, v in self.headers.items()}, body)
        try:
            status, headers, payload = to_response(handler.handle(event, Context()))
        except Exception as e:  # the function's error becomes a 500 with its message
            traceback.print_exc()
            status, headers, payload = 500, {"Content-Type": "text/plain"}, str(e).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, str(v))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any

    def log_message(self, fmt, *args):  # fwatchdog logs requests; keep stderr for the function
        pass


def main():
    port = int(os.getenv("http_port", "5000"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print(f"python3-http-alastor: listening on 127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
