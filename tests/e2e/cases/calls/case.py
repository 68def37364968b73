"""Calls: exact counts, parent links, lines and times of ordinary calls."""

from glasstest import check, eq, expect_ok


def case_calls(t):
    # GIVEN a program of nested calls, methods, class/static methods, a lambda and a closure
    # WHEN it runs plain and under glass
    runs = t.run_both([t.python, "main.py"])
    eq(runs.plain.stdout, "top 42\ncallables [5, 6, 9, 14]\nshape of area 10\n", "program output")
    rep = t.report(runs.traced)

    # THEN every call is one span, with the qualname as its name
    rep.expect_names({
        "main": 1, "top": 1, "middle": 3, "leaf": 6,
        "use_callables": 1, "make_adder": 1, "make_adder.<locals>.add": 4, "<lambda>": 4,
        "shapes": 1, "Shape.unit": 1, "Shape.__init__": 2, "Shape.area": 2,
        "Shape.describe": 1,
    })
    # AND each span's parent is the caller
    rep.expect_parent("leaf", "middle")
    rep.expect_parent("middle", "top")
    rep.expect_parent("top", "main")
    rep.expect_parent("make_adder", "use_callables")
    rep.expect_parent("make_adder.<locals>.add", "use_callables")
    rep.expect_parent("<lambda>", "use_callables")
    rep.expect_parent("Shape.unit", "shapes")
    rep.expect_parent("Shape.area", "shapes")
    rep.expect_parent("Shape.describe", "shapes")
    eq(sorted(rep.parent_name(s) for s in rep.named("Shape.__init__")),
       ["Shape.unit", "shapes"], "callers of Shape.__init__")
    main = rep.one("main")
    check(rep.parent_name(main) in (None, "<module>"),
          f"main's parent should be the module code or none, got {rep.parent_name(main)!r}")

    # AND the facts of each span are right: module, file, line, pid, main thread, status
    leaf_line = t.source_line("main.py", "def leaf(")
    for s in rep.functions():
        if s.name == "<module>":
            continue
        eq(s.module, "__main__", f"module of {s.name}")
        check(s.file.endswith("main.py"), f"file of {s.name} is {s.file!r}")
        eq(s.pid, runs.traced.pid, f"pid of {s.name}")
        eq(s.tid, runs.traced.pid, f"tid of {s.name} (main thread)")
        expect_ok(s)
    for s in rep.named("leaf"):
        eq(s.line, leaf_line, "line of leaf (its def)")
        eq(s.self_ns, s.dur_ns, "self_ns of a leaf call")
        eq(len(rep.children(s)), 0, "children of leaf")

    # AND self time is the duration less the children's
    top = rep.one("top")
    kids = rep.children(top)
    eq(sorted(k.name for k in kids), ["middle"] * 3, "children of top")
    rest = top.dur_ns - sum(k.dur_ns for k in kids)
    check(abs(top.self_ns - rest) <= 1000 * (len(kids) + 1),
          f"top.self_ns {top.self_ns} should be dur_ns - children's dur_ns = {rest}")
    starts = [k.start_ns for k in kids]
    eq(starts, sorted(starts), "children of top in call order (start_ns)")

    # AND info and the summary read the same session
    check(str(runs.traced.pid) in rep.info, f"info does not mention pid {runs.traced.pid}:\n"
          + rep.info)
    for name in ("leaf", "middle", "Shape.area"):
        check(name in rep.summary, f"summary does not mention {name}:\n" + rep.summary)
