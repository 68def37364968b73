"""A tiny web service and its client in one process: three requests to a local http.server
(one with a W3C traceparent, one answered 500), then a few SQLite statements, one failing. Used by the
otlp and metrics tests for captured operations (their expectations follow these numbers)."""
import http.server
import sqlite3
import threading
import urllib.error
import urllib.request

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/fail"):
            self.send_response(500)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"no")
            return
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="server")
    thread.start()
    port = server.server_address[1]
    for path in ("/users/1", "/users/2", "/fail"):
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
        if path == "/users/2":
            req.add_header("traceparent", TRACEPARENT)
        try:
            urllib.request.urlopen(req, timeout=30).read()
        except urllib.error.HTTPError:
            pass
    db = sqlite3.connect(":memory:")
    db.execute("create table t(x)")
    db.execute("insert into t values (1)")
    db.execute("select * from t").fetchall()
    try:
        db.execute("select * from missing")
    except sqlite3.OperationalError:
        pass
    db.close()
    server.shutdown()
    thread.join()


if __name__ == "__main__":
    main()
