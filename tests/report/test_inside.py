#!/usr/bin/env python3
"""Every output carries what happens inside a span: events (exceptions, log records),
arguments and results, and links across threads (samples/inside.py)."""
import json
import os
import re
import sqlite3
import sys

from common import SAMPLES, Suite


def main():
    t = Suite()
    session = t.record("inside", policy=os.path.join(SAMPLES, "inside-policy.json"))
    m = re.search(r"^\s+python\s+(\d+)\.(\d+)", t.report("info", session).stdout, re.M)
    ver = (int(m.group(1)), int(m.group(2))) if m else (3, 11)
    spans = {json.loads(x)["name"]: json.loads(x)
             for x in t.report("jsonl", session).stdout.splitlines()}

    # jsonl
    lk, fl, wk, mn = spans["lookup"], spans["fail"], spans["worker"], spans["main"]
    t.check(lk.get("args") == "lookup(key='sku', password=***)" and lk.get("result") == "None",
            f"jsonl: args and result ({lk.get('args')!r}, {lk.get('result')!r})")
    logs = [e for e in lk.get("events", []) if e["name"] == "log"]
    t.check([(e["level"], e["logger"], e["message"]) for e in logs] ==
            [("WARNING", "shop", "no sku")], f"jsonl: lookup's log event ({logs})")
    exc = [e for e in fl.get("events", []) if e["name"] == "exception"]
    t.check([(e["type"], e["message"], e["handled"]) for e in exc] ==
            [("ValueError", "bad 3", False)], f"jsonl: fail's escaped exception ({exc})")
    t.check(not [e for e in spans["caller"].get("events", []) if e["name"] == "exception"],
            "jsonl: no exception event on the caller that caught it")
    t.check(wk["parent_id"] == mn["span_id"] and wk["trace_id"] == mn["trace_id"],
            "jsonl: the thread's span is a child of main, in its trace")
    t.check([e["message"] for e in wk.get("events", [])] == ["in the worker"],
            "jsonl: the worker thread's log event")

    # glimpse
    g = [json.loads(x) for x in t.report("jsonl", session, "--format", "glimpse")
         .stdout.splitlines()]
    start = [e for e in g if e["function"] == "lookup" and e["stage"] == "START"]
    t.check(start and start[0]["args"] == "lookup(key='sku', password=***)",
            "glimpse: START carries args")
    ex = [e for e in g if e["stage"] == "EXCEPTION"]
    t.check(any(e["function"] == "fail" and e["exception"] == "ValueError: bad 3" for e in ex),
            f"glimpse: EXCEPTION entry of fail ({ex})")
    order = [e["stage"] for e in g if e["function"] == "fail"]
    t.check(order == ["START", "EXCEPTION", "END"], f"glimpse: START, EXCEPTION, END ({order})")

    # otlp
    path = t.path("o.json")
    t.report("otlp", session, "-o", path)
    ospans = {}
    with open(path) as f:
        for line in f:
            for rs in json.loads(line)["resourceSpans"]:
                for ss in rs["scopeSpans"]:
                    for s in ss["spans"]:
                        ospans[s["name"]] = s
    oe = ospans["__main__.fail"].get("events", [])
    attrs = {a["key"]: a["value"] for a in oe[0]["attributes"]} if oe else {}
    t.check(len(oe) == 1 and oe[0]["name"] == "exception" and
            attrs.get("exception.escaped") == {"boolValue": True} and
            attrs.get("exception.type") == {"stringValue": "ValueError"},
            f"otlp: fail's exception event, escaped ({oe})")
    le = ospans["__main__.lookup"].get("events", [])
    t.check(any(e["name"] == "log" for e in le), "otlp: lookup's log event")
    la = {a["key"]: a["value"] for a in ospans["__main__.lookup"]["attributes"]}
    t.check(la.get("glass.args") == {"stringValue": "lookup(key='sku', password=***)"},
            "otlp: glass.args")
    t.check(ospans["__main__.worker"].get("parentSpanId") ==
            ospans["__main__.main"]["spanId"], "otlp: the thread's parent")

    # sqlite
    db = t.path("e.db")
    t.report("sqlite", session, "-o", db)
    con = sqlite3.connect(db)
    rows = con.execute("SELECT s.name, e.name, e.type, e.handled, e.level, e.message FROM events "
                       "e JOIN spans s ON s.span_id = e.span_id ORDER BY e.time_ns").fetchall()
    t.check(("__main__.fail", "exception", "ValueError", 0, None, "bad 3") in rows and
            ("__main__.lookup", "log", None, None, "WARNING", "no sku") in rows,
            f"sqlite: events table ({rows})")
    a = con.execute("SELECT args, result FROM spans WHERE name = '__main__.lookup'").fetchone()
    t.check(a == ("lookup(key='sku', password=***)", "None"), f"sqlite: args/result ({a})")

    # chrome
    path = t.path("c.json")
    t.report("chrome", session, "-o", path)
    with open(path) as f:
        d = json.load(f)
    ev = d["traceEvents"] if isinstance(d, dict) else d
    inst = [e for e in ev if e.get("ph") == "i"]
    t.check(any(e["name"] == "exception" and e["args"].get("type") == "ValueError" for e in inst)
            and any(e["name"] == "log" for e in inst), f"chrome: instant events ({inst[:3]})")

    # tree
    out = t.report("tree", session).stdout
    t.check("lookup(key='sku', password=***) → None" in out, "tree: the args line")
    t.check("raised ValueError: bad 3" in out and "log WARNING shop: no sku" in out,
            "tree: event lines")
    if ver >= (3, 12):
        t.check("caught KeyError: 'sku'" in out or "caught KeyError: sku" in out,
                f"tree: the caught KeyError (3.12+)\n{out}")
    t.done()


if __name__ == "__main__":
    sys.exit(main())
