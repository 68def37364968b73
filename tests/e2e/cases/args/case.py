"""Arguments and results (capture_args / capture_result): Glimpse's text shape, built-ins
rendered in C, other objects through repr() that can never hurt the program, secrets redacted."""

import json

from glasstest import check, eq


def record(t, policy):
    path = t.workdir / "policy.json"
    path.write_text(json.dumps(dict({"included_packages": ["__main__"]}, **policy)))
    runs = t.run_both([t.python, "args.py"], glass_env={"GLASS_POLICY": str(path)})
    eq(runs.plain.stdout, "ok x\n", "program output")
    return t.report(runs.traced)


def by_name(rep, name):
    return [s for s in rep.spans if s.name == name]


def case_args_and_results(t):
    # GIVEN capture_args and capture_result on, max_field_length 200
    rep = record(t, {"capture_args": True, "capture_result": True, "max_field_length": 200})
    gu = by_name(rep, "get_user")
    eq(len(gu), 2, "get_user spans")
    # THEN Glimpse's shape, secrets as ***, *args and **kw, a dataclass result through repr()
    eq(gu[0].get("args"), "get_user(user_id=123, name='John', password=***, *args=(1, 2), "
       "**kw={'token': '***', 'other': 3})", "get_user's args")
    eq(gu[0].get("result"), "User(id=123, name='John')", "get_user's result")
    eq(gu[1].get("args"), "get_user(user_id=7, name='x', password=***, *args=(), **kw={})",
       "defaults")
    # AND huge values are cut at max_field_length, with "..."
    th = by_name(rep, "things")
    check(len(th[0]["args"]) <= 200 and th[0]["args"].endswith("..."),
          f"things' args cut ({len(th[0]['args'])})")
    check(th[0]["result"].startswith("{'a': 'xxx") and len(th[0]["result"]) <= 200,
          "things' result cut")
    # AND a dict value under a secret key is ***, sets and tuples are shown, a slow repr is
    # called once
    eq(th[1].get("args"), "things(a=Slow(), b={'password': '***', 'n': 1, 'k': {1, 2}}, "
       "c=('t',))", "things' second args")
    # AND a __repr__ that raises or recurses becomes <repr failed: ...>, the program unharmed
    eq(by_name(rep, "bad")[0].get("args"),
       "bad(x=<repr failed: TypeError>, y=<repr failed: RecursionError>)", "bad's args")
    eq(by_name(rep, "bad")[0].get("result"), "<repr failed: TypeError>", "bad's result")
    # AND a generator: arguments as called, result what its return statement gave
    # (the sys.monitoring engine sees no generator creation: there only the result)
    (g,) = by_name(rep, "gen")
    want_args = None if rep.engines == ["monitoring"] else "gen(n=3)"
    eq((g.get("args"), g.get("result")), (want_args, "'finished'"), "gen's args and result")
    # AND repr() calls are not traced themselves (recording paused)
    eq(by_name(rep, "Slow.__repr__") + by_name(rep, "BadRepr.__repr__"), [], "repr spans")


def case_patterns_and_safe_repr(t):
    # GIVEN args for one function by module:qualname, results for none, repr safe
    rep = record(t, {"capture_args": ["__main__:get_*"], "repr": "safe"})
    for s in rep.spans:
        if s.name == "get_user":
            check(s.get("args", "").startswith("get_user(user_id="), "get_user has args")
        else:
            eq(s.get("args"), None, f"{s.name} has no args")
        eq(s.get("result"), None, f"{s.name} has no result")


def case_off_by_default(t):
    rep = record(t, {})
    eq([s.name for s in rep.spans if "args" in s or "result" in s], [], "spans with args")
