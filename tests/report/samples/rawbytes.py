"""Bytes that are not UTF-8 where text is expected: a request line sent raw to a local
http.server (path and header with \\xff, a cut UTF-8 sequence), a thread named with a lone
surrogate escape, an exception message with odd characters. Reports must stay valid."""
import http.server
import socket
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def broken():
    raise RuntimeError("bad \udcff byte, tab\t, nul \x00 end")


def main():
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, name="srv-\udcff")
    t.start()
    with socket.create_connection(server.server_address, timeout=30) as s:
        s.sendall(b"GET /caf\xc3/\xff\xfe?q=\xe2\x82 HTTP/1.1\r\nHost: x\xff\r\nConnection: close\r\n\r\n")
        while s.recv(4096):
            pass
    try:
        broken()
    except RuntimeError:
        pass
    server.shutdown()
    t.join()


if __name__ == "__main__":
    main()
