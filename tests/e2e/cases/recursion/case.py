"""Recursion: the depth a program reaches is the same with glass as without."""

from glasstest import check, eq, expect_error, expect_ok


def deepest_chain(rep, name):
    spans = rep.named(name)
    check(spans, f"no span {name!r}")
    depth = {}
    for s in sorted(spans, key=lambda s: s.start_ns):
        p = rep.parent(s)
        depth[s.span_id] = depth.get(p.span_id, 0) + 1 if p is not None and p.name == name else 1
    return max(depth.values())


def case_depth_900(t):
    # GIVEN recursion 900 deep under the default limit (1000) THEN it works as without glass
    runs = t.run_both([t.python, "depth900.py"])
    eq(runs.plain.stdout, "1000 900\n", "program output")
    rep = t.report(runs.traced)
    rep.expect_names({"down": 901})
    eq(deepest_chain(rep, "down"), 901, "nesting of down spans")
    for s in rep.named("down"):
        expect_ok(s)


def case_depth_5000(t):
    # GIVEN sys.setrecursionlimit(10000) and recursion 5000 deep THEN it works as without glass
    runs = t.run_both([t.python, "deep5000.py"], timeout=120)
    eq(runs.plain.stdout, "5000\n", "program output")
    rep = t.report(runs.traced)
    rep.expect_names({"down": 5001})
    eq(deepest_chain(rep, "down"), 5001, "nesting of down spans")


def case_recursion_error(t):
    # GIVEN unbounded recursion, caught once then uncaught
    # THEN the same depth is reached, the same message and traceback printed, exit status 1
    runs = t.run_both([t.python, "overflow.py"])
    eq(runs.plain.returncode, 1, "exit status")
    check(runs.plain.stdout.startswith("caught RecursionError"), "program output")
    check("RecursionError" in runs.plain.stderr, "traceback expected on stderr")
    rep = t.report(runs.traced)
    caught, reached = runs.plain.stdout.splitlines()
    message = caught[len("caught RecursionError "):]
    reached = int(reached.split()[1])
    # AND every dive call of both overflows ended in that RecursionError
    dives = rep.named("dive")
    check(len(dives) >= 2 * reached, f"{len(dives)} dive spans, expected >= 2 x {reached}")
    for s in dives:
        expect_error(s, "RecursionError", message)
    expect_ok(rep.one("attempt"))
