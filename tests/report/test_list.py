#!/usr/bin/env python3
"""glass-report --list: the sessions of an output directory, newest last, with start time, run
time, size on disk and command line."""
import os
import re
import shutil
import time
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Suite  # noqa: E402


def table(out):
    lines = out.splitlines()
    return lines[0] if lines else "", lines[1:]


def copy_session(src, dst):
    """Copies a session; the session's compressor may still be turning a .raw chunk into .zst
    (a file vanishes under copytree): copy again once it has (the .zst wins over a .raw)."""
    for _ in range(50):
        try:
            shutil.copytree(src, dst, dirs_exist_ok=True)
            return
        except shutil.Error:
            time.sleep(0.1)
    shutil.copytree(src, dst, dirs_exist_ok=True)


def main():
    t = Suite()
    first = t.record("basic")
    second = t.record("oddnames")  # started later: listed after

    # GIVEN two sessions (and clutter) in one directory WHEN listed THEN both, newest last
    outdir = t.path("many")
    os.makedirs(outdir)
    for s in (second, first):  # copied newest first: the order must come from the sessions
        copy_session(s, os.path.join(outdir, os.path.basename(s)))
    os.makedirs(os.path.join(outdir, "not-a-session"))
    with open(os.path.join(outdir, "stray.txt"), "w") as f:
        f.write("x")
    p = t.report("--list", outdir, check=False)
    head, rows = table(p.stdout)
    t.check(p.returncode == 0, f"exit 0 ({p.returncode}: {p.stderr})")
    t.check(all(w in head for w in ("SESSION", "STARTED", "RUN TIME", "SIZE", "COMMAND")),
            f"a header: {head!r}")
    t.check(len(rows) == 2, f"two sessions, clutter skipped ({len(rows)} rows)")
    if len(rows) == 2:
        t.check(rows[0].startswith(os.path.basename(first)) and rows[1].startswith(os.path.basename(second)),
                "oldest first, newest last")
        t.check(rows[0].rstrip().endswith("basic.py") and rows[1].rstrip().endswith("oddnames.py"),
                "the command lines")
        t.check(re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", rows[0]) is not None, "a start time")
        m = re.search(r"\s(\d+(?:\.\d+)?)(ms|s)\s", rows[0])
        run = float(m.group(1)) * (1 if m and m.group(2) == "ms" else 1000) if m else 0
        t.check(150 <= run < 5000, f"basic's run time: ~0.2 s ({m.group(0).strip() if m else rows[0]})")
        t.check(re.search(r"\s\d+(?:\.\d)? (?:KiB|MiB|GiB)\s", rows[0]) is not None, "a size on disk")

    # $GLASS_OUT is the default, as for every command
    p = t.report("--list", check=False, env=dict(os.environ, GLASS_OUT=outdir))
    t.check(p.returncode == 0 and len(table(p.stdout)[1]) == 2, "$GLASS_OUT: the same list")

    # a damaged session is listed as unreadable, not fatal
    broken = os.path.join(outdir, "20000101-000000-1")
    os.makedirs(broken)
    with open(os.path.join(broken, "SESSION"), "w") as f:
        f.write("not a glass session\n")
    p = t.report("--list", outdir, check=False)
    head, rows = table(p.stdout)
    t.check(p.returncode == 0 and len(rows) == 3 and "unreadable" in rows[0],
            f"a damaged session: listed as unreadable ({rows[:1]})")

    empty = t.path("empty")
    os.makedirs(empty)
    p = t.report("--list", empty, check=False)
    t.check(p.returncode == 0 and not p.stdout and "no session" in p.stderr, "an empty directory: said so")
    p = t.report("--list", t.path("missing"), check=False)
    t.check(p.returncode == 2 and "glass-report:" in p.stderr, "a missing directory: exit 2")
    t.check(t.report("--list", "--help", check=False).returncode == 0, "--help: exit 0")
    t.check(t.report("--list", "a", "b", check=False).returncode == 1, "two directories: exit 1")
    t.check("--list" in t.report("--help").stdout, "glass-report --help mentions --list")
    t.done()


if __name__ == "__main__":
    main()
