"""asyncio: a coroutine is one span from its first start to its completion."""

from glasstest import check, eq, expect_ok


def case_asyncio(t):
    # GIVEN main_coro gathering step(0..2), each awaiting fetch(i) which sleeps 10*(i+1) ms
    runs = t.run_both([t.python, "aio.py"])
    eq(runs.plain.stdout, "([1, 3, 5], [0, 1, 2])\n", "program output")
    rep = t.report(runs.traced)
    rep.expect_names({"run": 1, "main_coro": 1, "step": 3, "fetch": 3, "ticker": 1})

    # THEN each coroutine is one span, resumed more than once, suspended while it awaited
    for name in ("main_coro", "step", "fetch"):
        for s in rep.named(name):
            eq(s.get("generator"), "coroutine", f"generator kind of {name}")
            check(s.get("resumes", 0) > 1, f"{name}.resumes {s.get('resumes')} should be > 1")
            check(s.get("suspended_ns", 0) > 0, f"{name}.suspended_ns should be > 0")
            check(s.dur_ns >= s.suspended_ns, f"{name}: dur_ns < suspended_ns")
            expect_ok(s)
    # AND spans cover the sleeps: fetch(i) lasts >= 10*(i+1) ms (less scheduling slack)
    fetch_durs = sorted(s.dur_ns for s in rep.named("fetch"))
    for i, d in enumerate(fetch_durs):
        check(d >= 8_000_000 * (i + 1), f"fetch durations {fetch_durs}: #{i} < {8 * (i + 1)} ms")
    # AND the parent of a coroutine is the code that created it (PEP 523 engine), or where it
    # first ran (sys.monitoring engine: no event marks a coroutine's creation, README); the
    # tasks of gather first run from the event loop, inside run()
    rep.expect_parent("main_coro", "run")
    if rep.engines == ["monitoring"]:
        rep.expect_parent("step", "run")
    else:
        eq(rep.engines, ["eval"], "engine")
        rep.expect_parent("step", "main_coro")
    rep.expect_parent("fetch", "step")
    rep.expect_parent("ticker", "main_coro")
    eq(len({s.parent_id for s in rep.named("fetch")}), 3, "each fetch under its own step")

    # AND an async generator is one span of kind async_generator
    tk = rep.one("ticker")
    eq(tk.get("generator"), "async_generator", "generator kind of ticker")
    check(tk.get("resumes", 0) >= 4, f"ticker.resumes {tk.get('resumes')} < 4 (3 items + end)")
    expect_ok(tk)
