"""subprocess: a Python child started by a traced Python records into the same session."""

import re

from glasstest import check, eq


def case_subprocess(t):
    # GIVEN parent.py running [sys.executable, "child.py"] with subprocess.run
    runs = t.run_both([t.python, "parent.py"])
    eq(runs.plain.stdout, "parent got: child says 42\n", "program output")
    # THEN one session (run_both checked) holds both processes
    rep = t.report(runs.traced)
    parent = runs.traced.pid
    pids = rep.pids()
    eq(len(pids), 2, f"pids in the spans {sorted(pids)}")
    (child,) = pids - {parent}
    eq(rep.one("run_child").pid, parent, "pid of run_child")
    eq(rep.one("child_main").pid, child, "pid of child_main")
    eq(rep.one("double").pid, child, "pid of double")
    rep.expect_parent("double", "child_main")
    check(rep.one("child_main").file.endswith("child.py"), "file of child_main")
    for p in (parent, child):
        check(re.search(r"\b%d\b" % p, rep.info), f"info does not list pid {p}:\n{rep.info}")
    # AND info counts two processes, the child's parent being the traced parent
    check(re.search(r"^processes\s+2\s*$", rep.info, re.M), f"info: not 2 processes:\n{rep.info}")
    check(re.search(r"\bpid %d\s+ppid %d\b" % (child, parent), rep.info),
          f"info does not show {child} as a child of {parent}:\n{rep.info}")
