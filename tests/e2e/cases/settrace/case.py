"""Other tracers: sys.settrace / sys.setprofile / sys.monitoring users see what they saw before."""

from glasstest import check


def case_settrace_setprofile(t):
    # GIVEN a program counting settrace and setprofile events, and a coverage-like line tracer
    runs = t.run_both([t.python, "tracing.py"])
    out = runs.plain.stdout
    for needle in ("trace call", "trace line", "trace return", "trace exception",
                   "profile call", "profile c_call", "covered lines of workload [1, 2, 3, 4"):
        check(needle in out, f"{needle!r} missing from the program's output:\n{out}")
    # THEN (run_both) the counts are identical under glass, AND glass still recorded the calls
    rep = t.report(runs.traced)
    n_workload = 4 if "monitoring" in out else 3
    rep.expect_names({"workload": n_workload, "fib": 67 * n_workload, "gen": n_workload,
                      "fails": n_workload, "main": 1})
