"""A logging call in an HTTP handler glass does not trace: the event goes to the request span."""
import http.server, logging, threading, urllib.request, sys
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
log = logging.getLogger("web")
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        log.warning("serving %s", self.path)
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
t = threading.Thread(target=srv.serve_forever); t.start()
print(urllib.request.urlopen(f"http://127.0.0.1:{srv.server_port}/users/1").read())
srv.shutdown(); t.join()
