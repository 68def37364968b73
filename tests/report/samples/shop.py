"""A small shop served by http.server in a thread, called by urllib in the main thread, with
SQLite behind it. Its names are hostile on purpose: a route segment with markup and a table
whose quoted name is a script tag, so every output format must escape them. Used by the html
test (its expectations follow these numbers: 4 requests, one 404, one 500)."""
import http.server
import sqlite3
import threading
import urllib.error
import urllib.parse
import urllib.request

TABLE = '"</td><script>alert(1)</script>"'
DB = sqlite3.connect(":memory:", check_same_thread=False)
DB.execute(f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, name TEXT)")
DB.executemany(f"INSERT INTO {TABLE} VALUES (?, ?)", [(1, "tea"), (2, "cake")])
LOCK = threading.Lock()


def find_item(item_id):
    with LOCK:
        return DB.execute(f"SELECT name FROM {TABLE} WHERE id = ?", (item_id,)).fetchone()


class Shop(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        parts = urllib.parse.unquote(self.path).split("/")
        code, body = 404, b"no"
        if len(parts) == 3 and parts[1] == "items":
            if parts[2] == "boom":
                code, body = 500, b"boom"
            else:
                row = find_item(int(parts[2])) if parts[2].isdigit() else None
                if row:
                    code, body = 200, row[0].encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def shop_client(port):
    out = []
    for path in ("/items/1", "/items/2", "/items/boom", "/<b>bold</b>/x"):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
                out.append(r.status)
        except urllib.error.HTTPError as e:
            out.append(e.code)
    return out


def main():
    server = http.server.HTTPServer(("127.0.0.1", 0), Shop)
    t = threading.Thread(target=server.serve_forever, name="shop-server")
    t.start()
    print(shop_client(server.server_address[1]))
    server.shutdown()
    t.join()


if __name__ == "__main__":
    main()
