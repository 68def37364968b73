"""glasstest — the library behind tests/e2e/run (stdlib only).

A case is a function `case_<name>(t)` in tests/e2e/cases/<group>/case.py. It gets a `Case`
object `t` that runs real Python programs twice, plain and under the preload, asserts that both
runs look the same (stdout, stderr, exit code), and reads the recording back with glass-report.

    def case_hello(t):
        runs = t.run_both([t.python, "main.py"])        # compares plain and traced runs
        rep = t.report(runs.traced)                      # glass-report jsonl / info / summary
        eq(rep.count("hello"), 1, "spans named hello")

When the target interpreter is one glass does not trace (3.9, 3.10, ...), the preload prints one
"glass: Python 3.X is not supported[ (...)]; tracing disabled" line: run_both allows exactly that and
`t.report()` ends the case as passed on transparency alone.
"""

import difflib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

# Versions whose frames glass knows (see README "Supported versions").
SUPPORTED_VERSIONS = {(3, 9), (3, 10), (3, 11), (3, 12), (3, 13)}

# How glass-report is called; one place to change if its command line moves.
REPORT_JSONL = ["jsonl", "-o", "{out}", "{session}"]
REPORT_INFO = ["info", "{session}"]
REPORT_SUMMARY = ["{session}"]

SESSION_RE = re.compile(r"^\d{8}-\d{6}-(\d+)$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
STATUSES = {"ok", "error", "lost", "unfinished"}
GENERATOR_KINDS = {"generator", "coroutine", "async_generator"}
SPAN_FIELDS = (
    "trace_id", "span_id", "parent_id", "pid", "tid", "kind", "name", "start_ns", "dur_ns",
    "self_ns", "status", "error", "depth", "thread",
)
FUNCTION_FIELDS = ("module", "file", "line")  # kind "function" (other kinds may come)
# Slack for comparing times of a parent and a child: both come from one clock, but ticks are
# converted to ns with per-chunk calibration samples.
TIME_SLACK_NS = 2000


class CaseFailure(Exception):
    """The case found glass doing something wrong (or not at all)."""


class CaseSkip(Exception):
    """The case cannot run here (missing tool); the reason is printed."""


class TransparencyOnly(Exception):
    """The interpreter is not traced by glass: what was checked up to here is all there is."""


def check(cond, msg):
    if not cond:
        raise CaseFailure(msg)


def eq(actual, expected, what):
    if actual != expected:
        raise CaseFailure(f"{what}: expected {expected!r}, got {actual!r}")


def _short(text, limit=1500):
    text = text if isinstance(text, str) else repr(text)
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more chars]"


def _diff(a, b, label_a, label_b, limit=40):
    lines = list(difflib.unified_diff(a.splitlines(), b.splitlines(), label_a, label_b,
                                      lineterm="", n=2))
    if len(lines) > limit:
        lines = lines[:limit] + [f"... ({len(lines) - limit} more diff lines)"]
    return "\n".join(lines)


class Target:
    """The interpreter under test, as it describes itself."""

    def __init__(self, python):
        self.python = str(python)
        probe = (
            "import json, sys, sysconfig; print(json.dumps({"
            "'version': list(sys.version_info[:3]), 'impl': sys.implementation.name, "
            "'debug': bool(sysconfig.get_config_var('Py_DEBUG')), "
            "'nogil': bool(sysconfig.get_config_var('Py_GIL_DISABLED')), "
            "'stdlib': sysconfig.get_paths()['stdlib'], 'executable': sys.executable}))"
        )
        out = subprocess.run([self.python, "-I", "-c", probe], capture_output=True, text=True,
                             timeout=60, env=clean_env())
        if out.returncode != 0:
            raise RuntimeError(f"cannot run {self.python}: {out.stderr.strip()}")
        info = json.loads(out.stdout)
        self.version = tuple(info["version"][:2])
        self.version_text = ".".join(str(v) for v in info["version"])
        self.stdlib = info["stdlib"]
        self.supported = (info["impl"] == "cpython" and self.version in SUPPORTED_VERSIONS
                          and not info["debug"] and not info["nogil"])
        self.unsupported_line = re.compile(
            r"^glass: Python %d\.%d is not supported\b[^;]*; tracing disabled$" % self.version)

    def __str__(self):
        return f"{self.python} ({self.version_text}{'' if self.supported else ', not traced'})"


def clean_env():
    """The environment both runs start from: ours, without anything that steers glass or Python."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GLASS_", "PYTHON")) and k not in ("LD_PRELOAD", "PYENV_VERSION")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["LC_ALL"] = "C.UTF-8"
    return env


class Run:
    """One finished process: exit status, output, and (traced runs) where it recorded to."""

    def __init__(self, label, argv, returncode, stdout, stderr, pid, elapsed, timed_out,
                 out_dir=None):
        self.label = label
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.pid = pid
        self.elapsed = elapsed
        self.timed_out = timed_out
        self.out_dir = out_dir
        self.session = None

    def sessions(self):
        if self.out_dir is None or not self.out_dir.is_dir():
            return []
        return sorted(p for p in self.out_dir.iterdir() if p.is_dir())

    def describe(self):
        return (f"{self.label} run: exit {self.returncode}, pid {self.pid}\n"
                f"--- stdout ---\n{_short(self.stdout)}\n--- stderr ---\n{_short(self.stderr)}")


class Pair:
    def __init__(self, plain, traced):
        self.plain = plain
        self.traced = traced


class Span(dict):
    """One JSONL span; fields also read as attributes (span.name, span.status)."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def short(self):
        err = self.get("error")
        err = f" {err.get('type')}: {err.get('message')}" if isinstance(err, dict) else ""
        gen = f" {self['generator']} resumes={self.get('resumes')}" if self.get("generator") else ""
        return (f"{self.get('name')} [{self.get('module')}] pid={self.get('pid')} "
                f"tid={self.get('tid')} depth={self.get('depth')} {self.get('status')}{err}{gen}")


class Report:
    """A session read back with glass-report: spans (JSONL), `info` text and the summary text."""

    def __init__(self, session, spans, info, summary, warnings):
        self.session = session
        self.spans = spans
        self.info = info
        self.summary = summary
        self.warnings = warnings  # glass-report's stderr, joined
        self.by_id = {s["span_id"]: s for s in spans}

    # -- lookups ------------------------------------------------------------------------------
    def functions(self):
        return [s for s in self.spans if s.get("kind") == "function"]

    def named(self, name, module=None):
        return [s for s in self.functions()
                if s["name"] == name and (module is None or s["module"] == module)]

    def one(self, name, module=None):
        found = self.named(name, module)
        if len(found) != 1:
            raise CaseFailure(f"expected exactly one span {name!r}, found {len(found)}\n"
                              + self.listing())
        return found[0]

    def count(self, name, module=None):
        return len(self.named(name, module))

    def names(self):
        return Counter(s["name"] for s in self.functions())

    def parent(self, span):
        pid = span.get("parent_id")
        return self.by_id.get(pid) if pid else None

    def parent_name(self, span):
        p = self.parent(span)
        return p["name"] if p else None

    def children(self, span):
        return [s for s in self.spans if s.get("parent_id") == span["span_id"]]

    def chain(self, span):
        """Names from the root down to span."""
        out = []
        while span is not None:
            out.append(span["name"])
            span = self.parent(span)
        return out[::-1]

    def pids(self):
        return {s["pid"] for s in self.spans}

    def expect_names(self, expected, what="span counts"):
        """Exact counts for the given names (other names are not looked at)."""
        have = self.names()
        wrong = {n: (c, have.get(n, 0)) for n, c in expected.items() if have.get(n, 0) != c}
        if wrong:
            lines = [f"  {n}: expected {c}, got {g}" for n, (c, g) in sorted(wrong.items())]
            raise CaseFailure(f"{what}:\n" + "\n".join(lines) + "\n" + self.listing())

    def expect_parent(self, name, parent_name, what=None):
        """Every span `name` has a parent span named parent_name (None: a root)."""
        spans = self.named(name)
        check(spans, f"no span named {name!r}\n" + self.listing())
        for s in spans:
            got = self.parent_name(s)
            if got != parent_name:
                raise CaseFailure(f"{what or name}: parent of {name!r} is {got!r}, expected "
                                  f"{parent_name!r} (chain {' > '.join(self.chain(s))})")

    def listing(self, limit=25):
        """Span counts by name and thread, then the first spans: for failure messages."""
        by = Counter((s.get("name"), s.get("pid"), s.get("thread")) for s in self.spans)
        lines = [f"  {n:6d} x {name} (pid {pid}, thread {thread})"
                 for (name, pid, thread), n in sorted(by.items(), key=lambda kv: str(kv[0]))]
        if len(lines) > 40:
            lines = lines[:40] + [f"  ... {len(by) - 40} more names"]
        lines.append("first spans:")
        lines += [f"  {s.short()}" for s in self.spans[:limit]]
        if len(self.spans) > limit:
            lines.append(f"  ... {len(self.spans) - limit} more spans")
        return f"{len(self.spans)} spans in {self.session}:\n" + "\n".join(lines)


def validate_spans(spans):
    """Checks that hold for every recording: field types, ids, links, times."""
    problems = []
    seen = set()
    for i, s in enumerate(spans):
        where = f"span #{i + 1} ({s.get('name')!r})"
        fields = SPAN_FIELDS + (FUNCTION_FIELDS if s.get("kind") == "function" else ())
        missing = [f for f in fields if f not in s]
        if missing:
            problems.append(f"{where}: missing fields {missing}")
            continue
        if not isinstance(s["trace_id"], str) or not HEX32.match(s["trace_id"]):
            problems.append(f"{where}: trace_id {s['trace_id']!r} is not 32 hex digits")
        if not isinstance(s["span_id"], str) or not HEX16.match(s["span_id"]):
            problems.append(f"{where}: span_id {s['span_id']!r} is not 16 hex digits")
        elif s["span_id"] in seen:
            problems.append(f"{where}: duplicate span_id {s['span_id']}")
        seen.add(s["span_id"])
        if s["parent_id"] is not None and (not isinstance(s["parent_id"], str)
                                           or not HEX16.match(s["parent_id"])):
            problems.append(f"{where}: parent_id {s['parent_id']!r} is neither null nor 16 hex")
        for f in ("pid", "tid", "line", "start_ns", "dur_ns", "self_ns", "depth"):
            if f in fields and (not isinstance(s[f], int) or isinstance(s[f], bool) or s[f] < 0):
                problems.append(f"{where}: {f} {s[f]!r} is not a non-negative integer")
        for f in ("kind", "name", "module", "file"):
            if f in fields and not isinstance(s[f], str):
                problems.append(f"{where}: {f} {s[f]!r} is not a string")
        if s["thread"] is not None and not isinstance(s["thread"], str):
            problems.append(f"{where}: thread {s['thread']!r} is neither null nor a string")
        if s["status"] not in STATUSES:
            problems.append(f"{where}: status {s['status']!r} not in {sorted(STATUSES)}")
        err = s["error"]
        if s["status"] == "error":
            # message null: the exception's first argument is not a str (SystemExit(0),
            # KeyError()); glass never calls str() on it (docs/report.md, jsonl)
            if not (isinstance(err, dict) and isinstance(err.get("type"), str)
                    and isinstance(err.get("message"), (str, type(None)))):
                problems.append(f"{where}: status error needs error {{type, message}}, "
                                f"got {err!r}")
        elif s["status"] == "ok" and err is not None:
            problems.append(f"{where}: status ok with error {err!r}")
        if all(isinstance(s[f], int) for f in ("dur_ns", "self_ns")) and s["self_ns"] > s["dur_ns"]:
            problems.append(f"{where}: self_ns {s['self_ns']} > dur_ns {s['dur_ns']}")
        if "generator" in s and s["generator"] is not None:
            if s["generator"] not in GENERATOR_KINDS:
                problems.append(f"{where}: generator {s['generator']!r} not in "
                                f"{sorted(GENERATOR_KINDS)}")
            for f in ("resumes", "suspended_ns"):
                if not isinstance(s.get(f), int) or s[f] < 0:
                    problems.append(f"{where}: {f} {s.get(f)!r} is not a non-negative integer")
        if len(problems) > 20:
            break
    by_id = {s.get("span_id"): s for s in spans}
    for s in spans:
        if len(problems) > 20:
            break
        pid = s.get("parent_id")
        if not pid:
            continue
        p = by_id.get(pid)
        if p is None:
            problems.append(f"span {s.get('name')!r}: parent_id {pid} names no span")
            continue
        if p.get("trace_id") != s.get("trace_id"):
            problems.append(f"span {s.get('name')!r}: trace_id differs from its parent "
                            f"{p.get('name')!r}")
        # A plain call made by a plain call on the same thread runs inside it.
        if (s.get("tid") == p.get("tid") and s.get("pid") == p.get("pid")
                and not s.get("generator") and not p.get("generator")
                and s.get("status") in ("ok", "error") and p.get("status") in ("ok", "error")):
            if s["start_ns"] + TIME_SLACK_NS < p["start_ns"] or (
                    s["start_ns"] + s["dur_ns"] > p["start_ns"] + p["dur_ns"] + TIME_SLACK_NS):
                problems.append(f"span {s['name']!r} [{s['start_ns']}, +{s['dur_ns']}] is not "
                                f"inside its parent {p['name']!r} [{p['start_ns']}, "
                                f"+{p['dur_ns']}]")
            if s["depth"] != p["depth"] + 1:
                problems.append(f"span {s['name']!r}: depth {s['depth']} but its parent "
                                f"{p['name']!r} has depth {p['depth']}")
    if problems:
        raise CaseFailure("invalid spans:\n  " + "\n  ".join(problems[:20]))


class Case:
    """What a case function gets: the target, a fresh work directory, and ways to run things."""

    def __init__(self, name, group_dir, target, build, tmp_root, timeout_scale=1.0):
        self.name = name
        self.group_dir = Path(group_dir)
        self.target = target
        self.python = target.python
        self.build = Path(build)
        self.preload = self.build / "preload" / "libglass.so"
        self.glass_report = self.build / "tools" / "glass-report"
        self.tmp = Path(tempfile.mkdtemp(prefix=re.sub(r"\W", "_", name) + ".", dir=tmp_root))
        self.workdir = self.tmp / "work"
        shutil.copytree(self.group_dir, self.workdir,
                        ignore=shutil.ignore_patterns("case.py", "__pycache__"))
        self.timeout_scale = timeout_scale
        self.notes = []
        self.reports = []  # (session, spans read): for recheck_reports()
        self._nout = 0

    # -- running -----------------------------------------------------------------------------
    def new_out_dir(self):
        self._nout += 1
        return self.tmp / f"glass-out-{self._nout}"

    def _env(self, env, traced, out_dir, glass_env):
        e = clean_env()
        if env:
            e.update(env)
        if traced:
            # GLASS_TEST_PRELOAD_FIRST: libraries to load before ours (the ASan/UBSan runtimes
            # of a sanitizer build, scripts/test --sanitize)
            first = os.environ.get("GLASS_TEST_PRELOAD_FIRST", "")
            e["LD_PRELOAD"] = (first + " " if first else "") + str(self.preload)
            if first:
                e["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "detect_leaks=0")
            e["GLASS_OUT"] = str(out_dir)
            if glass_env:
                e.update(glass_env)
        return e

    def run(self, argv, *, traced, cwd=None, env=None, glass_env=None, stdin=None, timeout=60,
            kill_after_ready=None, out_dir=None):
        """Runs argv once and waits. kill_after_ready=(line, seconds): SIGKILL the process that
        many seconds after it printed that line on stdout."""
        argv = [str(a) for a in argv]
        label = "traced" if traced else "plain"
        if traced and out_dir is None:
            out_dir = self.new_out_dir()
        e = self._env(env, traced, out_dir, glass_env)
        timeout *= self.timeout_scale
        start = time.monotonic()
        proc = subprocess.Popen(argv, cwd=str(cwd or self.workdir), env=e,
                                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        timed_out = threading.Event()

        def on_timeout():
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, on_timeout)
        timer.start()
        try:
            if kill_after_ready:
                out, err = self._kill_after_ready(proc, stdin, *kill_after_ready)
            else:
                out, err = proc.communicate(stdin.encode() if isinstance(stdin, str) else stdin)
        finally:
            timer.cancel()
        run = Run(label, argv, proc.returncode, out.decode("utf-8", "replace"),
                  err.decode("utf-8", "replace"), proc.pid, time.monotonic() - start,
                  timed_out.is_set(), out_dir if traced else None)
        if run.timed_out:
            raise CaseFailure(f"{label} run of {' '.join(argv)} timed out after {timeout:.0f}s\n"
                              + run.describe())
        return run

    @staticmethod
    def _kill_after_ready(proc, stdin, ready_line, delay):
        if stdin is not None:
            proc.stdin.write(stdin.encode() if isinstance(stdin, str) else stdin)
            proc.stdin.close()
        err_chunks = []
        reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)
        reader.start()
        out = b""
        while True:
            line = proc.stdout.readline()
            out += line
            if not line or line.decode("utf-8", "replace").rstrip("\n") == ready_line:
                break
        if line:
            time.sleep(delay)
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        out += proc.stdout.read()
        proc.wait()
        reader.join()
        return out, b"".join(err_chunks)

    def run_both(self, argv, *, cwd=None, env=None, glass_env=None, stdin=None, timeout=60,
                 kill_after_ready=None, glass_stderr=None, expect_session=True):
        """Runs argv plain, then under the preload, and asserts both runs look the same.

        glass_stderr: regexes of the "glass: " lines the traced run must print (default: none),
        one line each, in order; all other stderr must equal the plain run's. On an interpreter
        glass does not trace, the one "not supported" line is expected instead, unless
        glass_stderr is "none" (GLASS_DISABLE, not a Python: no glass line at all).
        expect_session: True, the traced run must leave exactly one session directory, named
        after its pid; False, none at all; None, not looked at.
        """
        kw = dict(cwd=cwd, env=env, stdin=stdin, timeout=timeout,
                  kill_after_ready=kill_after_ready)
        plain = self.run(argv, traced=False, **kw)
        traced = self.run(argv, traced=True, glass_env=glass_env, **kw)
        problems = []
        if plain.returncode != traced.returncode:
            problems.append(f"exit status differs: plain {plain.returncode}, "
                            f"traced {traced.returncode}")
        if plain.stdout != traced.stdout:
            problems.append("stdout differs:\n" + _diff(plain.stdout, traced.stdout,
                                                        "plain", "traced"))
        if glass_stderr == "none":
            expected_glass = []
        elif not self.target.supported:
            expected_glass = [self.target.unsupported_line]
        else:
            expected_glass = [re.compile(r) if isinstance(r, str) else r
                              for r in (glass_stderr or [])]
        err_lines = traced.stderr.splitlines(keepends=True)
        glass_lines = [ln.rstrip("\n") for ln in err_lines if ln.startswith("glass: ")]
        rest = "".join(ln for ln in err_lines if not ln.startswith("glass: "))
        if not self.target.supported and glass_stderr != "none":
            # Every Python process started prints the line once; children may add more.
            ok = glass_lines and all(self.target.unsupported_line.match(g) for g in glass_lines)
            if not ok:
                problems.append(f"expected only {self.target.unsupported_line.pattern!r} "
                                f"lines from glass, got {glass_lines!r}")
        elif len(glass_lines) != len(expected_glass) or not all(
                r.search(g) for r, g in zip(expected_glass, glass_lines)):
            want = [r.pattern for r in expected_glass]
            problems.append(f"glass's stderr lines: expected {len(want)} matching {want!r}, "
                            f"got {glass_lines!r}")
        if rest != plain.stderr:
            problems.append("stderr differs (not counting 'glass: ' lines):\n"
                            + _diff(plain.stderr, rest, "plain", "traced"))
        if problems:
            raise CaseFailure("\n".join(problems) + "\n" + plain.describe() + "\n"
                              + traced.describe())
        if not self.target.supported and glass_stderr != "none":
            note = f"transparency only: Python {self.target.version_text} is not traced"
            if note not in self.notes:
                self.notes.append(note)
        if expect_session is not None:
            self._check_sessions(traced, expect_session and self.target.supported)
        return Pair(plain, traced)

    def _check_sessions(self, traced, expect):
        sessions = traced.sessions()
        if not expect:
            check(not sessions, f"expected no recording, found {[str(s) for s in sessions]}")
            return
        if not sessions:
            raise CaseFailure(f"no session recorded in {traced.out_dir} "
                              f"(GLASS_OUT of the traced run)\n" + traced.describe())
        check(len(sessions) == 1, f"expected one session, found {[s.name for s in sessions]}")
        m = SESSION_RE.match(sessions[0].name)
        check(m, f"session directory {sessions[0].name!r} is not named YYYYmmdd-HHMMSS-<pid>")
        eq(int(m.group(1)), traced.pid, f"pid in the session name {sessions[0].name}")
        traced.session = sessions[0]

    def run_traced(self, argv, **kw):
        """One run under the preload (no plain twin); its session, if any, is found."""
        run = self.run(argv, traced=True, **kw)
        sessions = run.sessions()
        run.session = sessions[0] if len(sessions) == 1 else None
        return run

    # -- reading back ------------------------------------------------------------------------
    def glass_report_cmd(self, template, **fmt):
        return [str(self.glass_report)] + [a.format(**fmt) for a in template]

    def report(self, run, *, validate=True, allow_warnings=True):
        """Reads run's session with glass-report (jsonl, info, summary). On an interpreter glass
        does not trace this ends the case: transparency was all there was to check."""
        if not self.target.supported:
            raise TransparencyOnly(f"Python {self.target.version_text} is not traced by glass")
        if run.session is None:
            raise CaseFailure("no session recorded\n" + run.describe())
        check(self.glass_report.exists(), f"{self.glass_report} is not built")
        out = self.tmp / f"spans-{run.session.name}.jsonl"
        warnings = []
        texts = {}
        for what, template in (("jsonl", REPORT_JSONL), ("info", REPORT_INFO),
                               ("summary", REPORT_SUMMARY)):
            cmd = self.glass_report_cmd(template, out=out, session=run.session)
            try:
                res = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                                     timeout=120 * self.timeout_scale, env=clean_env())
            except subprocess.TimeoutExpired:
                raise CaseFailure(f"{' '.join(cmd)} timed out") from None
            if res.returncode != 0:
                raise CaseFailure(f"{' '.join(cmd)} exited {res.returncode}\n"
                                  f"--- stderr ---\n{_short(res.stderr)}")
            texts[what] = res.stdout
            if res.stderr.strip():
                warnings.append(f"[{what}] {res.stderr.strip()}")
        if not allow_warnings and warnings:
            raise CaseFailure("glass-report warned:\n" + "\n".join(warnings))
        check(out.exists(), f"glass-report jsonl did not write {out}")
        spans = []
        with open(out, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError as e:
                    raise CaseFailure(f"{out}:{n}: not JSON ({e}): {_short(line, 200)}") from None
                check(isinstance(obj, dict), f"{out}:{n}: not a JSON object")
                spans.append(Span(obj))
        self.reports.append((run.session, len(spans)))
        if validate:
            validate_spans(spans)
        return Report(run.session, spans, texts["info"], texts["summary"], "\n".join(warnings))

    def recheck_reports(self):
        """After a failure: reads each session again; a different span count means the first
        read raced something still writing the session (a diagnosis, not a retry)."""
        out = []
        for session, n in self.reports:
            dest = self.tmp / f"recheck-{session.name}.jsonl"
            cmd = self.glass_report_cmd(REPORT_JSONL, out=dest, session=session)
            try:
                subprocess.run(cmd, capture_output=True, timeout=120, env=clean_env())
                again = sum(1 for line in open(dest) if line.strip())
            except (OSError, subprocess.TimeoutExpired):
                continue
            if again != n:
                out.append(f"note: glass-report read {n} spans from {session.name} right after "
                           f"the run, {again} when read again later")
        return out

    # -- misc ----------------------------------------------------------------------------------
    def skip(self, reason):
        raise CaseSkip(reason)

    def note(self, text):
        """A remark printed after PASS (e.g. what was not checked)."""
        self.notes.append(text)

    def source_line(self, filename, needle):
        """1-based number of the first line of workdir/filename containing needle."""
        for n, line in enumerate((self.workdir / filename).read_text().splitlines(), 1):
            if needle in line:
                return n
        raise CaseFailure(f"{needle!r} not in {filename} (broken case)")


def expect_error(span, type_name, message, what=None):
    """span ended with an exception of type type_name (bare or module-qualified) and message."""
    what = what or f"span {span.get('name')!r}"
    err = span.get("error")
    check(span.get("status") == "error" and isinstance(err, dict),
          f"{what}: expected status error with {type_name}, got {span.get('status')!r} "
          f"error={err!r}")
    t = err.get("type") or ""
    check(t == type_name or t.endswith("." + type_name),
          f"{what}: error type {t!r}, expected {type_name!r}")
    eq(err.get("message"), message, f"{what}: error message")


def expect_ok(span, what=None):
    what = what or f"span {span.get('name')!r}"
    check(span.get("status") == "ok" and span.get("error") is None,
          f"{what}: expected status ok without error, got {span.get('status')!r} "
          f"error={span.get('error')!r}")
