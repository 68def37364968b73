"""Generators: one span per generator, from creation to its end, with resumes and gaps."""

from glasstest import check, eq, expect_error, expect_ok


def case_generators(t):
    runs = t.run_both([t.python, "gens.py"])
    eq(runs.plain.stdout, "sum 10\nfirst [0, 1, 2]\nrisky [1, 'generator failed']\n",
       "program output")
    rep = t.report(runs.traced)
    rep.expect_names({"count_up": 1, "naturals": 1, "risky": 1,
                      "consume": 1, "take_three": 1, "drive_risky": 1})

    # GIVEN a generator of 5 items consumed by a for loop that sleeps 2 ms per item
    # THEN it is one span resumed 6 times (5 items + the StopIteration), suspended >= 5 x 2 ms
    g = rep.one("count_up")
    eq(g.get("generator"), "generator", "generator kind of count_up")
    eq(g.get("resumes"), 6, "resumes of count_up")
    check(g.get("suspended_ns", 0) >= 8_000_000,
          f"count_up.suspended_ns {g.get('suspended_ns')} < 8 ms (5 sleeps of 2 ms)")
    check(g.dur_ns >= g.suspended_ns, "dur_ns of a generator covers its suspended time")
    expect_ok(g)
    rep.expect_parent("count_up", "consume")

    # GIVEN a generator closed after 3 items THEN it ends ok (GeneratorExit is not an error)
    n = rep.one("naturals")
    eq(n.get("generator"), "generator", "generator kind of naturals")
    expect_ok(n, "naturals after close()")
    check(n.get("resumes", 0) >= 3, f"naturals.resumes {n.get('resumes')} < 3")
    rep.expect_parent("naturals", "take_three")

    # GIVEN a generator that raises after its first item
    r = rep.one("risky")
    eq(r.get("generator"), "generator", "generator kind of risky")
    expect_error(r, "ValueError", "generator failed")
    eq(r.get("resumes"), 2, "resumes of risky")
    expect_ok(rep.one("drive_risky"))
    rep.expect_parent("risky", "drive_risky")
