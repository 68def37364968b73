#!/usr/bin/env python3
"""glass-report chrome: the Trace Event JSON loads, every complete event nests within its
thread (what chrome://tracing and Perfetto require), and spans match `glass-report jsonl`."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Suite  # noqa: E402


def ns(us):
    """Event times are exact decimals of µs with 3 fractional digits: back to integer ns."""
    return int(round(us * 1000))


def load(t, session, name):
    path = t.path(name)
    p = t.report("chrome", session, "-o", path)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        doc = json.loads(text)
        t.check(p.returncode == 0, f"{name}: valid JSON, exit 0")
    except ValueError as e:
        t.check(False, f"{name}: valid JSON ({e})")
        doc = {"traceEvents": []}
    return doc


def nesting_errors(events):
    """Complete events per (pid, tid), checked with a stack: each must end before the
    enclosing one does (or start after it ended). Returns the offending pairs."""
    by_thread = {}
    for e in events:
        if e["ph"] == "X":
            by_thread.setdefault((e["pid"], e["tid"]), []).append((ns(e["ts"]), ns(e["dur"]), e))
    bad = []
    for evs in by_thread.values():
        evs.sort(key=lambda x: (x[0], -x[1]))
        stack = []
        for start, dur, e in evs:
            while stack and stack[-1][0] + stack[-1][1] <= start:
                stack.pop()
            if stack and start + dur > stack[-1][0] + stack[-1][1]:
                bad.append((stack[-1][2]["name"], e["name"]))
            stack.append((start, dur, e))
    return bad


def check_trace(t, doc, js, what):
    ev = doc.get("traceEvents", [])
    t.check(doc.get("displayTimeUnit") == "ms" and isinstance(doc.get("otherData"), dict),
            f"{what}: displayTimeUnit and otherData")
    t.check(all({"name", "ph", "pid", "tid"} <= set(e) for e in ev), f"{what}: every event has name, ph, pid, tid")
    bad = nesting_errors(ev)
    t.check(not bad, f"{what}: complete events nest within their thread ({bad[:3]})")
    x = {e["args"]["span_id"]: e for e in ev if e["ph"] == "X"}
    b = {e["args"]["span_id"]: e for e in ev if e["ph"] == "b"}
    ends = {e["id"]: e for e in ev if e["ph"] == "e"}
    t.check(len(x) + len(b) == len(js) and not set(x) & set(b),
            f"{what}: one complete or async event per span ({len(x)} + {len(b)} vs {len(js)})")
    t.check(all(e.get("id") == "0x" + sid and e["id"] in ends and ends[e["id"]]["cat"] == e["cat"]
                and ends[e["id"]]["name"] == e["name"] for sid, e in b.items()),
            f"{what}: every async begin has its end (same id, cat, name)")
    same = 0
    for d in js:
        e = x.get(d["span_id"]) or b.get(d["span_id"])
        if not e:
            continue
        start = ns(e["ts"]) + doc_base(doc)
        dur = ns(e["dur"]) if e["ph"] == "X" else ns(ends[e["id"]]["ts"]) - ns(e["ts"])
        if (start == d["start_ns"] and dur == d["dur_ns"] and e["pid"] == d["pid"] and e["tid"] == d["tid"]
                and e["cat"] == d["kind"] and e["args"].get("parent_id") == d["parent_id"]
                and e["args"].get("trace_id") == trace_arg(doc, d) and e["args"]["status"] == d["status"]
                and e["args"]["depth"] == d["depth"]):
            same += 1
    t.check(same == len(js), f"{what}: start, duration, thread, kind, parent, status as jsonl ({same}/{len(js)})")
    plain = all((e["ph"] == "X") == (d["kind"] == "function" and "generator" not in d)
                for d in js for e in [x.get(d["span_id"]) or b.get(d["span_id"])] if e)
    t.check(plain, f"{what}: plain calls are complete events, generators/coroutines/operations async")
    return ev, x, b


def trace_arg(doc, d):
    """The trace id is in args for captured operations and for spans of a remote trace."""
    local = d["trace_id"].startswith(doc["otherData"]["session_id"])
    return None if d["kind"] == "function" and local else d["trace_id"]


def doc_base(doc):
    return int(doc["otherData"]["start_unix_ns"])


def main():
    t = Suite()
    session = t.record("basic")
    js = [json.loads(x) for x in t.report("jsonl", session).stdout.splitlines()]

    # GIVEN basic.py WHEN rendered for Chrome THEN valid, nested, and the spans of jsonl
    doc = load(t, session, "basic.json")
    ev, x, b = check_trace(t, doc, js, "basic")
    meta = [e for e in ev if e["ph"] == "M"]
    pids = {d["pid"] for d in js}
    pn = [e for e in meta if e["name"] == "process_name"]
    t.check(len(pn) == 1 and pn[0]["pid"] in pids and "basic.py" in pn[0]["args"]["name"],
            f"process_name names the program ({[e['args'] for e in pn]})")
    tn = {e["args"]["name"]: e["tid"] for e in meta if e["name"] == "thread_name"}
    tids = {d["thread"]: d["tid"] for d in js}
    t.check(tn.get("MainThread") == tids.get("MainThread") and tn.get("worker-1") == tids.get("worker-1"),
            f"thread_name: MainThread and worker-1 with their tids ({tn})")
    leaf = [e for e in x.values() if e["name"] == "__main__.leaf"]
    t.check(len(leaf) == 9 and all(e["cat"] == "function" and e["args"]["line"] == 9 and "thread" not in e["args"]
                                   and e["args"]["file"].endswith("basic.py") for e in leaf),
            "9 leaf complete events, with file and line in args")
    t.check(150e3 <= sum(e["dur"] for e in leaf) < 1000e3, "leaf durations add up to ~150 ms (in µs)")
    fail = [e for e in x.values() if e["name"] == "__main__.failing"]
    t.check(len(fail) == 1 and fail[0]["args"]["status"] == "error"
            and fail[0]["args"]["error"] == {"type": "ValueError", "message": 'bad <value> & "quoted"'},
            "failing: status error, the exception in args")
    gens = {e["name"]: e for e in b.values()}
    t.check({"__main__.numbers", "__main__.fetch", "__main__.gather"} <= set(gens)
            and gens["__main__.numbers"]["args"]["generator"] == "generator"
            and gens["__main__.fetch"]["args"]["generator"] == "coroutine",
            f"generators and coroutines are async events ({sorted(gens)})")
    t.check(all(isinstance(e["ts"], (int, float)) and e["ts"] >= 0 for e in ev if "ts" in e),
            "times are µs numbers from the session start")
    od = doc["otherData"]
    t.check(js[0]["trace_id"].startswith(od.get("session_id", "?")) and "basic.py" in od.get("command", "")
            and od.get("spans") == str(len(js)), f"otherData: session id, command, spans ({od})")

    # standard output by default
    p = t.report("chrome", session)
    try:
        t.check(len(json.loads(p.stdout)["traceEvents"]) == len(ev), "no -o: the same trace on stdout")
    except ValueError:
        t.check(False, "no -o: the same trace on stdout")

    # GIVEN captured operations THEN they are async events with their attributes
    web = t.record("web")
    wjs = [json.loads(x) for x in t.report("jsonl", web).stdout.splitlines()]
    wdoc = load(t, web, "web.json")
    wev, wx, wb = check_trace(t, wdoc, wjs, "web")
    ops = [d for d in wjs if d["kind"] != "function"]
    if ops:
        t.check(all(wb[d["span_id"]]["args"].get("attributes") == d["attributes"] for d in ops),
                "captured operations: attributes in args, as jsonl")
        srv = [wb[d["span_id"]] for d in ops if d["kind"] == "http_server"]
        t.check(srv and all(e["cat"] == "http_server" for e in srv), "http_server spans: cat http_server")
        bad = [e for e in srv if e["args"]["attributes"].get("http.response.status_code") == 500]
        t.check(len(bad) == 1 and bad[0]["args"]["status"] == "error", "the 500 response is an error")
        rem = [e for e in srv if e["args"]["trace_id"] == "0af7651916cd43dd8448eb211c80319c"]
        t.check(len(rem) == 1 and rem[0]["args"].get("remote_parent_id") == "b7ad6b7169203331",
                "the traceparent's trace and remote parent in args")
    else:
        t.skip("web: no captured operations in this build")

    # hostile names: escaped, and back byte for byte
    odd = t.record("oddnames")
    odoc = load(t, odd, "odd.json")
    names = {e["name"] for e in odoc["traceEvents"] if e["ph"] == "X"}
    want = {'__main__.we"ird\\name', "__main__.new\nline", "__main__.café.ünï", "__main__.tab\there"}
    t.check(want <= names, f"odd names intact ({sorted(want - names)} missing)")

    # bytes that are not UTF-8 become U+FFFD: the file is strict UTF-8 JSON
    rb = t.record("rawbytes")
    path = t.path("rawbytes.json")
    t.report("chrome", rb, "-o", path)
    try:
        with open(path, "rb") as f:
            rdoc = json.loads(f.read().decode("utf-8", errors="strict"))
        rjs = [json.loads(x) for x in t.report("jsonl", rb).stdout.splitlines()]
        check_trace(t, rdoc, rjs, "rawbytes")
    except (UnicodeDecodeError, ValueError) as e:
        t.check(False, f"rawbytes: strict UTF-8 JSON ({e})")

    # GIVEN a synthetic session with generators everywhere THEN still nested
    syn = t.synthetic("syn", 20000)
    if syn:
        sjs = [json.loads(x) for x in t.report("jsonl", syn).stdout.splitlines()]
        check_trace(t, load(t, syn, "syn.json"), sjs, "synthetic")

    # exit codes
    t.check(t.report("chrome", "--help", check=False).returncode == 0, "--help: exit 0")
    t.check(t.report("chrome", "--bogus", check=False).returncode == 1, "unknown option: exit 1")
    t.check(t.report("chrome", t.path("nope"), check=False).returncode == 2, "no such session: exit 2")
    p = t.report("chrome", session, "-o", t.path("no-dir", "x.json"), check=False)
    t.check(p.returncode == 4 and "glass-report:" in p.stderr, "unwritable output: exit 4")
    if os.path.exists("/dev/full"):
        p = t.report("chrome", session, "-o", "/dev/full", check=False)
        t.check(p.returncode == 4, f"disk full: exit 4 ({p.returncode})")
    t.done()


if __name__ == "__main__":
    main()
