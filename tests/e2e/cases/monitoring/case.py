"""sys.monitoring users beside glass: their own tools, DISABLE and restart_events, all six tool
ids taken after or before glass starts. The program's output is the same with and without glass
under either engine (run_both), and glass still records what it may."""

import os

from glasstest import check, eq

GIVE_UP_LINE = (r"the program takes sys\.monitoring tool id 5, which glass held, and 3, 4 and 5 "
                r"are all taken .*; tracing disabled$")


def engine_of(t):
    """The engine glass uses in these cases: eval when asked for or before 3.12, else
    monitoring (asked for, or auto's choice for the default policy)."""
    want = os.environ.get("GLASS_TEST_ENGINE", "auto")
    if want == "eval" or t.target.version_text.startswith(("3.9", "3.10", "3.11")):
        return "eval"
    return "monitoring"


def needs_monitoring(t):
    if t.target.version_text.startswith(("3.9", "3.10", "3.11")):
        t.skip(f"sys.monitoring is new in 3.12 (this is {t.target.version_text})")


def case_own_tools(t):
    needs_monitoring(t)
    # GIVEN a program with a profiler tool and a coverage tool of its own (DISABLE, restart)
    runs = t.run_both([t.python, "own.py"])
    # THEN (run_both) it printed the same counts and lines as without glass
    out = runs.plain.stdout
    for needle in ("('return', 111)", "('start', 112)", "('unwind', 1)", "('yield', 4)",
                   "'fib': [1]"):
        check(needle in out, f"{needle!r} missing from the program's output:\n{out}")
    # AND glass recorded its calls as well, under the engine it used
    rep = t.report(runs.traced)
    eq(rep.engines, [engine_of(t)], "engine")
    rep.expect_names({"main": 1, "profile": 1, "cover": 1, "workload": 4, "fib": 4 * 109,
                      "gen": 4, "fails": 4}, what="span counts (functions of the workload)")


def case_all_six_taken(t):
    needs_monitoring(t)
    # GIVEN a program that takes all six tool ids, 0 to 5, after glass started (under the
    # monitoring engine glass holds 4, moves to 5 when the program takes 4, and has nowhere
    # to go when it takes 5)
    monitoring = engine_of(t) == "monitoring"
    # THEN the program gets them all and sees what it would without glass (run_both); glass
    # says once that it gave its id up and stopped tracing
    runs = t.run_both([t.python, "six.py"], glass_stderr=[GIVE_UP_LINE] if monitoring else [])
    eq(runs.plain.stdout.splitlines()[-1], "[None, None, None, None, None, None]",
       "every tool freed")
    # AND what ran before is recorded (the PEP 523 engine holds no id: it records everything)
    rep = t.report(runs.traced)
    eq(rep.count("work"), 15 if monitoring else 15 + 177, "work spans")


def case_ids_taken_by_site(t):
    needs_monitoring(t)
    # GIVEN tool ids 4 and 5 taken by sitecustomize as Python starts, 4 from glass
    env = {"PYTHONPATH": str(t.workdir / "site")}
    # THEN glass moves to tool id 3 without a word, the program runs as without glass
    runs = t.run_both([t.python, "taken.py"], env=env)
    eq(runs.plain.stdout, "144 ['site4', 'site5']\n", "program output")
    # AND glass traced it all with the engine it chose
    rep = t.report(runs.traced)
    eq(rep.engines, [engine_of(t)], "engine")
    eq(rep.count("fib"), 465, "fib(12) calls")


def case_engine_choice(t):
    # GIVEN the ways to choose an engine: GLASS_ENGINE, the policy's "engine", auto
    modern = not t.target.version_text.startswith(("3.9", "3.10", "3.11"))
    auto = "monitoring" if modern else "eval"

    def run(glass_env, lines, engine, policy=None):
        env = dict(glass_env)
        if policy is not None:
            path = t.tmp / f"policy-{len(t.notes)}-{abs(hash(str(policy)))}.json"
            path.write_text(policy)
            env["GLASS_POLICY"] = str(path)
        runs = t.run_both([t.python, "fib.py"], glass_env=env, glass_stderr=lines)
        rep = t.report(runs.traced)
        eq(rep.engines, [engine], f"engine with {glass_env} policy {policy}")
        eq(rep.count("fib"), 177, "fib spans")

    # THEN an unknown GLASS_ENGINE is one line naming it, and the automatic choice is used
    run({"GLASS_ENGINE": "pep523"},
        [r"ignoring GLASS_ENGINE=pep523 \(expected auto, eval or monitoring\)$"], auto)
    # AND monitoring before 3.12 is one line, and the automatic choice (eval) is used
    run({"GLASS_ENGINE": "monitoring"},
        [] if modern else [r"GLASS_ENGINE asks for the monitoring engine, which needs Python "
                           r"3\.12 or later; using the automatic choice$"],
        "monitoring" if modern else "eval")
    run({"GLASS_ENGINE": "eval"}, [], "eval")
    # AND without GLASS_ENGINE the policy decides; a policy tracing everything means eval
    run({"GLASS_ENGINE": ""}, [], "eval", '{"engine": "eval"}')
    run({"GLASS_ENGINE": ""}, [], "eval", '{"included_packages": ["*"]}')
    run({"GLASS_ENGINE": ""}, [], auto, '{"included_packages": ["__main__"]}')
    run({"GLASS_ENGINE": ""},
        [] if modern else [r"glimpse-policy|policy-.*\.json asks for the monitoring engine"],
        "monitoring" if modern else "eval", '{"engine": "monitoring"}')


def case_server_capture_and_sampling(t):
    # GIVEN an http.server whose handler runs a traced function that queries sqlite3
    for sample in (1, 0):
        policy = t.tmp / f"policy-sample{sample}.json"
        policy.write_text('{"included_packages": ["__main__"], "sample": %d}' % sample)
        runs = t.run_both([t.python, "server.py"], glass_env={"GLASS_POLICY": str(policy)})
        eq(runs.plain.stdout, "200 a\n200 b\n200 c\n", "program output")
        # (not validated: a request span ends at its last response byte, written inside
        # do_GET, so do_GET ends a few microseconds after its parent; the same on 3.11 with
        # the PEP 523 engine, a capture matter outside this case)
        rep = t.report(runs.traced, validate=False)
        eq(rep.engines, [engine_of(t)], "engine")
        reqs = [s for s in rep.spans if s.get("kind") == "http_server"]
        loads = rep.named("load_item")
        if sample == 0:
            # THEN with sample 0 no request is kept, nor anything of its trace
            eq((len(reqs), len(loads)), (0, 0), "requests and load_item spans with sample 0")
            continue
        # THEN with sample 1 each request is a span, its handler's traced function beneath it,
        # and the query beneath that function
        eq(len(reqs), 3, "http_server spans")
        eq(len(loads), 3, "load_item spans")
        for s in loads:
            kinds, a = [], rep.parent(s)
            while a is not None:
                kinds.append(a.get("kind"))
                a = rep.parent(a)
            check("http_server" in kinds, f"load_item under its request: {rep.chain(s)}")
            kids = [c for c in rep.children(s) if c.get("kind") not in (None, "function")]
            check(len(kids) == 1, f"one query under load_item: {[c.get('kind') for c in kids]}")
