"""One HTTP request to a local http.server, answered 200: the smallest web recording. The
process lives a little longer than the request, so that the session helper samples its CPU
and memory (every 100 ms) at least once."""
import http.server
import threading
import time
import urllib.request


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
th = threading.Thread(target=srv.handle_request)
th.start()
print(urllib.request.urlopen(f"http://127.0.0.1:{srv.server_address[1]}/hello").read().decode())
th.join()
srv.server_close()
time.sleep(0.4)
