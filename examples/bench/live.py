#!/usr/bin/python3
"""examples/bench/live.py — the costs of issue 14's live side, measured in one run.

    examples/bench/live.py [--build DIR] [--seconds 10] [--rounds 3] [--spans-events 2000000]

1. The resource sampler: glass-compress's CPU time over --seconds with 8 idle traced processes
   (it samples each every 100 ms), per process, as a share of one core.
2. `glass-report top` on a gunicorn/Flask service (2 workers) under wrk -t2 -c16: top's CPU
   time as a share of one core, its peak RSS, and the service's requests/s with and without top
   in alternating rounds (medians).
3. `otlp --follow` on a finished synthetic session (gen-synthetic): spans sent per second of the
   follower's CPU time (a local receiver takes the requests; its own speed is not counted).
Prints one line per figure.
"""
import argparse
import http.server
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "wire"))
import servers  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def sampler(build, seconds, tmp):
    out = os.path.join(tmp, "sampler")
    prog = ("import os,time\nkids=[]\nfor i in range(7):\n  p=os.fork()\n  if p==0:\n"
            f"    time.sleep({seconds + 3}); os._exit(0)\n  kids.append(p)\n"
            f"time.sleep({seconds + 3})\nfor k in kids: os.waitpid(k,0)\n")
    env = dict(os.environ, LD_PRELOAD=os.path.join(build, "preload", "libglass.so"), GLASS_OUT=out)
    p = subprocess.Popen(["/usr/bin/python3", "-c", prog], env=env)
    time.sleep(1.5)
    session = os.path.join(out, sorted(os.listdir(out))[-1])
    cpid = int(open(os.path.join(session, "compressor.pid")).read())
    c0, t0 = cpu_s(cpid), time.monotonic()
    time.sleep(seconds)
    c1, t1 = cpu_s(cpid), time.monotonic()
    p.wait()
    share = (c1 - c0) / (t1 - t0) / 8
    print(f"sampler: glass-compress {c1 - c0:.2f} s CPU over {t1 - t0:.1f} s for 8 processes: "
          f"{100 * share:.3f}% of one core per traced process (target <= 0.2%)")


def web_round(build, tmp, seconds, with_top, k):
    d = os.path.join(tmp, f"web{k}")
    os.makedirs(d)
    db = os.path.join(d, "wire.db")
    subprocess.run(["/usr/bin/python3", "-c", "import flask_app; flask_app.init_db()"],
                   cwd=servers.APPS, env=dict(os.environ, WIRE_DB=db), check=True)
    out = os.path.join(d, "out")
    env = dict(os.environ, LD_PRELOAD=os.path.join(build, "preload", "libglass.so"), GLASS_OUT=out,
               WIRE_DB=db)
    srv = servers.start_gunicorn(env, os.path.join(d, "g.log"), workers=2)
    top = None
    sock = os.path.join(d, "tmux.sock")
    try:
        if with_top:
            subprocess.run(["tmux", "-S", sock, "new-session", "-d", "-x", "160", "-y", "50",
                            f"exec {build}/tools/glass-report top --interval 1 {out}"], check=True)
            time.sleep(1)
            top = int(subprocess.run(["tmux", "-S", sock, "list-panes", "-F", "#{pane_pid}"],
                                     capture_output=True, text=True).stdout.split()[0])
            c0 = cpu_s(top)
        t0 = time.monotonic()
        p = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s",
                            f"http://127.0.0.1:{srv.port}/users/1"], capture_output=True, text=True)
        t1 = time.monotonic()
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", p.stdout).group(1))
        res = {"rps": rps}
        if top:
            res["top_cpu"] = (cpu_s(top) - c0) / (t1 - t0)
            res["top_rss_kb"] = int(re.search(r"VmHWM:\s+(\d+)", open(f"/proc/{top}/status").read()).group(1))
        return res
    finally:
        srv.stop()
        if with_top:
            subprocess.run(["tmux", "-S", sock, "kill-server"], capture_output=True)


def top_cost(build, seconds, rounds, tmp):
    plain, with_top = [], []
    for k in range(rounds):
        plain.append(web_round(build, tmp, seconds, False, f"p{k}"))
        with_top.append(web_round(build, tmp, seconds, True, f"t{k}"))
    rp = statistics.median(r["rps"] for r in plain)
    rt = statistics.median(r["rps"] for r in with_top)
    cpu = statistics.median(r["top_cpu"] for r in with_top)
    rss = max(r["top_rss_kb"] for r in with_top)
    print(f"top: {100 * cpu:.2f}% of one core (target <= 2%), peak RSS {rss / 1024:.1f} MiB; "
          f"service {rt:.0f} req/s with top vs {rp:.0f} without (ratio {rt / rp:.3f}; "
          f"rounds: {[round(r['rps']) for r in plain]} / {[round(r['rps']) for r in with_top]})")


def follow_speed(build, events, tmp):
    out = os.path.join(tmp, "syn")
    subprocess.run([os.path.join(build, "tools", "gen-synthetic"), out, "--events", str(events),
                    "--threads", "4", "--procs", "2"], check=True, capture_output=True)
    session = os.path.join(out, sorted(os.listdir(out))[-1])

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "CPU %U %S", os.path.join(build, "tools", "glass-report"),
                        "otlp", "--follow", session, "--endpoint",
                        f"http://127.0.0.1:{srv.server_address[1]}", "--position",
                        os.path.join(tmp, "pos"), "--batch", "4096"], capture_output=True, text=True)
    wall = time.monotonic() - t0
    srv.shutdown()
    spans = int(re.search(r"(\d+) spans sent", p.stderr).group(1))
    u, s = map(float, re.search(r"CPU ([\d.]+) ([\d.]+)", p.stderr).groups())
    print(f"otlp --follow: {spans} spans, {u + s:.1f} s CPU: {spans / (u + s):,.0f} spans per "
          f"CPU-second (target >= 100,000/s); wall {wall:.1f} s with a Python receiver")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--spans-events", type=int, default=2_000_000)
    ap.add_argument("--only", default="sampler,top,follow")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    tmp = tempfile.mkdtemp(prefix="glass-bench-live.")
    try:
        if "sampler" in args.only:
            sampler(build, args.seconds, tmp)
        if "top" in args.only and shutil.which("wrk") and shutil.which("tmux"):
            top_cost(build, args.seconds, args.rounds, tmp)
        if "follow" in args.only:
            follow_speed(build, args.spans_events, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
