"""Threads: spans carry their thread's id and name."""

import re

from glasstest import check, eq


def case_threads(t):
    runs = t.run_both([t.python, "threads_main.py"])
    eq(runs.plain.stdout, "threads [328350, 338350, 348550, 358950]\npool [0, 1, 4, 9, 16, 25]\n",
       "program output")
    rep = t.report(runs.traced)
    pid = runs.traced.pid
    rep.expect_names({"main": 1, "worker": 4, "compute": 4, "pooled": 6, "square": 406})

    # GIVEN four threading.Thread named worker-1..4 alive at the same time
    # THEN their spans carry four distinct thread ids, none the main thread's, and their names
    workers = rep.named("worker")
    tids = {s.tid for s in workers}
    eq(len(tids), 4, f"distinct tids of the 4 worker spans {sorted(tids)}")
    check(pid not in tids, "a worker span carries the main thread's tid")
    eq(sorted(s.thread for s in workers), ["worker-1", "worker-2", "worker-3", "worker-4"],
       "thread names of the worker spans")
    eq(rep.one("main").tid, pid, "tid of main (the main thread's tid is the pid)")
    # AND calls made on a thread are children of the span on that thread
    for c in rep.named("compute"):
        p = rep.parent(c)
        check(p is not None and p.name == "worker" and p.tid == c.tid,
              f"compute on tid {c.tid} should be under worker on the same tid, got "
              f"{p.short() if p else None}")
    for s in rep.named("square"):
        p = rep.parent(s)
        check(p is not None and p.name in ("compute", "pooled") and p.tid == s.tid,
              f"square's parent {p.short() if p else None} should be compute/pooled, same tid")

    # GIVEN a ThreadPoolExecutor(max_workers=2, thread_name_prefix="pool") running 6 tasks
    pool = rep.named("pooled")
    ptids = {s.tid for s in pool}
    check(1 <= len(ptids) <= 2 and pid not in ptids and not ptids & tids,
          f"pooled tids {sorted(ptids)} should be 1-2 pool threads, distinct from the others")
    for s in pool:
        check(s.thread and re.match(r"^pool_\d+$", s.thread),
              f"thread name of pooled: {s.thread!r}, expected pool_N")
    for s in rep.spans:
        eq(s.pid, pid, f"pid of {s.name}")


def case_threads_traced_bootstrap(t):
    # GIVEN a policy that traces the threading module itself (Thread._bootstrap included)
    policy = t.workdir / "trace-threading.json"
    policy.write_text('{"included_packages": ["__main__", "threading"]}\n')
    runs = t.run_both([t.python, "threads_main.py"], glass_env={"GLASS_POLICY": str(policy)})
    rep = t.report(runs.traced)
    # THEN threading's own frames are spans...
    boots = [s for s in rep.spans if s.name == "Thread._bootstrap"]
    check(len(boots) >= 6, f"Thread._bootstrap traced: {len(boots)} spans, expected one per "
          "thread (4 workers, 1-2 pool threads)")
    # ...and each thread still gets its name and its end from that frame
    eq(sorted(s.thread or "" for s in rep.named("worker")),
       ["worker-1", "worker-2", "worker-3", "worker-4"], "thread names with threading traced")
    check(all(s.thread and re.match(r"^pool_\d+$", s.thread) for s in rep.named("pooled")),
          f"pool thread names with threading traced {[s.thread for s in rep.named('pooled')]}")
    named = re.findall(r"^\s+t\d+\s+tid \d+\s+(\S+)", rep.info, re.M)
    check("-" not in named and len(named) >= 6, f"info names every thread {named}")
