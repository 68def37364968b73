"""Secrets and access: the recording is the user's alone (directories 0700, files 0600), glass
follows no symlink an attacker could plant below a world-writable directory, and opens no
socket nor reads network input of its own."""

import contextlib
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from glasstest import check, eq

NOBODY = 65534  # the attacker's uid in the cases that need one (they run as root)


def as_attacker(t, script):
    """Runs a shell script as uid/gid 65534 (root only; setpriv from util-linux)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        t.skip("needs root and setpriv to act as another user")
    res = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                          "sh", "-ec", script], capture_output=True, text=True, timeout=30)
    check(res.returncode == 0, f"attacker's script failed: {res.stderr}")


@contextlib.contextmanager
def world_writable(t):
    """A sticky world-writable directory (like /tmp) the attacker can reach: below /tmp, as
    the harness's own temp directories are 0700."""
    base = Path(tempfile.mkdtemp(prefix="glass-e2e-ww."))
    try:
        base.chmod(0o755)
        ww = base / "ww"
        ww.mkdir()
        ww.chmod(0o1777)
        yield ww
    finally:
        shutil.rmtree(base, ignore_errors=True)


def listing(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def wait_compressor(session, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(int((session / "compressor.pid").read_text().strip() or 0), 0)
        except (OSError, ValueError):
            return
        time.sleep(0.05)


def case_permissions(t):
    # GIVEN a permissive umask (000), GLASS_OUT two levels below a missing directory, a
    # registry in our own XDG_RUNTIME_DIR, and a program with a thread, a fork and a subprocess
    xdg = t.tmp / "xdg"
    xdg.mkdir(mode=0o700)
    out = t.tmp / "new" / "glass-out"
    runs = t.run_both(["sh", "-c", 'umask 000; exec "$0" family.py', t.python],
                      env={"XDG_RUNTIME_DIR": str(xdg)}, glass_env={"GLASS_OUT": str(out)},
                      expect_session=None)
    eq(runs.plain.stdout, "family 2 5\n", "program output")
    if not t.target.supported:
        return
    sessions = [p for p in out.iterdir()]
    eq(len(sessions), 1, f"sessions in {out}")
    session = sessions[0]
    wait_compressor(session)
    # THEN what glass created is the user's alone: directories 0700, files 0600
    created = [t.tmp / "new", out] + list(session.parent.rglob("*"))
    reg = xdg / "glass"
    check(reg.is_dir(), f"no registry directory {reg}")
    created.append(reg)
    bad = []
    for p in created:
        st = p.lstat()
        if stat.S_ISLNK(st.st_mode):
            continue  # registry links: their mode means nothing, their directory is 0700
        want = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
        if stat.S_IMODE(st.st_mode) != want or st.st_uid != os.geteuid():
            bad.append(f"{p} {oct(stat.S_IMODE(st.st_mode))} uid {st.st_uid}")
    check(not bad, "modes other than 0700/0600:\n  " + "\n  ".join(bad))
    # AND the recording holds the three processes (so the files checked are the real ones)
    runs.traced.session = session
    eq(len(t.report(runs.traced).pids()), 3, "processes recorded")


def case_planted_symlink_at_glass_out(t):
    # GIVEN GLASS_OUT in a world-writable directory, where an attacker planted a symlink of
    # that name to a directory of theirs
    with world_writable(t) as ww:
        planted_symlink_at_glass_out(t, ww)


def planted_symlink_at_glass_out(t, ww):
    refuses_planted_symlink(t, ww, f"mkdir -m 777 {ww}/mine; ln -s mine {ww}/glass-out",
                            ww / "glass-out")


def refuses_planted_symlink(t, ww, plant, out):
    """The attacker runs `plant` (a symlink to a directory of theirs on GLASS_OUT's path):
    glass refuses the output directory in one line, the program runs on, and nothing lands
    in the attacker's directory, where they could rename and replace it."""
    as_attacker(t, plant)
    runs = t.run_both([t.python, "family.py"], glass_env={"GLASS_OUT": str(out)},
                      glass_stderr=[r"^glass: cannot use output directory .*glass-out"],
                      expect_session=False)
    eq(runs.plain.stdout, "family 2 5\n", "program output")
    eq(listing(ww / "mine"), [], "files in the attacker's directory")


def case_planted_symlink_above_glass_out(t):
    # GIVEN GLASS_OUT=<world-writable>/data/glass-out, where an attacker planted "data" as a
    # symlink to a directory of theirs
    with world_writable(t) as ww:
        planted_symlink_above_glass_out(t, ww)


def planted_symlink_above_glass_out(t, ww):
    refuses_planted_symlink(t, ww, f"mkdir -m 777 {ww}/mine; ln -s mine {ww}/data",
                            ww / "data" / "glass-out")


def case_planted_directory_at_glass_out(t):
    # GIVEN GLASS_OUT in a world-writable directory, where an attacker created a directory of
    # that name (theirs, mode 0777) before the program ran. (Non-root users get "cannot use
    # output directory"; root records into it.) The program records, waits while the attacker
    # renames the session directory away and puts a symlink to a directory of theirs in its
    # place, then forks a child that records.
    with world_writable(t) as ww:
        planted_directory_at_glass_out(t, ww)


def planted_directory_at_glass_out(t, ww):
    as_attacker(t, f"mkdir -m 777 {ww}/glass-out {ww}/glass-out/mine")
    out = ww / "glass-out"
    go = t.tmp / "go"
    go.touch()  # the plain run goes straight on
    plain = t.run([t.python, "fork_later.py", str(go)], traced=False)
    go.unlink()
    eq(plain.stdout, "parent 2\nchild done\n", "program output")

    def attacker():
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            sessions = [p for p in out.iterdir() if p.name != "mine"] if out.is_dir() else []
            # once the parent's own process directory is there: only the child is redirected
            if sessions and any(sessions[0].glob("p*/meta")):
                s = sessions[0].name
                as_attacker(t, f"cd {out}; mv {s} {s}.moved; ln -s mine {s}")
                break
            time.sleep(0.01)
        go.touch()

    if not t.target.supported:
        go.touch()  # no session to attack: transparency alone
    th = threading.Thread(target=attacker if t.target.supported else lambda: None)
    th.start()
    traced = t.run([t.python, "fork_later.py", str(go)], traced=True,
                   glass_env={"GLASS_OUT": str(out)})
    th.join()
    eq((traced.returncode, traced.stdout), (plain.returncode, plain.stdout),
       "exit status and output under glass")
    if not t.target.supported:
        return
    # THEN glass either refused the directory, or nothing of the recording follows the
    # attacker's symlink into their directory
    eq(listing(out / "mine"), [], "files in the attacker's directory (the forked child's "
                                  "recording followed the planted symlink)")


def case_no_sockets(t):
    # GIVEN a traced program that looks at its own descriptors, and at its glass-compress
    # helper's, while it runs
    runs = t.run_both([t.python, "sockets.py"])
    # THEN neither holds a socket (none listening, none at all)
    eq(runs.plain.stdout, "sockets of this process 0\nsockets of glass-compress 0\n",
       "program output")
    if t.target.supported:
        helpers = int((t.workdir / "helpers.txt").read_text())
        check(helpers <= 1, f"{helpers} glass-compress processes for one session")
        if not helpers:
            t.note("glass-compress had already exited: only the host was looked at")
        t.report(runs.traced).expect_names({"work": 10000})


def network_calls(t, traced):
    """The socket system calls of one run of net.py, under strace."""
    log = t.tmp / f"strace-{'traced' if traced else 'plain'}.log"
    run = t.run(["strace", "-f", "-qq", "-o", str(log), "-e",
                 "trace=socket,connect,accept,accept4,bind,listen,recvfrom,recvmsg,recvmmsg,"
                 "sendto,sendmsg,sendmmsg", t.python, "net.py"], traced=traced)
    eq(run.stdout, "HTTP/1.1 200 OK True\n", "program output")
    calls = []
    for line in log.read_text().splitlines():
        m = re.match(r"^\d+\s+(\w+)\(", line)
        if m:
            calls.append(m.group(1))
    return calls, run


def case_no_network_input_of_its_own(t):
    # GIVEN an HTTP exchange over loopback, run under strace plain and traced (the capture on)
    if not shutil.which("strace"):
        t.skip("strace is not installed")
    plain, _ = network_calls(t, False)
    traced, run = network_calls(t, True)
    # THEN glass makes no socket call of its own: no socket, bind, listen, no extra receive
    eq(sorted(traced), sorted(plain), "socket system calls under glass")
    check(plain.count("recvfrom") >= 2, f"strace saw too little: {plain}")
