"""Exceptions: which spans end in error, with what type and message."""

from glasstest import check, eq, expect_error, expect_ok


def case_caught(t):
    # GIVEN level1 -> level2 -> level3, level3 raises ValidationError, level1 catches it
    runs = t.run_both([t.python, "caught.py"])
    eq(runs.plain.stdout, "caught: bad value 42\nhandled\n", "program output")
    rep = t.report(runs.traced)
    rep.expect_names({"main": 1, "level1": 1, "level2": 1, "level3": 1, "handles_own": 1})
    # THEN the levels the exception left are errors with its type and message
    expect_error(rep.one("level3"), "ValidationError", "bad value 42")
    expect_error(rep.one("level2"), "ValidationError", "bad value 42")
    # AND the level that caught it, and everything above, returned normally
    expect_ok(rep.one("level1"))
    expect_ok(rep.one("main"))
    # AND an exception raised and handled inside one function leaves it ok
    expect_ok(rep.one("handles_own"))
    rep.expect_parent("level3", "level2")
    rep.expect_parent("level2", "level1")


def case_uncaught(t):
    # GIVEN main -> work -> fail, fail raises RuntimeError that nobody catches
    runs = t.run_both([t.python, "uncaught.py"])
    # THEN the traceback and exit status are Python's own (run_both compared them)
    eq(runs.plain.returncode, 1, "exit status")
    check("RuntimeError: boom 7" in runs.plain.stderr, "traceback expected on stderr")
    eq(runs.plain.stdout, "starting\n", "program output")
    # AND every level the exception went through is an error
    rep = t.report(runs.traced)
    for name in ("fail", "work", "main"):
        expect_error(rep.one(name), "RuntimeError", "boom 7")
    rep.expect_parent("fail", "work")
