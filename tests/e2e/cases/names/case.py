"""Names: qualified names and generator parents are the same on every supported version."""

from glasstest import eq


def case_names(t):
    # GIVEN nested classes, a static method, a generator expression, a generator created in one
    # function and first started in another, code made by exec(), and definitions reached
    # through EXTENDED_ARG (more than 256 constants before them)
    runs = t.run_both([t.python, "names.py"])
    eq(runs.plain.stdout, "Outer [0, 2, 4] 3 5 2\n", "program output")
    rep = t.report(runs.traced)

    # THEN each span is named by its qualname, as CPython 3.11+ reports co_qualname
    rep.expect_names({
        "main": 1, "Outer": 1, "Outer.Inner": 1, "Outer.helper": 1, "Outer.Inner.method": 1,
        "Outer.Inner.method.<locals>.<genexpr>": 1, "make": 1, "produce": 1, "consume": 2,
        "from_exec": 1, "made_by_exec": 1, "make_nested": 1,
        "make_nested.<locals>.nested": 1,
    })
    # AND a generator's parent is the function that created it, not the one that ran it
    rep.expect_parent("Outer.Inner.method.<locals>.<genexpr>", "Outer.Inner.method")
    rep.expect_parent("produce", "make")
    rep.expect_parent("make_nested.<locals>.nested", "make_nested")
    rep.expect_parent("Outer.Inner.method", "Outer.helper")
    rep.expect_parent("made_by_exec", "from_exec")
