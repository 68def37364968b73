"""Crashes in C code (ctypes): the host dies exactly as it would without glass, and what was
recorded up to the crash reads back. Uncaught exceptions in threads."""

import os
import re

from glasstest import check, eq, expect_error


def sanitizer_env():
    """Under the sanitizer runtimes (scripts/test --sanitize) ASan would catch the program's own
    SIGSEGV and exit 1: let the signal through, as without them."""
    if not os.environ.get("GLASS_TEST_PRELOAD_FIRST"):
        return None
    return {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "detect_leaks=0") + ":handle_segv=0"}


def crashed(t, kind, where, signal_number, extra=None):
    argv = [t.python] + (extra or []) + ["crash.py", kind, where]
    runs = t.run_both(argv, glass_env=sanitizer_env())
    # THEN the exit status is the same signal, the output the same (run_both compared them)
    eq(runs.plain.returncode, -signal_number, "exit status")
    eq(runs.plain.stdout, "before 45000\n", "program output")
    # AND the recording reads, with every call finished before the crash
    rep = t.report(runs.traced)
    works = [s for s in rep.named("work") if s.thread == "MainThread"]
    eq(len(works), 1000, "work spans of the main thread")
    check(all(s.status == "ok" for s in works), "a work call before the crash is not ok")
    # AND the calls the crash interrupted are unfinished, not lost or invented
    eq(rep.one("crash").status, "unfinished", "status of crash")
    eq(rep.one("main").status, "unfinished", "status of main")
    if where == "main":
        eq(rep.one("die").status, "unfinished", "status of die")
    return rep


def case_segfault(t):
    # GIVEN a program that reads address 0 through ctypes after 1000 calls
    crashed(t, "segv", "main", 11)


def case_abort(t):
    # GIVEN a program that calls libc's abort() through ctypes
    crashed(t, "abort", "main", 6)


def case_segfault_in_a_thread(t):
    # GIVEN three threads recording in a loop while a fourth one segfaults
    rep = crashed(t, "segv", "thread", 11)
    # THEN the crashing thread's call is unfinished, and the others' calls are there
    eq(rep.one("die").status, "unfinished", "status of die")
    eq(rep.one("die").thread, "crasher", "thread of die")
    for i in range(3):
        spun = [s for s in rep.named("work") if s.thread == f"spin-{i}"]
        check(len(spun) >= 20, f"{len(spun)} work spans on spin-{i}, expected >= 20")
        check(all(s.status in ("ok", "unfinished") for s in spun),
              f"statuses of spin-{i}'s work calls")


def case_abort_in_a_thread(t):
    rep = crashed(t, "abort", "thread", 6)
    eq(rep.one("die").thread, "crasher", "thread of die")


def case_segfault_with_faulthandler(t):
    # GIVEN -X faulthandler: Python prints the crashing thread's Python stack on stderr
    argv = [t.python, "-X", "faulthandler", "crash.py", "segv", "main"]
    plain = t.run(argv, traced=False)
    traced = t.run(argv, traced=True, glass_env=sanitizer_env())
    eq(plain.returncode, -11, "exit status")
    eq(traced.returncode, -11, "exit status under glass")
    eq(traced.stdout, plain.stdout, "stdout under glass")
    # THEN the stack faulthandler prints is the same, frame by frame (thread addresses aside)
    norm = lambda s: re.sub(r"0x[0-9a-f]+", "0x?", s)  # noqa: E731
    check("Fatal Python error: Segmentation fault" in plain.stderr, "faulthandler output")
    check(re.search(r"line \d+ in crash", plain.stderr), "crash() in faulthandler's stack")
    lines = traced.stderr.splitlines(keepends=True)
    glass = [ln.rstrip("\n") for ln in lines if ln.startswith("glass: ")]
    if t.target.supported:
        eq(glass, [], "glass's lines on stderr")
    else:
        check(len(glass) == 1 and t.target.unsupported_line.match(glass[0]),
              f"expected the one 'not supported' line, got {glass!r}")
    rest = "".join(ln for ln in lines if not ln.startswith("glass: "))
    eq(norm(rest), norm(plain.stderr), "faulthandler's report under glass")
    traced.session = traced.sessions()[0] if len(traced.sessions()) == 1 else None
    rep = t.report(traced)
    eq(rep.one("die").status, "unfinished", "status of die")


def case_exceptions_in_threads(t):
    # GIVEN three threads whose function raises an exception nobody catches
    runs = t.run_both([t.python, "thread_exc.py"])
    eq(runs.plain.returncode, 0, "exit status")
    eq(runs.plain.stdout, "main goes on\n", "program output")
    eq(runs.plain.stderr.count("Boom: thread"), 3, "tracebacks printed by threading.excepthook")
    # THEN each thread's calls end in error, with its own message, on its own thread
    rep = t.report(runs.traced)
    rep.expect_names({"main": 1, "worker": 3, "fail": 3})
    for s in rep.named("fail"):
        i = int(s.thread[1:])
        expect_error(s, "Boom", f"thread {i} failed")
        expect_error(rep.parent(s), "Boom", f"thread {i} failed", "worker")
    eq(rep.one("main").status, "ok", "status of main")
