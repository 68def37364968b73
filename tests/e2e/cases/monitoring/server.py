"""An http.server on loopback answering 3 GETs from this same process; each request's handler
runs a traced function that queries sqlite3. Prints the answers."""

import http.server
import sqlite3
import threading
import urllib.request

DB = sqlite3.connect(":memory:", check_same_thread=False)
DB.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
DB.executemany("INSERT INTO items (name) VALUES (?)", [("a",), ("b",), ("c",)])


def load_item(item_id):
    row = DB.execute("SELECT name FROM items WHERE id = ?", (item_id,)).fetchone()
    return row[0] if row else "?"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = load_item(int(self.path.rsplit("/", 1)[-1])).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    th = threading.Thread(target=srv.serve_forever, name="server")
    th.start()
    try:
        for i in (1, 2, 3):
            with urllib.request.urlopen(f"http://127.0.0.1:{srv.server_port}/items/{i}") as r:
                print(r.status, r.read().decode())
    finally:
        srv.shutdown()
        th.join()


main()
