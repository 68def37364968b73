"""Shared by tests/report/test_*.py: options, checks, and recordings of real programs.

    from common import Suite
    t = Suite()                     # parses --build/--python
    session = t.record("web_app")   # runs samples/web_app.py under the preload, returns the session
    out = t.report("sqlite", session, "-o", path)   # runs build/tools/glass-report
    t.check(cond, "what was checked")
    t.done()                        # prints "N passed, N failed, N skipped" and exits

Recordings are cached per (sample, env) in one temp dir for the whole test program.
"""
import argparse
import atexit
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SAMPLES = os.path.join(HERE, "samples")


class Suite:
    def __init__(self):
        ap = argparse.ArgumentParser()
        ap.add_argument("--build", default=os.path.join(ROOT, "build"))
        ap.add_argument("--python", default="/usr/bin/python3")
        self.args = ap.parse_args()
        self.build = os.path.abspath(self.args.build)
        self.python = self.args.python
        self.tmp = tempfile.mkdtemp(prefix="glass-report-test.")
        atexit.register(shutil.rmtree, self.tmp, True)
        self.passed = self.failed = self.skipped = 0
        self._cache = {}

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def record(self, sample, env=None, args=(), policy=None):
        """Runs samples/<sample>.py under libglass.so; returns the session directory."""
        key = (sample, tuple(sorted((env or {}).items())), tuple(args), policy)
        if key in self._cache:
            return self._cache[key]
        out = self.path(f"out-{len(self._cache)}")
        e = dict(os.environ, LD_PRELOAD=os.path.join(self.build, "preload", "libglass.so"),
                 GLASS_OUT=out, **(env or {}))
        if policy:
            e["GLASS_POLICY"] = policy
        p = subprocess.run([self.python, os.path.join(SAMPLES, sample + ".py"), *args],
                           env=e, cwd=SAMPLES, capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise RuntimeError(f"{sample} exited {p.returncode}: {p.stderr[-2000:]}")
        session = os.path.join(out, sorted(os.listdir(out))[-1])
        self._cache[key] = session
        return session

    def synthetic(self, name, events, threads=3, procs=2):
        """A gen-synthetic session (random call trees, generators, exceptions) under the
        scratch directory; None (and a SKIP line) when gen-synthetic fails."""
        out = self.path(name)
        p = subprocess.run([os.path.join(self.build, "tools", "gen-synthetic"), out,
                            "--events", str(events), "--threads", str(threads),
                            "--procs", str(procs)], capture_output=True, text=True)
        if p.returncode != 0:
            self.skip(f"gen-synthetic failed: {p.stderr[-200:]}")
            return None
        return os.path.join(out, sorted(os.listdir(out))[-1])

    def report(self, *argv, check=True, **kw):
        """Runs glass-report with argv; returns the CompletedProcess (text)."""
        p = subprocess.run([os.path.join(self.build, "tools", "glass-report"), *argv],
                           capture_output=True, text=True, timeout=600, **kw)
        if check and p.returncode != 0:
            raise RuntimeError(f"glass-report {' '.join(argv)} exited {p.returncode}: "
                               f"{p.stderr[-2000:]}")
        return p

    def check(self, ok, what):
        print(("PASS " if ok else "FAIL ") + what, flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return ok

    def skip(self, what):
        print("SKIP " + what, flush=True)
        self.skipped += 1

    def done(self):
        print(f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped")
        sys.exit(1 if self.failed else 0)
