"""Processes: fork from a thread while others record, fork then exec, multiprocessing's spawn
and forkserver start methods. One session holds them all."""

import re

from glasstest import check, eq


def case_fork_from_a_thread(t):
    # GIVEN three threads recording, and a fourth one that forks; the child records and exits 7
    runs = t.run_both([t.python, "fork_thread.py"], timeout=30)
    eq(runs.plain.stdout, "child 9900\nchild exit 7\n", "program output")
    rep = t.report(runs.traced)
    parent = runs.traced.pid
    pids = rep.pids()
    eq(len(pids), 2, f"pids in the spans {sorted(pids)}")
    (child,) = pids - {parent}
    # THEN the child's calls are its own, on its only thread (the forking one)
    cw = rep.one("child_work")
    eq(cw.pid, child, "pid of child_work")
    eq(cw.tid, child, "tid of child_work (the forking thread is the child's main thread)")
    eq(sum(1 for s in rep.named("work") if s.pid == child), 100, "work calls in the child")
    # AND the parent's threads recorded all their calls, none of them in the child
    for i in range(3):
        mine = [s for s in rep.named("work") if s.thread == f"rec-{i}"]
        eq(len(mine), 300, f"work calls on rec-{i}")
        check(all(s.pid == parent and s.status == "ok" for s in mine),
              f"rec-{i}'s calls: pid and status")
    eq(rep.one("forker").pid, parent, "pid of forker")
    check(re.search(r"\bpid %d\s+ppid %d\b" % (child, parent), rep.info),
          f"info does not show {child} as a child of {parent}:\n{rep.info}")


def case_fork_then_exec(t):
    # GIVEN a child that records after fork(), then execs another Python program
    runs = t.run_both([t.python, "fork_exec.py"])
    eq(runs.plain.stdout, "forked child 45\nexec'd image 60\nchild exit 0 parent 2\n",
       "program output")
    rep = t.report(runs.traced)
    parent = runs.traced.pid
    # THEN both images of the child are in the session, under the child's pid
    child = rep.one("before_exec").pid
    check(child != parent, "before_exec ran in the parent")
    eq(rep.one("exec_main").pid, child, "pid of exec_main (the exec'd image)")
    rep.expect_parent("helper", "exec_main")
    eq(rep.one("parent_after").pid, parent, "pid of parent_after")
    eq(rep.pids(), {parent, child}, "pids in the spans")
    # AND info tells the exec'd image from the forked one
    check(re.search(r"origin exec", rep.info), f"no exec'd image in info:\n{rep.info}")


def mp_case(t, method):
    runs = t.run_both([t.python, "mp_pool.py", method], timeout=60)
    eq(runs.plain.stdout, f"{method} [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]\nprocess exit 0\n",
       "program output")
    rep = t.report(runs.traced)
    parent = runs.traced.pid
    # THEN the workers' calls are in the one session, in processes other than the parent
    squares = rep.named("square")
    eq(len(squares), 11, "square calls (10 in the pool, 1 in a Process)")
    check(all(s.pid != parent for s in squares), "square ran in the parent")
    check(len({s.pid for s in squares}) >= 2, "square calls in fewer than 2 processes")
    eq(rep.one("main").pid, parent, "pid of main")
    return rep


def case_multiprocessing_spawn(t):
    mp_case(t, "spawn")


def case_multiprocessing_forkserver(t):
    mp_case(t, "forkserver")
