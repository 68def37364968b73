"""Abrupt ends: os._exit and SIGKILL keep what was recorded before them."""

from glasstest import check, eq, expect_ok


def case_os_exit(t):
    # GIVEN a program that calls step 10 times inside run, then os._exit(3) from run
    runs = t.run_both([t.python, "os_exit.py"])
    eq(runs.plain.returncode, 3, "exit status")
    eq(runs.plain.stdout, "total 90\n", "program output")
    # THEN the calls before it are in the report, and run never returned
    rep = t.report(runs.traced)
    rep.expect_names({"step": 10, "run": 1})
    for s in rep.named("step"):
        expect_ok(s)
    eq(rep.one("run").status, "unfinished", "status of run (it called os._exit)")


def case_sigkill(t):
    # GIVEN a program calling work() in a loop, killed with SIGKILL 0.5 s after it says "ready"
    runs = t.run_both([t.python, "busy.py"], kill_after_ready=("ready", 0.5))
    eq(runs.plain.returncode, -9, "exit status (SIGKILL)")
    eq(runs.plain.stdout, "ready\n", "program output")
    # THEN the recording still reads, with the calls made before the kill
    rep = t.report(runs.traced)
    works = rep.named("work")
    check(len(works) >= 1000, f"{len(works)} work spans, expected >= 1000")
    statuses = [s.status for s in works]
    check(statuses.count("ok") >= 1000, f"{statuses.count('ok')} finished work spans")
    check(statuses.count("unfinished") <= 1, "more than one work call was in flight")
    check(set(statuses) <= {"ok", "unfinished"}, f"work statuses {set(statuses)}")
    # AND the span that was running when the process died is unfinished
    eq(rep.one("loop").status, "unfinished", "status of loop")
    if statuses.count("unfinished"):
        last = max(works, key=lambda s: s.start_ns)
        eq(last.status, "unfinished", "status of the last work span")
