#!/usr/bin/python3
"""metrics while the session runs (issue 14): the real Prometheus server scrapes
`metrics --serve` on a gunicorn/Flask service under load; `metrics --format spectatord --follow`
sends lines to a UDP listener (spectatord's protocol). Both end with the numbers of the
recording (summary's request count)."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import Suite  # noqa: E402
from test_metrics import SPEC  # noqa: E402
from test_top import Load, service  # noqa: E402
import servers  # noqa: E402  (test_top put tests/wire on the path)


def summary_requests(t, out):
    s = t.report("summary", out).stdout
    m = re.search(r"^GET /users/\{id\}\s+(\d+)\s", s, re.M)
    return int(m.group(1)) if m else -1


def prom_query(port, q):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": q})
    with urllib.request.urlopen(url, timeout=5) as r:
        d = json.load(r)
    return [(x["metric"], float(x["value"][1])) for x in d["data"]["result"]]


def main():
    t = Suite()
    report = os.path.join(t.build, "tools", "glass-report")

    # ---- Prometheus scrapes --serve -------------------------------------------------------------
    if not shutil.which("prometheus"):
        t.skip("metrics --serve with Prometheus: prometheus not installed (Debian package prometheus)")
    else:
        srv, out = service(t, "serve")
        load = Load(srv.port)
        mport, pport = servers.free_port(), servers.free_port()
        serve = subprocess.Popen([report, "metrics", "--serve", f"127.0.0.1:{mport}", out,
                                  "--linger", "6"], stderr=subprocess.PIPE, text=True)
        pdir = tempfile.mkdtemp(dir=t.tmp)
        cfg = os.path.join(pdir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                    "scrape_configs: [{job_name: g, scrape_interval: 1s, scrape_timeout: 1s, "
                    f"static_configs: [{{targets: ['127.0.0.1:{mport}']}}]}}]\n")
        prom = subprocess.Popen(["prometheus", f"--config.file={cfg}",
                                 f"--storage.tsdb.path={pdir}/data",
                                 f"--web.listen-address=127.0.0.1:{pport}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            live, up = [], []
            end = time.monotonic() + 40
            while time.monotonic() < end:
                try:
                    up = prom_query(pport, 'up{job="g"}')
                    live = prom_query(pport, "glass_http_server_requests_total")
                except OSError:
                    pass
                if live and live[0][1] > 0 and up and up[0][1] == 1:
                    break
                time.sleep(0.5)
            t.check(up and up[0][1] == 1, f"Prometheus scrapes --serve (up = {up})")
            t.check(live and live[0][1] > 0 and live[0][0].get("route") == "/users/{id}",
                    f"requests counted while the service runs: {live}")
            h = prom_query(pport, "histogram_quantile(0.99, glass_http_server_request_duration_seconds_bucket)")
            t.check(h and 0 < h[0][1] < 30, f"PromQL computes p99 from the buckets: {h}")
            load.stop()
            srv.stop()
            want = summary_requests(t, out)
            final = []
            end = time.monotonic() + 20
            while time.monotonic() < end:
                final = prom_query(pport, "glass_http_server_requests_total")
                if final and final[0][1] == want:
                    break
                time.sleep(0.5)
            t.check(final and final[0][1] == want == load.n,
                    f"the last scrape has every request: {final and final[0][1]} (summary {want}, client {load.n})")
            g = prom_query(pport, "glass_process_resident_memory_bytes")
            t.check(len(g) == 3 and all(v > 1e6 for _, v in g), f"process gauges scraped: {len(g)}")
            try:
                rc = serve.wait(20)
            except subprocess.TimeoutExpired:
                rc = "still running"
            t.check(rc == 0, f"--serve exits after every process ended and --linger ({rc})")
        finally:
            if not load.stopped:
                load.stop()
            srv.stop()
            for p in (serve, prom):
                if p.poll() is None:
                    p.terminate()
                    try:
                        p.wait(10)
                    except subprocess.TimeoutExpired:
                        p.kill()

    # ---- spectatord lines over UDP --------------------------------------------------------------
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    uport = sock.getsockname()[1]
    got = []  # (arrival, datagram)

    def listen():
        sock.settimeout(0.5)
        while not done.is_set():
            try:
                got.append((time.monotonic(), sock.recv(65536).decode()))
            except socket.timeout:
                pass

    done = threading.Event()
    th = threading.Thread(target=listen)
    th.start()
    srv, out = service(t, "spec")
    load = Load(srv.port)
    fol = subprocess.Popen([report, "metrics", "--format", "spectatord", "--follow", out,
                            "--endpoint", f"udp://127.0.0.1:{uport}"], stderr=subprocess.PIPE,
                           text=True)
    try:
        time.sleep(2.5)
        mid = len(got)
        load.stop()
        srv.stop()
        rc = fol.wait(30)
        err = fol.stderr.read()
    finally:
        if fol.poll() is None:
            fol.kill()
        if not load.stopped:
            load.stop()
        srv.stop()
        time.sleep(0.5)
        done.set()
        th.join()
    t.check(mid > 0, f"datagrams arrive while the service runs ({mid})")
    t.check(rc == 0, f"--follow exits 0 once every process ended ({rc}) {err.strip()[-200:]}")
    lines = [ln for _, d in got for ln in d.split("\n") if ln]
    bad = [ln for ln in lines if not SPEC.match(ln)]
    t.check(lines and not bad, f"every line is spectatord's protocol ({len(lines)} lines; bad {bad[:3]})")
    t.check(all(len(d.encode()) <= 1400 for _, d in got), "datagrams hold at most 1400 bytes")
    want = summary_requests(t, out)
    reqs = sum(int(m.group(4)) for m in map(SPEC.match, lines)
               if m and m.group(1) == "c" and m.group(2) == "glass.http.server.requests"
               and ",route=_users__id_" in m.group(3) and ",status=200" in m.group(3))
    timers = sum(1 for m in map(SPEC.match, lines)
                 if m and m.group(1) == "T" and m.group(2) == "glass.http.server.requestDuration")
    t.check(reqs == want == timers == load.n,
            f"one counter increment and one timer line per request ({reqs}, {timers}; summary {want}, client {load.n})")
    t.check(any(ln.startswith("g:glass.process.rss,") for ln in lines), "process gauges sent")
    t.done()


if __name__ == "__main__":
    main()
