"""fork: the child is a second process of the same session, with its own pid."""

import re

from glasstest import check, eq


def case_fork(t):
    # GIVEN a program that forks; the child calls child_work, the parent waits then parent_work
    runs = t.run_both([t.python, "fork_main.py"])
    eq(runs.plain.stdout, "child 5050\nchild exit 0\nparent 55\n", "program output")
    eq(runs.plain.returncode, 0, "exit status")
    rep = t.report(runs.traced)
    parent = runs.traced.pid

    # THEN the session holds two processes
    pids = rep.pids()
    eq(len(pids), 2, f"pids in the spans {sorted(pids)}")
    check(parent in pids, "no span of the parent process")
    (child,) = pids - {parent}
    for p in (parent, child):
        check(re.search(r"\b%d\b" % p, rep.info), f"info does not list pid {p}:\n{rep.info}")
    # AND info counts two processes, the child's parent being the traced parent
    check(re.search(r"^processes\s+2\s*$", rep.info, re.M), f"info: not 2 processes:\n{rep.info}")
    check(re.search(r"\bpid %d\s+ppid %d\b" % (child, parent), rep.info),
          f"info does not show {child} as a child of {parent}:\n{rep.info}")
    # AND the child's calls carry the child's pid (and its main thread's tid), the parent's its own
    cw = rep.one("child_work")
    eq((cw.pid, cw.tid), (child, child), "pid/tid of child_work")
    pw = rep.one("parent_work")
    eq((pw.pid, pw.tid), (parent, parent), "pid/tid of parent_work")
    eq(sorted(s.pid for s in rep.named("sum_to")), sorted([parent, child]), "pids of sum_to")
    for s in rep.named("sum_to"):
        eq(rep.parent_name(s), "child_work" if s.pid == child else "parent_work",
           f"parent of sum_to in pid {s.pid}")
