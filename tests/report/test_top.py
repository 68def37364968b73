#!/usr/bin/python3
"""glass-report top (issue 14): a live view of a gunicorn/Flask service being recorded.

--once frames while requests run and after the service stopped (numbers equal to summary's),
then the interactive view in a real terminal (tmux): keys sort and quit, the terminal is
restored, and top exits by itself once every process has ended."""
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "wire"))
from common import Suite  # noqa: E402
import servers  # noqa: E402


class Load:
    """Two client threads requesting /users/1 and /users/2 until stopped."""

    def __init__(self, port):
        self.port, self.n, self.stopped = port, 0, False
        self.threads = [threading.Thread(target=self.run) for _ in range(2)]
        for t in self.threads:
            t.start()

    def run(self):
        while not self.stopped:
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}/users/{self.n % 2 + 1}").read()
            self.n += 1

    def stop(self):
        self.stopped = True
        for t in self.threads:
            t.join()


def endpoint_row(text):
    m = re.search(r"^GET /users/\{id\}\s+([\d.]+)\s+\S+\s+\S+\s+(\d+)\s+\|\s+(\d+)\s", text, re.M)
    return (float(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def service(t, name):
    tmp = t.path(name)
    os.makedirs(tmp)
    db = os.path.join(tmp, "wire.db")
    subprocess.run(["/usr/bin/python3", "-c", "import flask_app; flask_app.init_db()"],
                   cwd=servers.APPS, env=dict(os.environ, WIRE_DB=db), check=True)
    out = os.path.join(tmp, "out")
    env = dict(os.environ, LD_PRELOAD=os.path.join(t.build, "preload", "libglass.so"),
               GLASS_OUT=out, WIRE_DB=db)
    return servers.start_gunicorn(env, os.path.join(tmp, "g.log"), workers=2), out


def main():
    t = Suite()
    report = os.path.join(t.build, "tools", "glass-report")

    # GIVEN a gunicorn service with 2 workers, recorded, under load
    srv, out = service(t, "once")
    load = Load(srv.port)
    time.sleep(3)
    # WHEN top prints one frame while it runs
    p = subprocess.run([report, "top", "--once", out], capture_output=True, text=True, timeout=60)
    t.check(p.returncode == 0, f"top --once exits 0 ({p.returncode}) {p.stderr[-300:]}")
    live = p.stdout
    row = endpoint_row(live)
    t.check(row is not None and row[2] > 50 and row[0] > 5,
            f"the endpoint with requests/s over the last 10 s and requests since start: {row}")
    procs = re.findall(r"^p\d+\.\d+\s+running\s+([\d.]+)%\s+([\d.]+) MiB", live, re.M)
    t.check(len(procs) == 3, f"three processes running, each with CPU% and RSS: {procs}")
    t.check(any(float(c) > 1 for c, _ in procs), "the workers use CPU")
    t.check("flask_app.get_user" in live, "the handler is among the slowest functions")
    t.check(re.search(r"^sqlite: SELECT id, name FROM users WHERE id = \?", live, re.M) is not None,
            "the statement is listed")
    t.check("every process has ended" not in live, "not ended while it runs")
    load.stop()
    srv.stop()
    # THEN once it stopped, the frame says so and counts what summary counts
    p = subprocess.run([report, "top", "--once", out], capture_output=True, text=True, timeout=60)
    done = p.stdout
    t.check("Every process of the session has ended." in done, "the final frame says every process ended")
    row = endpoint_row(done)
    s = subprocess.run([report, "summary", out], capture_output=True, text=True).stdout
    m = re.search(r"^GET /users/\{id\}\s+(\d+)\s", s, re.M)
    t.check(row and m and row[2] == int(m.group(1)) >= load.n,
            f"requests since start as in summary ({row and row[2]} / {m and m.group(1)}; client {load.n})")
    m2 = re.search(r"^flask_app\.get_user\s+(\d+)\s", done, re.M)
    t.check(m2 and int(m2.group(1)) == row[2], "handler calls equal requests")

    # the interactive view in a terminal
    if not shutil.which("tmux"):
        t.skip("interactive top: tmux not installed (Debian package tmux)")
        t.done()
    srv, out = service(t, "tty")
    load = Load(srv.port)
    sock = t.path("tmux.sock")
    tm = ["tmux", "-S", sock]
    marker = t.path("exit-status")
    subprocess.run(tm + ["new-session", "-d", "-x", "160", "-y", "50",
                         f"stty -a > {t.path('stty-before')}; {report} top --interval 0.5 {out}; "
                         f"echo $? > {marker}; stty -a > {t.path('stty-after')}; sleep 30"],
                   check=True)

    def screen():
        return subprocess.run(tm + ["capture-pane", "-p"], capture_output=True, text=True).stdout

    def wait_for(pred, secs=15):
        end = time.monotonic() + secs
        while time.monotonic() < end:
            sc = screen()
            if pred(sc):
                return sc
            time.sleep(0.2)
        return screen()

    try:
        sc = wait_for(lambda s: "GET /users/{id}" in s)
        t.check("GET /users/{id}" in sc and "sort: requests" in sc, "the terminal shows the live view")
        r1 = endpoint_row(sc)
        time.sleep(1.5)
        r2 = endpoint_row(screen())
        t.check(r1 and r2 and r2[2] > r1[2], f"it is redrawn with new requests ({r1} -> {r2})")
        subprocess.run(tm + ["send-keys", "p"], check=True)
        sc = wait_for(lambda s: "sort: p99" in s, 5)
        t.check("sort: p99" in sc, "key p sorts by p99")
        subprocess.run(tm + ["send-keys", "t"], check=True)
        t.check("sort: total" in wait_for(lambda s: "sort: total" in s, 5), "key t sorts by total time")
        subprocess.run(tm + ["send-keys", "q"], check=True)
        end = time.monotonic() + 10
        while not os.path.exists(marker) and time.monotonic() < end:
            time.sleep(0.1)
        t.check(os.path.exists(marker) and open(marker).read().strip() == "0", "key q quits, status 0")
        time.sleep(0.3)
        before = open(t.path("stty-before")).read() if os.path.exists(t.path("stty-before")) else "?"
        after = open(t.path("stty-after")).read() if os.path.exists(t.path("stty-after")) else ""
        t.check(before == after and " icanon" in after and " echo" in after,
                "the terminal modes are restored (canonical, echo)")
        # a second top, left running: it ends by itself when the service stops
        os.unlink(marker)
        subprocess.run(tm + ["respawn-pane", "-k",
                             f"{report} top --interval 0.3 {out}; echo $? > {marker}; sleep 30"],
                       check=True)
        wait_for(lambda s: "GET /users/{id}" in s)
        load.stop()
        srv.stop()
        end = time.monotonic() + 20
        while not os.path.exists(marker) and time.monotonic() < end:
            time.sleep(0.1)
        sc = screen()
        t.check(os.path.exists(marker) and "Every process of the session has ended." in sc,
                "top exits by itself once every process has ended, saying so")
    finally:
        if not load.stopped:
            load.stop()
        srv.stop()
        subprocess.run(tm + ["kill-server"], capture_output=True)
    t.done()


if __name__ == "__main__":
    main()
