"""Real database servers for tests/capture, each in a temp dir on 127.0.0.1 with a free port,
stopped by PID (docs in ../../README.md; facts in the project's notes on test servers).

    with Postgres(tmp) as pg: pg.port, pg.dsn        # PostgreSQL 15, user postgres, db app
    with MariaDB(tmp) as my: my.port, my.socket       # MariaDB, user app (password app), db app

Both raise Unavailable when the server's binaries are not installed (the test then skips).
"""
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time


class Unavailable(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1].split()[0] == "Z"  # a zombie is as good as gone
    except OSError:
        return True


def _wait_gone(pid, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if _gone(pid):
            return True
        time.sleep(0.05)
    return False


def _chown_tree(path, user):
    pw = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        for n in [root] + [os.path.join(root, x) for x in dirs + files]:
            os.chown(n, pw.pw_uid, pw.pw_gid)
    p = path
    while p not in ("/", ""):  # the server user must be able to reach the dir
        mode = os.stat(p).st_mode
        if mode & 0o011 != 0o011:
            os.chmod(p, mode | 0o011)
        p = os.path.dirname(p)


class Postgres:
    def __init__(self, tmp):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise Unavailable("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = os.path.dirname(bins[-1])
        self.dir = os.path.join(tmp, "pg")
        self.port = free_port()
        self.pid = None

    def _as_postgres(self, *argv, **kw):
        cmd = list(argv)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        return subprocess.run(cmd, capture_output=True, text=True, **kw)

    def __enter__(self):
        os.makedirs(self.dir)
        if os.geteuid() == 0:
            _chown_tree(self.dir, "postgres")
        data = os.path.join(self.dir, "data")
        p = self._as_postgres(os.path.join(self.bin, "initdb"), "-D", data, "-U", "postgres",
                              "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        if p.returncode:
            raise RuntimeError("initdb failed: " + p.stderr[-2000:])
        p = self._as_postgres(
            os.path.join(self.bin, "pg_ctl"), "-D", data, "-l",
            os.path.join(self.dir, "server.log"), "-w", "-t", "30", "-o",
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off "
            "-c synchronous_commit=off", "start")
        if p.returncode:
            raise RuntimeError("pg_ctl start failed: " + p.stderr[-2000:] + p.stdout[-2000:])
        with open(os.path.join(data, "postmaster.pid")) as f:
            self.pid = int(f.readline())
        p = self._as_postgres(os.path.join(self.bin, "createdb"), "-h", "127.0.0.1", "-p",
                              str(self.port), "-U", "postgres", "app")
        if p.returncode:
            self.__exit__(None, None, None)
            raise RuntimeError("createdb failed: " + p.stderr[-2000:])
        self.dsn = f"host=127.0.0.1 port={self.port} dbname=app user=postgres"
        return self

    def __exit__(self, *exc):
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            _wait_gone(self.pid)
            self.pid = None


class MariaDB:
    def __init__(self, tmp):
        if not shutil.which("mariadbd") and not os.path.exists("/usr/sbin/mariadbd"):
            raise Unavailable("MariaDB is not installed (apt-get install mariadb-server)")
        self.dir = os.path.join(tmp, "my")
        self.port = free_port()
        self.socket = os.path.join(self.dir, "s")
        self.proc = None

    def __enter__(self):
        os.makedirs(self.dir)
        data = os.path.join(self.dir, "data")
        if os.geteuid() == 0:
            _chown_tree(self.dir, "mysql")
        p = subprocess.run(["mariadb-install-db", "--no-defaults", "--user=mysql",
                            f"--datadir={data}", "--skip-test-db", "--auth-root-authentication-method=normal"],
                           capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError("mariadb-install-db failed: " + p.stderr[-2000:])
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen(
            ["/usr/sbin/mariadbd", "--no-defaults", "--user=mysql", f"--datadir={data}",
             f"--socket={self.socket}", f"--port={self.port}", "--bind-address=127.0.0.1",
             "--skip-name-resolve", "--skip-log-bin", "--innodb-buffer-pool-size=16M"],
            stdout=self.log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("mariadbd exited: " + open(self.log.name).read()[-2000:])
            p = subprocess.run(["mariadb", "--no-defaults", "-uroot", f"--socket={self.socket}",
                                "-e", "CREATE DATABASE IF NOT EXISTS app; "
                                "CREATE USER IF NOT EXISTS 'app'@'127.0.0.1' IDENTIFIED BY 'app'; "
                                "GRANT ALL ON app.* TO 'app'@'127.0.0.1'"],
                               capture_output=True, text=True)
            if p.returncode == 0:
                return self
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError("mariadbd did not come up: " + open(self.log.name).read()[-2000:])

    def __exit__(self, *exc):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self.log.close()
