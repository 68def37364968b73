"""Links: work handed off inside a span (threads, pools, tasks, child processes) runs under it."""

from glasstest import check, eq


def under(rep, name, parent_name, what=None):
    """Every span `name` has parent `parent_name` and shares its trace."""
    rep.expect_parent(name, parent_name, what)
    for s in rep.named(name):
        p = rep.parent(s)
        eq(s.trace_id, p.trace_id, f"trace of {name} and {parent_name}")
        eq(s.depth, p.depth + 1, f"depth of {name} under {parent_name}")


def case_threads_pools_tasks(t):
    # GIVEN main() starting a thread, a thread that outlives its span, a pool (submit and map),
    # asyncio tasks (create_task, fire-and-forget ensure_future, TaskGroup) and
    # run_in_executor
    runs = t.run_both([t.python, "handoffs.py"])
    eq(runs.plain.stdout, "[0, 2, 4, 1, 2, 3]\n15\n", "program output")
    rep = t.report(runs.traced)
    pid = runs.traced.pid
    rep.expect_names({"in_thread": 1, "outliving": 1, "pooled": 3, "mapped": 3,
                      "task_body": 2, "forgotten": 1, "helper": 3, "in_executor": 1})
    # THEN a thread's root spans are children of the span that started it, in its trace
    under(rep, "in_thread", "start_thread")
    check(rep.one("in_thread").tid != pid, "in_thread ran on another thread")
    # AND so are those of a thread that runs on after the span ended
    under(rep, "outliving", "fire_thread")
    o, f = rep.one("outliving"), rep.one("fire_thread")
    check(o.start_ns + o.dur_ns > f.start_ns + f.dur_ns, "outliving ends after fire_thread")
    # AND a pool's work items are children of the submitting span (submit and map)
    under(rep, "pooled", "use_pool")
    under(rep, "mapped", "use_pool")
    check(all(s.tid != pid for s in rep.named("pooled")), "pooled ran on pool threads")
    # AND run_in_executor's work is a child of the coroutine that awaited it
    under(rep, "in_executor", "spawn_tasks")
    # AND tasks are children of the creating coroutine, also when they outlive it (PEP 523
    # engine; the sys.monitoring engine sees no coroutine creation, so a task hangs under
    # the code that first ran it, in the same trace: README)
    if rep.engines != ["monitoring"]:
        under(rep, "task_body", "spawn_tasks")
        under(rep, "forgotten", "spawn_tasks")
    fg, sp = rep.one("forgotten"), rep.one("spawn_tasks")
    check(fg.start_ns + fg.dur_ns > sp.start_ns + sp.dur_ns, "forgotten ends after spawn_tasks")
    # AND everything is one trace
    eq(len({s.trace_id for s in rep.spans}), 1, "traces in the recording")


def case_child_processes(t):
    # GIVEN main() starting a subprocess, an os.fork child and multiprocessing children (fork
    # and spawn)
    runs = t.run_both([t.python, "procs.py"])
    eq(runs.plain.stdout, "42\n7 7\n", "program output")
    rep = t.report(runs.traced)
    parent = runs.traced.pid
    # THEN the subprocess's root span is a child of the span that ran it, in its trace
    kid_pid = rep.one("kid_main").pid
    check(kid_pid != parent, "kid.py ran in another process")
    (km,) = [s for s in rep.named("<module>") if s.pid == kid_pid]
    eq(rep.parent_name(km), "run_subprocess", "parent of the subprocess's <module>")
    eq(km.trace_id, rep.one("run_subprocess").trace_id, "trace of the subprocess")
    rep.expect_parent("kid_main", "<module>")
    # AND the forked child's spans are children of the span that forked
    works = {rep.parent_name(s) for s in rep.named("child_work")}
    eq(works, {"do_fork", "mp_target"}, "parents of child_work")
    for s in rep.named("child_work"):
        check(s.pid != parent, "child_work ran in a child")
    # AND both multiprocessing children run under run_mp
    targets = rep.named("mp_target")
    eq(len(targets), 2, "mp_target spans")
    for s in targets:
        chain = rep.chain(s)
        check("run_mp" in chain, f"mp_target under run_mp: {' > '.join(chain)}")
        eq(s.trace_id, rep.one("main").trace_id, "trace of mp_target")
