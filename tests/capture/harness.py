"""Shared by tests/capture/test_*.py: options, checks, programs run plain and under the
preload, the spans of a session, and the raw bytes of a session.

    from harness import Suite
    t = Suite()                                  # parses --build/--python
    run = t.run("sqlite_app.py", "arg")          # plain, then under libglass.so
    t.same_output(run)                           # the host noticed nothing
    spans = t.spans(run.session)                 # glass-report jsonl, parsed
    t.check(cond, "what was checked")
    t.done()                                     # prints "N passed, N failed, N skipped"
"""
import argparse
import atexit
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROGRAMS = os.path.join(HERE, "programs")


class Run:
    def __init__(self, plain, traced, session):
        self.plain, self.traced, self.session = plain, traced, session


class Suite:
    def __init__(self):
        ap = argparse.ArgumentParser()
        ap.add_argument("--build", default=os.path.join(ROOT, "build"))
        ap.add_argument("--python", default="/usr/bin/python3")
        self.args = ap.parse_args()
        self.build = os.path.abspath(self.args.build)
        self.python = self.args.python
        self.preload = os.path.join(self.build, "preload", "libglass.so")
        self.tmp = tempfile.mkdtemp(prefix="glass-capture-test.")
        os.chmod(self.tmp, 0o755)  # servers run as their own users below it
        atexit.register(shutil.rmtree, self.tmp, True)
        self.passed = self.failed = self.skipped = 0
        self.nruns = 0

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def policy(self, obj):
        """Writes a policy file; returns its path."""
        self.nruns += 1
        p = self.path(f"policy-{self.nruns}.json")
        with open(p, "w") as f:
            json.dump(obj, f)
        return p

    def env(self, out=None, policy=None, extra=None):
        e = dict(os.environ, GLASS_LOG="quiet", **(extra or {}))
        for k in ("LD_PRELOAD", "GLASS_OUT", "GLASS_POLICY"):
            e.pop(k, None)
        if out:
            e.update(LD_PRELOAD=self.preload, GLASS_OUT=out)
        if policy:
            e["GLASS_POLICY"] = policy
        return e

    def run(self, program, *args, policy=None, plain=True, env=None, timeout=300, prepare=None):
        """Runs programs/<program> plain (unless plain=False) and under the preload, each after
        prepare() when given (to reset a database); returns a Run with both CompletedProcesses
        and the session directory of the traced run."""
        argv = [self.python, os.path.join(PROGRAMS, program), *args]
        p = None
        if plain:
            if prepare:
                prepare()
            p = subprocess.run(argv, env=self.env(extra=env), capture_output=True, text=True,
                               timeout=timeout, cwd=self.tmp)
        if prepare:
            prepare()
        self.nruns += 1
        out = self.path(f"out-{self.nruns}")
        q = subprocess.run(argv, env=self.env(out, policy, env), capture_output=True, text=True,
                           timeout=timeout, cwd=self.tmp)
        sessions = sorted(glob.glob(os.path.join(out, "2*")))
        return Run(p, q, sessions[-1] if sessions else None)

    def same_output(self, run, what):
        p, q = run.plain, run.traced
        ok = (p.stdout, p.stderr, p.returncode) == (q.stdout, q.stderr, q.returncode)
        if not ok:
            print(f"--- plain (exit {p.returncode})\n{p.stdout}{p.stderr}\n"
                  f"--- traced (exit {q.returncode})\n{q.stdout}{q.stderr}")
        return self.check(ok, f"{what}: same stdout, stderr and exit code under the preload")

    def report(self, *argv):
        p = subprocess.run([os.path.join(self.build, "tools", "glass-report"), *argv],
                           capture_output=True, text=True, timeout=600)
        if p.returncode:
            raise RuntimeError(f"glass-report {' '.join(argv)} exited {p.returncode}: "
                               f"{p.stderr[-2000:]}")
        return p.stdout

    def spans(self, session):
        if not session:
            return []
        return [json.loads(line) for line in self.report("jsonl", session).splitlines()
                if line.strip()]

    def db_spans(self, session):
        return [s for s in self.spans(session) if s["kind"] == "db"]

    @staticmethod
    def session_bytes(session):
        """Every file of the session, .zst chunks decompressed."""
        import zstandard  # python3-zstandard
        out = []
        for p in sorted(glob.glob(os.path.join(session, "**"), recursive=True)):
            if not os.path.isfile(p):
                continue
            with open(p, "rb") as f:
                data = f.read()
            if p.endswith(".zst"):
                data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
            out.append(data)
        return b"".join(out)

    def check(self, ok, what):
        print(("PASS " if ok else "FAIL ") + what, flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return ok

    def equal(self, got, want, what):
        ok = got == want
        if not ok:
            print(f"--- want\n{json.dumps(want, indent=1)}\n--- got\n{json.dumps(got, indent=1)}")
        return self.check(ok, what)

    def skip(self, what):
        print("SKIP " + what, flush=True)
        self.skipped += 1

    def done(self):
        print(f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped")
        sys.exit(1 if self.failed else 0)


def brief(span):
    """What a DB span says, compactly: [name, statement, returned, affected, status, error]."""
    a = span.get("attributes", {})
    err = None
    if span["status"] == "error":
        err = [a.get("error.type"), a.get("error.message")]
    return [span["name"], a.get("db.statement"), a.get("db.response.returned_rows"),
            a.get("db.response.affected_rows"), span["status"], err]


def parents(spans, subset=None):
    """[(db span name, name of its parent span)] of the db spans of subset (default: all)."""
    by = {s["span_id"]: s for s in spans}
    return [(s["name"], by[s["parent_id"]]["name"] if s.get("parent_id") in by else None)
            for s in (subset if subset is not None else spans) if s["kind"] == "db"]
