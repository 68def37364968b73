"""File descriptors: glass's own are not the program's business."""

from glasstest import check, eq


def case_no_visible_fds(t):
    # GIVEN a program that lists its open descriptors THEN it sees the same ones under glass
    runs = t.run_both([t.python, "list_fds.py"])
    check(runs.plain.stdout.startswith("fds beyond stdio:"), "program output")
    t.report(runs.traced).expect_names({"work": 200, "open_fds": 2})


def case_closerange(t):
    # GIVEN a program that closes every descriptor beyond stdio halfway through
    runs = t.run_both([t.python, "close_all.py"])
    eq(runs.plain.stdout, "before 161700\nafter 161700\n", "program output")
    # THEN it runs on, and the calls made after the closing are recorded too
    rep = t.report(runs.traced)
    rep.expect_names({"phase": 2, "work": 200})
