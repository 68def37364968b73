"""Span events: exceptions raised in a span (caught or escaped) and logging records."""

import json

from glasstest import check, eq

POLICY = {"included_packages": ["__main__"], "exception_events": True}


def events(span, name=None):
    return [e for e in span.get("events", []) if name is None or e["name"] == name]


def record(t, policy):
    path = t.workdir / "policy.json"
    path.write_text(json.dumps(policy))
    runs = t.run_both([t.python, "events.py"], glass_env={"GLASS_POLICY": str(path)})
    check(runs.plain.stdout.endswith("done\n"), "program output")
    # the program's own log output is unchanged (run_both compared stdout and stderr)
    check("WARNING app.db bad json: JSONDecodeError password=hunter2" in runs.plain.stdout,
          "the program logs the secret itself")
    return t.report(runs.traced)


def case_exceptions(t):
    # GIVEN functions that raise and catch (same frame, from a library, exception groups) and
    # one whose exception escapes to its caller, with "exception_events": true
    rep = record(t, POLICY)
    # THEN the escaped exception is an event of the span it was raised in, handled false, on
    # every version, and not of the caller that caught it
    (ev,) = events(rep.one("inner"), "exception")
    eq((ev["type"], ev["message"], ev["handled"]), ("RuntimeError", "deep", False),
       "inner's exception event")
    eq(rep.one("inner").status, "error", "inner's status")
    eq(events(rep.one("outer"), "exception"), [], "outer's exception events")
    caught = {n: events(rep.one(n), "exception") for n in ("lookup", "parse", "group")}
    if t.target.version >= (3, 12):
        # AND (3.12+) exceptions caught in the span they were raised in are handled events
        eq([(e["type"], e["handled"]) for e in caught["lookup"]], [("KeyError", True)],
           "lookup's caught KeyError")
        eq([(e["type"], e["handled"]) for e in caught["parse"]], [("JSONDecodeError", True)],
           "parse's JSONDecodeError (raised in json, caught in parse)")
        eq([(e["type"], e["message"], e["handled"]) for e in caught["group"]],
           [("ExceptionGroup", "grp", True)], "group's ExceptionGroup")
        for n in ("lookup", "parse", "group"):
            eq(rep.one(n).status, "ok", f"{n}'s status")
    else:
        # AND (3.11) caught exceptions are not seen (no per-raise hook): no events
        eq(caught, {"lookup": [], "parse": [], "group": []}, "3.11: no caught exceptions")


def case_logs(t):
    # GIVEN logging calls inside spans: lazy % args, a secret, a huge message, a record whose
    # argument cannot be formatted, a DEBUG record, and one its logger filters out
    rep = record(t, POLICY)
    logs = {n: events(rep.one(n), "log") for n in ("parse", "outer", "noisy")}
    # THEN records at INFO and above are log events of the innermost span, formatted, secrets
    # redacted
    eq([(e["level"], e["logger"], e["message"]) for e in logs["parse"]],
       [("WARNING", "app.db", "bad json: JSONDecodeError password=***")], "parse's log")
    eq([(e["level"], e["message"]) for e in logs["outer"]],
       [("INFO", "recovered {'token': '***'}")], "outer's log (DEBUG below log_level)")
    # AND a filtered record costs nothing and shows nowhere; a huge message is cut; one that
    # cannot be formatted has no message, and the program saw its own logging error only
    noisy = logs["noisy"]
    eq([e["level"] for e in noisy], ["ERROR", "INFO"], "noisy's records")
    check(noisy[0]["message"].startswith("big xxx") and len(noisy[0]["message"]) <= 520,
          f"the huge message is cut ({len(noisy[0]['message'])} chars)")
    eq(noisy[1]["message"], None, "a message that cannot be formatted")
    check(all(rep.one(n).start_ns <= e["time_ns"] <= rep.one(n).start_ns + rep.one(n).dur_ns
              for n in logs for e in logs[n]), "events fall inside their span")


def case_log_levels(t):
    # GIVEN log_level DEBUG THEN the DEBUG record is an event too
    rep = record(t, dict(POLICY, log_level="DEBUG"))
    eq([e["level"] for e in events(rep.one("outer"), "log")], ["DEBUG", "INFO"],
       "outer's records at DEBUG")
    # AND GIVEN log_level off THEN no log events at all
    rep = record(t, dict(POLICY, log_level="off"))
    eq([s.name for s in rep.spans if events(s, "log")], [], "spans with log events when off")


def case_log_on_http_request(t):
    # GIVEN an http.server on loopback whose handler code the policy leaves out, logging once
    path = t.workdir / "policy.json"
    path.write_text(json.dumps({"included_packages": ["nothing_here"], "include_main": False}))
    runs = t.run_both([t.python, "web.py"], glass_env={"GLASS_POLICY": str(path)})
    eq(runs.plain.stdout, "serving /users/1\nb'ok'\n", "program output")
    rep = t.report(runs.traced)
    (req,) = [s for s in rep.spans if s.kind == "http_server"]
    # THEN the record is a log event of the request span (no Python span was open)
    eq([(e["level"], e["logger"], e["message"]) for e in events(req, "log")],
       [("WARNING", "web", "serving /users/1")], "the request's log events")
