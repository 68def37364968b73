#!/usr/bin/env python3
"""glass-report tree: the span trees of the sample programs, their shape, filters and folding."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Suite  # noqa: E402

HEADER = re.compile(r"^trace ([0-9a-f]{32}) · pid (\d+) · tid (\d+)(?: \((.*?)\))? · "
                    r"\S+ \S+ · ([\d,]+) spans?")
DUR = r"(\d+(?:\.\d+)?(?:ns|µs|ms|s|m|h))"
SPAN = re.compile(r"^((?:[│ ]  )*)(?:([├└])─ )?(\S.*?)\s+" + DUR + r"\s+" + DUR + r"(?:  (.*))?$")
FOLD = re.compile(r"^((?:[│ ]  )*)└─ … ([\d,]+) more \(" + DUR + r"\)$")


def ms(text):
    for unit, k in (("ns", 1e-6), ("µs", 1e-3), ("ms", 1), ("s", 1e3), ("m", 60e3), ("h", 3600e3)):
        if text.endswith(unit) and re.match(r"^[\d.]+$", text[:-len(unit)]):
            return float(text[:-len(unit)]) * k
    raise ValueError(text)


def trees(text):
    """[{header fields, lines: [(depth, label, dur_ms, self_ms, notes, raw)], folds: [...]}]"""
    out = []
    for line in text.splitlines():
        m = HEADER.match(line)
        if m:
            out.append({"trace": m.group(1), "pid": int(m.group(2)), "tid": int(m.group(3)),
                        "thread": m.group(4), "spans": int(m.group(5).replace(",", "")),
                        "lines": [], "folds": [], "other": []})
            continue
        if not out or not line.strip() or line.strip() == "duration      self":
            continue
        m = FOLD.match(line)
        if m:
            depth = len(m.group(1)) // 3 + 1
            out[-1]["folds"].append((depth, int(m.group(2).replace(",", "")), ms(m.group(3))))
            continue
        m = SPAN.match(line)
        if m and not line.startswith(" " * 4 + "(") and (m.group(2) or not out[-1]["lines"]):
            depth = len(m.group(1)) // 3 + (1 if m.group(2) else 0)
            out[-1]["lines"].append((depth, m.group(3), ms(m.group(4)), ms(m.group(5)),
                                     m.group(6) or "", line))
        else:
            out[-1]["other"].append(line)
    return out


def shape(tree):
    return [("   " * (d - 1) + "·  " if d else "") + label for d, label, *_ in tree["lines"]]


def main():
    t = Suite()
    session = t.record("basic")
    spans = [json.loads(x) for x in t.report("jsonl", session).stdout.splitlines()]

    # GIVEN basic.py WHEN tree (piped) THEN one tree per thread's root, as the program nests
    p = t.report("tree", session)
    t.check(p.returncode == 0 and p.stderr == "", f"exit 0, quiet ({p.stderr[-300:]})")
    t.check("\x1b[" not in p.stdout, "piped: no ANSI escapes")
    ts = trees(p.stdout)
    t.check(len(ts) == 2, f"two trees: main thread and worker ({len(ts)})")
    if len(ts) != 2:
        print(p.stdout)
        t.done()
    main_t, worker_t = ts
    t.check(main_t["thread"] == "MainThread" and worker_t["thread"] == "worker-1",
            "headers name the threads")
    t.check(main_t["spans"] == 12 and worker_t["spans"] == 10,
            f"headers count the spans ({main_t['spans']}, {worker_t['spans']})")
    roots = {s["span_id"]: s for s in spans if s["parent_id"] is None}
    t.check({tr["trace"] for tr in ts} == {s["trace_id"] for s in roots.values()},
            "headers carry jsonl's trace ids")
    want = ["__main__.<module>",
            "·  __main__.main",
            "   ·  __main__.outer",
            "      ·  __main__.middle",
            "         ·  __main__.leaf",
            "         ·  __main__.leaf",
            "      ·  __main__.leaf",
            "   ·  __main__.failing",
            "   ·  __main__.numbers",
            "   ·  __main__.gather",
            "      ·  __main__.fetch",
            "      ·  __main__.fetch"]
    t.check(shape(main_t) == want, f"main tree: outer → middle → leaf ... ({shape(main_t)})")
    raw = [x[5] for x in main_t["lines"]]
    t.check(raw[2].startswith("   ├─ __main__.outer") and
            raw[3].startswith("   │  ├─ __main__.middle") and
            raw[4].startswith("   │  │  ├─ __main__.leaf") and
            raw[5].startswith("   │  │  └─ __main__.leaf") and
            raw[6].startswith("   │  └─ __main__.leaf") and
            raw[11].startswith("      └─ __main__.fetch"), "box-drawing prefixes")
    durs = [x[2] for x in main_t["lines"] if x[1] == "__main__.leaf"]
    t.check(len(durs) == 3 and all(b <= a <= b + 20 for a, b in zip(durs, (20, 10, 30))),
            f"leaf durations 20, 10, 30 ms ({durs})")
    outer = [x for x in main_t["lines"] if x[1] == "__main__.outer"][0]
    t.check(outer[3] < 1 and outer[2] >= 60, f"outer: 60 ms, self well under 1 ms ({outer[2:4]})")
    failing = [x for x in main_t["lines"] if x[1] == "__main__.failing"][0]
    t.check(failing[4] == 'error ValueError: bad <value> & "quoted"',
            f"failing: its error, as raised ({failing[4]!r})")
    gen = {x[1]: x[4] for x in main_t["lines"] if x[1] in ("__main__.numbers", "__main__.gather")}
    t.check(gen.get("__main__.numbers") == "generator, 6 runs"
            and gen.get("__main__.gather", "").startswith("coroutine, "),
            f"generators and coroutines with their runs ({gen})")
    t.check(shape(worker_t) == ["__main__.worker"] + ["·  __main__.middle", "   ·  __main__.leaf",
                                                       "   ·  __main__.leaf"] * 3,
            f"worker tree ({shape(worker_t)})")

    # filters
    p = t.report("tree", session, "--errors")
    e = trees(p.stdout)
    t.check(len(e) == 1 and e[0]["thread"] == "MainThread", "--errors: the tree with failing")
    for n, want_n in (("1", 1), ("0", 2), ("5", 2)):
        p = t.report("tree", session, "--limit", n)
        t.check(len(trees(p.stdout)) == want_n, f"--limit {n}: {want_n} tree(s)")
    p = t.report("tree", session, "--slow", "100")
    s = trees(p.stdout)
    t.check(len(s) == 1 and s[0]["thread"] == "MainThread", "--slow 100: the 267 ms tree only")
    p = t.report("tree", session, "--slow", "100000")
    t.check(p.returncode == 0 and p.stdout.strip() == "(no tree matches)", "--slow: none")
    # the worker thread was started inside main(): its tree is in main's trace (a link)
    wid = worker_t["trace"]
    t.check(wid == main_t["trace"], "the worker thread's tree is in its starter's trace")
    t.check(re.search(r"\(worker-1\).* · under span [0-9a-f]{16}",
                      t.report("tree", session).stdout),
            "the worker's tree header names the span it runs under")
    for tid in (wid, wid[16:]):
        p = t.report("tree", session, "--trace", tid)
        x = trees(p.stdout)
        t.check(len(x) == 2 and {y["trace"] for y in x} == {wid},
                f"--trace {len(tid)} digits: that trace's trees (main thread and worker)")

    # folding
    p = t.report("tree", session, "--depth", "2", "--limit", "1")
    d = trees(p.stdout)[0]
    t.check(max(x[0] for x in d["lines"]) == 2, "--depth 2: two levels under the root")
    t.check((3, 4) in [(f[0], f[1]) for f in d["folds"]] and
            any(f[1] == 4 and abs(f[2] - 60) < 5 for f in d["folds"]),
            f"--depth 2: outer's 4 spans below in one line ({d['folds']})")
    p = t.report("tree", session, "--min-ms", "15")
    m = trees(p.stdout)
    labels = [x[1] for x in m[0]["lines"]]
    t.check("__main__.failing" in labels and "__main__.numbers" not in labels,
            "--min-ms 15: tiny children folded, but not one with an error")
    t.check(labels.count("__main__.leaf") == 2 and
            any(f[1] == 1 and abs(f[2] - 10) < 3 for f in m[0]["folds"]),
            f"--min-ms 15: leaf(10) folded as '… 1 more (10 ms)' ({m[0]['folds']})")

    # colours
    p = t.report("tree", session, "--color", "always")
    t.check("\x1b[31m" in p.stdout and re.search(r"\x1b\[31m__main__\.failing", p.stdout),
            "--color always: errors in red")
    p = t.report("tree", session, "--color", "never")
    t.check("\x1b[" not in p.stdout, "--color never: no escapes")

    # bounded memory: a tree over --max-spans keeps its top levels and counts the rest
    wide = t.record("wide")
    p = t.report("tree", wide, "--max-spans", "100")
    w = trees(p.stdout)
    t.check(len(w) == 1 and w[0]["spans"] == 2202, f"wide: one tree of 2,202 spans "
            f"({[x['spans'] for x in w]})")
    if w:
        kept = len(w[0]["lines"])
        folded = sum(f[1] for f in w[0]["folds"])
        t.check(kept <= 100 and kept + folded == 2202,
                f"wide: kept + counted = all ({kept} + {folded})")
        t.check(any("--max-spans" in x for x in w[0]["other"]), "wide: says it was cut")
    p = t.report("tree", wide)
    w = trees(p.stdout)
    t.check(w and len(w[0]["lines"]) == 2202, "wide: all shown under the default limit")

    # captured operations: a request per tree, statements under their function
    web = t.record("web")
    wspans = [json.loads(x) for x in t.report("jsonl", web).stdout.splitlines()]
    if not any(s.get("kind") == "http_server" for s in wspans):
        t.skip("captured operations: none recorded (capture not built in)")
    else:
        p = t.report("tree", web)
        w = trees(p.stdout)
        reqs = [x for x in w if x["lines"] and x["lines"][0][1].startswith("GET /")]
        t.check(len(reqs) == 3, f"web: one tree per request ({len(reqs)})")
        t.check(all(any(y[1] == "__main__.Handler.do_GET" and y[0] == 1 for y in r["lines"])
                    for r in reqs), "web: the handler under its request")
        t.check(any("0af7651916cd43dd8448eb211c80319c" == r["trace"] for r in reqs),
                "web: a traceparent's trace id")
        fail = [r for r in reqs if r["lines"][0][1] == "GET /fail"]
        t.check(fail and "status 500" in fail[0]["lines"][0][4], "web: the 500 shown")
        text = p.stdout.splitlines()
        i = [k for k, x in enumerate(text) if re.search(r"─ INSERT t\s", x)]
        t.check(i and "insert into t values" in text[i[0] + 1],
                "web: a statement on the line under its operation")

    # exit codes
    p = t.report("tree", t.path("nowhere"), check=False)
    t.check(p.returncode == 2, f"missing session: exit 2 ({p.returncode})")
    for bad in (["--color", "sometimes"], ["--trace", "xyz"], ["--depth", "0"], ["--nope"]):
        p = t.report("tree", session, *bad, check=False)
        t.check(p.returncode == 1, f"{' '.join(bad)}: exit 1 ({p.returncode})")
    p = t.report("tree", "--help")
    t.check(p.returncode == 0 and "--min-ms" in p.stdout and "Exit status" in p.stdout, "--help")
    t.done()


if __name__ == "__main__":
    main()
