"""A threaded HTTPS server from the stdlib (http.server + ssl) for the TLS tests.

    https_server.py CERT KEY [UPSTREAM]

Prints its port. GET /users/N answers 200 (404 for 99), /boom 500, /health 200; the body is
JSON with the path and the traceparent header it received. /call/PATH calls UPSTREAM+PATH
(another service) with urllib and answers what it said. Every request's raw head is appended
to $TLS_HEADS (when set), for the tests to compare bytes sent and received.
"""
import http.server
import json
import os
import ssl
import sys
import urllib.request


def lookup(path):
    return 404 if "99" in path else 500 if "boom" in path else 200


def call_upstream(url, cafile):
    ctx = ssl.create_default_context(cafile=cafile) if url.startswith("https") else None
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Tee:
    """The request stream, keeping every byte read from it (the exact head received)."""

    def __init__(self, f):
        self.f, self.seen = f, b""

    def readline(self, *a):
        line = self.f.readline(*a)
        self.seen += line
        return line

    def read(self, *a):
        data = self.f.read(*a)
        self.seen += data
        return data

    def __getattr__(self, name):
        return getattr(self.f, name)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.rfile = Tee(self.rfile)

    def do_GET(self):
        heads = os.environ.get("TLS_HEADS")
        if heads:
            with open(heads, "ab") as f:
                f.write(self.rfile.seen + b"\0")
        self.rfile.seen = b""
        if self.path.startswith("/call/") and len(sys.argv) > 3:
            code, body = call_upstream(sys.argv[3] + self.path[5:], sys.argv[1])
        else:
            code = lookup(self.path)
            body = json.dumps({"path": self.path, "traceparent": self.headers.get("traceparent")}).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if sys.argv[1] != "-":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[1], sys.argv[2])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
