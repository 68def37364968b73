"""Real servers for the wire tests, started on 127.0.0.1 with free ports and stopped by PID.

Each start_* returns a Server with .port and .stop(). gunicorn, the werkzeug server and uvicorn
run under the preload when given an env with LD_PRELOAD; Redis and CongoDB never do.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.join(HERE, "apps")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


class Server:
    def __init__(self, proc, port, log, stop_signal=signal.SIGINT):
        self.proc, self.port, self.log, self.stop_signal = proc, port, log, stop_signal

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def output(self):
        with open(self.log, errors="replace") as f:
            return f.read()


def _spawn(argv, env, log, cwd=APPS):
    f = open(log, "w")
    return subprocess.Popen(argv, env=env, cwd=cwd, stdout=f, stderr=subprocess.STDOUT,
                            start_new_session=True)


def start_gunicorn(env, log, workers=2, app="flask_app:app", extra=()):
    port = free_port()
    proc = _spawn(["/usr/bin/gunicorn", "--workers", str(workers), "--worker-class", "sync",
                   "--bind", f"127.0.0.1:{port}", "--chdir", APPS, *extra, app], env, log)
    wait_port(port, proc)
    return Server(proc, port, log)


def start_werkzeug(env, log):
    port = free_port()
    proc = _spawn(["/usr/bin/python3", os.path.join(APPS, "flask_app.py"), str(port)], env, log)
    wait_port(port, proc)
    return Server(proc, port, log)


def start_uvicorn(env, log):
    port = free_port()
    proc = _spawn(["/usr/bin/python3", "-m", "uvicorn", "--host", "127.0.0.1", "--port",
                   str(port), "--app-dir", APPS, "--no-access-log", "fastapi_app:app"], env, log)
    wait_port(port, proc)
    return Server(proc, port, log)


def start_redis(tmp, log):
    port = free_port()
    proc = _spawn(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", tmp,
                   "--save", "", "--appendonly", "no"], dict(os.environ), log, cwd=tmp)
    wait_port(port, proc)
    return Server(proc, port, log, signal.SIGTERM)


def congodb_dir(cache):
    """CongoDB unpacked under cache (npm install + npm pack once); None if npm fails."""
    d = os.path.join(cache, "congodb")
    if os.path.exists(os.path.join(d, "smartmongo", "package", "dist_ts", "congodb", "index.js")) \
            and os.path.isdir(os.path.join(d, "node_modules", "bson")):
        return d
    os.makedirs(d, exist_ok=True)
    for name in ("package.json", "serve.mjs"):
        shutil.copy(os.path.join(HERE, "congodb", name), d)
    npm = shutil.which("npm")
    if not npm:
        return None
    q = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=d, timeout=300)
    if subprocess.run([npm, "install", "--no-audit", "--no-fund"], **q).returncode:
        return None
    if subprocess.run([npm, "pack", "@push.rocks/smartmongo@2.2.0"], **q).returncode:
        return None
    os.makedirs(os.path.join(d, "smartmongo"), exist_ok=True)
    subprocess.run(["tar", "-xzf", "push.rocks-smartmongo-2.2.0.tgz", "-C", "smartmongo"], **q)
    return d if os.path.exists(os.path.join(d, "smartmongo", "package")) else None


def start_congodb(cache, log):
    d = congodb_dir(cache)
    if not d:
        return None
    f = open(log, "w")
    proc = subprocess.Popen(["node", "serve.mjs"], cwd=d, stdout=subprocess.PIPE, stderr=f,
                            text=True, start_new_session=True)
    line = proc.stdout.readline()
    port = json.loads(line)["port"]
    wait_port(port, proc)
    return Server(proc, port, log, signal.SIGTERM)


def get(port, path, headers=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
