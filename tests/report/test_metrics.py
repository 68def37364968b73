#!/usr/bin/env python3
"""glass-report metrics: Prometheus text (checked with `promtool check metrics` when installed,
Debian package prometheus) and spectatord lines, with values that follow samples/basic.py and
samples/web.py."""
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Suite  # noqa: E402

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
TAGCH = r"[-._A-Za-z0-9~^]"
SPEC = re.compile(rf"^([cgtTdDmAC])(?:,\d+)?:({TAGCH}+)((?:,{TAGCH}+={TAGCH}+)*):(-?\d+(?:\.\d+)?)$")


def unescape(v):
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def parse_prom(text):
    """{(name, frozenset(labels)): value}, plus the TYPE of each family."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError(f"bad sample line: {line!r}")
        labels = frozenset((k, unescape(v)) for k, v in LABEL.findall(m.group(3) or ""))
        key = (m.group(1), labels)
        if key in samples:
            raise ValueError(f"duplicate series: {line!r}")
        samples[key] = float(m.group(4))
    return samples, types


def get(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def series(samples, name):
    return {dict(k[1]).get("function", ""): v for k, v in samples.items() if k[0] == name}


def promtool(t, text, what):
    if not shutil.which("promtool"):
        t.skip(f"{what}: promtool check metrics (install the Debian package prometheus)")
        return
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    t.check(p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(),
            f"{what}: promtool check metrics finds no problem {p.stdout.strip()} {p.stderr.strip()}")


def parse_spec(t, text, what):
    lines = text.splitlines()
    parsed = [SPEC.match(line) for line in lines]
    bad = [line for line, m in zip(lines, parsed) if not m]
    t.check(lines and not bad, f"{what}: every spectatord line parses ({len(lines)} lines; bad: {bad[:3]})")
    out = []
    for m in parsed:
        if not m:
            continue
        tags = [kv.split("=", 1) for kv in m.group(3).split(",")[1:]]
        out.append((m.group(1), m.group(2), tags, m.group(4)))
    sorted_ok = all([k for k, _ in tags] == sorted(k for k, _ in tags) for _, _, tags, _ in out)
    t.check(sorted_ok, f"{what}: tags sorted by key (spectator-py's id order)")
    return out


def main():
    t = Suite()
    session = t.record("basic")
    js = [json.loads(x) for x in t.report("jsonl", session).stdout.splitlines()]

    # GIVEN the basic sample WHEN metrics in Prometheus format THEN valid, and the numbers match
    text = t.report("metrics", session).stdout
    promtool(t, text, "basic")
    try:
        s, types = parse_prom(text)
        t.check(True, "basic: parses, no duplicate series")
    except ValueError as e:
        t.check(False, f"basic: {e}")
        s, types = {}, {}
    t.check(get(s, "glass_function_calls_total", function="__main__.leaf") == 9, "leaf calls = 9")
    t.check(get(s, "glass_function_calls_total", function="__main__.middle") == 4, "middle calls = 4")
    t.check(get(s, "glass_function_calls_total", function="__main__.fetch") == 2, "fetch (coroutine) = 2")
    t.check(get(s, "glass_function_calls_total", function="__main__.numbers") == 1,
            "numbers (a generator) counts once")
    total = sum(series(s, "glass_function_calls_total").values())
    t.check(total == len(js), f"calls add up to the spans ({total} vs {len(js)})")
    t.check(get(s, "glass_function_duration_seconds_count", function="__main__.leaf") == 9,
            "leaf timer _count = 9")
    leaf_sum = get(s, "glass_function_duration_seconds_sum", function="__main__.leaf") or 0
    want = sum(d["dur_ns"] for d in js if d["name"] == "leaf") / 1e9
    t.check(abs(leaf_sum - want) < 1e-9 and leaf_sum >= 0.150,
            f"leaf timer _sum is exact: {leaf_sum} s (3x(20+10) + 20+10+30 ms of sleep)")
    p50 = get(s, "glass_function_duration_seconds", function="__main__.leaf", quantile="0.5") or 0
    p99 = get(s, "glass_function_duration_seconds", function="__main__.leaf", quantile="0.99") or 0
    t.check(0.019 <= p50 <= 0.030 and 0.029 <= p99 <= 0.045 and p50 <= p99,
            f"leaf quantiles: p50 {p50} (~20 ms), p99 {p99} (~30 ms)")
    t.check(get(s, "glass_errors_total", kind="function", type="ValueError") == 1,
            "errors_total{type=ValueError} = 1 (counted where raised, once)")
    t.check(get(s, "glass_processes") == 1 and get(s, "glass_threads") == 2
            and get(s, "glass_lost_events") == 0, "gauges: 1 process, 2 threads, 0 lost events")
    t.check(types.get("glass_function_calls_total") == "counter"
            and types.get("glass_function_duration_seconds") == "summary"
            and types.get("glass_processes") == "gauge", f"types: {types}")
    t.check(not any(k[0].startswith("glass_http") or k[0].startswith("glass_db") for k in s),
            "no HTTP/db families without such spans")

    # --top caps the function label; the total stays
    capped = t.report("metrics", session, "--top", "3").stdout
    promtool(t, capped, "--top 3")
    cs, _ = parse_prom(capped)
    fns = series(cs, "glass_function_calls_total")
    t.check(len(fns) == 4 and "_OTHER" in fns and sum(fns.values()) == total,
            f"--top 3: 3 functions + _OTHER, same total: {fns}")
    top3 = sorted((d for d in set(series(s, "glass_function_duration_seconds_sum"))),
                  key=lambda f: -series(s, "glass_function_duration_seconds_sum")[f])[:3]
    t.check(set(fns) - {"_OTHER"} == set(top3), f"--top 3 keeps the 3 functions with most time: {top3}")
    t.check(cs.get(("glass_function_duration_seconds_count", frozenset({("function", "_OTHER")})))
            == fns.get("_OTHER"), "_OTHER's timer merges the others")

    # spectatord
    spec = t.report("metrics", session, "--format", "spectatord").stdout
    lines = parse_spec(t, spec, "basic spectatord")
    t.check(("c", "glass.function.calls", [["function", "__main__.leaf"]], "9") in lines,
            "c:glass.function.calls,function=__main__.leaf:9")
    timers = [x for x in lines if x[0] == "t" and x[1] == "glass.function.duration"]
    t.check(len(timers) == len(js), f"one t: line per call ({len(timers)} vs {len(js)} spans)")
    leaf_t = [x for x in timers if x[2] == [["function", "__main__.leaf"]]]
    t.check(len(leaf_t) == 9 and abs(sum(float(x[3]) for x in leaf_t) - want) < 1e-6,
            "9 leaf timer lines, in seconds, summing to the exact total")
    t.check(("g", "glass.threads", [], "2") in lines and ("g", "glass.processes", [], "1") in lines
            and ("g", "glass.lostEvents", [], "0") in lines, "g: gauges")
    t.check(("c", "glass.errors", [["kind", "function"], ["type", "ValueError"]], "1") in lines,
            "c:glass.errors,kind=function,type=ValueError:1")
    t.check(any(x[2] == [["function", "__main__._module_"]] for x in lines),
            "tag characters outside spectator's set become _ (<module> -> _module_)")
    sc = parse_spec(t, t.report("metrics", session, "-f", "spectatord", "-n", "2").stdout, "--top 2")
    t.check({tuple(x[2][0]) for x in sc if x[1] == "glass.function.duration"}
            <= {("function", re.sub(r"[^-._A-Za-z0-9~^]", "_", f)) for f in top3[:2] + ["_OTHER"]},
            "spectatord timers use the capped names too")

    # GIVEN captured operations
    web = t.record("web")
    wjs = [json.loads(x) for x in t.report("jsonl", web).stdout.splitlines()]
    wtext = t.report("metrics", web).stdout
    promtool(t, wtext, "web")
    ws, wtypes = parse_prom(wtext)
    t.check(get(ws, "glass_http_server_requests_total", method="GET", route="/users/{id}", status="200") == 2
            and get(ws, "glass_http_server_requests_total", method="GET", route="/fail", status="500") == 1,
            "http server requests by method, route, status: 2 x 200 on /users/{id}, 1 x 500 on /fail")
    t.check(wtypes.get("glass_http_server_request_duration_seconds") == "histogram",
            "server request duration is a histogram (percentile timer)")
    inf = get(ws, "glass_http_server_request_duration_seconds_bucket", method="GET", route="/users/{id}", le="+Inf")
    cnt = get(ws, "glass_http_server_request_duration_seconds_count", method="GET", route="/users/{id}")
    b1 = get(ws, "glass_http_server_request_duration_seconds_bucket", method="GET", route="/users/{id}", le="1")
    t.check(inf == cnt == 2 and b1 == 2, f"histogram buckets: le=1 {b1}, +Inf {inf}, count {cnt}")
    t.check(get(ws, "glass_http_client_requests_total", method="GET", server="127.0.0.1", status="200") == 2
            and get(ws, "glass_http_client_requests_total", method="GET", server="127.0.0.1", status="500") == 1,
            "http client requests by method, server, status")
    t.check(get(ws, "glass_net_operations_total", operation="connect") == 3, "3 connects")
    t.check(get(ws, "glass_errors_total", kind="http_server", type="500") == 1
            and get(ws, "glass_errors_total", kind="http_client", type="500") == 1,
            "failed operations count as errors by error.type")
    wspec = parse_spec(t, t.report("metrics", web, "-f", "spectatord").stdout, "web spectatord")
    ndb = sum(1 for d in wjs if d["kind"] == "db")
    if ndb:
        dbq = sum(v for k, v in ws.items() if k[0] == "glass_db_queries_total")
        t.check(dbq == ndb, f"db queries: {dbq} (spans {ndb})")
        t.check(get(ws, "glass_db_queries_total", operation="SELECT", system="sqlite") == 2
                and get(ws, "glass_db_query_duration_seconds_count", operation="SELECT", system="sqlite") == 2,
                "2 SELECTs (one failing), counter and histogram")
        t.check(get(ws, "glass_errors_total", kind="db", type="SQLITE_ERROR") == 1,
                "the failing statement counts as an error of type SQLITE_ERROR")
        t.check(sum(1 for x in wspec if x[0] == "T" and x[1] == "glass.db.queryDuration") == ndb,
                "one T:glass.db.queryDuration line per statement")
    else:
        t.skip("db metrics (SQL capture is not in this build)")
    big_t = [x for x in wspec if x[0] == "T" and x[1] == "glass.http.server.requestDuration"]
    t.check(len(big_t) == 3, f"3 T: (percentile timer) lines for the requests served: {len(big_t)}")
    t.check(("c", "glass.http.server.requests",
             [["method", "GET"], ["route", "_users__id_"], ["status", "200"]], "2") in wspec,
            "c:glass.http.server.requests,method=GET,route=_users__id_,status=200:2")
    nt = sum(1 for x in wspec if x[0] in "tT")
    t.check(nt == len(wjs), f"one timer line per span ({nt} vs {len(wjs)})")

    # names needing escapes
    odd = t.record("oddnames")
    otext = t.report("metrics", odd).stdout
    promtool(t, otext, "odd names")
    try:
        os_, _ = parse_prom(otext)
        names = set(series(os_, "glass_function_calls_total"))
        t.check({'__main__.we"ird\\name', "__main__.new\nline", "__main__.café.ünï", "__main__.tab?here"}
                <= names, f"label values escaped and read back: {sorted(names)}")
    except ValueError as e:
        t.check(False, f"odd names: {e}")
    parse_spec(t, t.report("metrics", odd, "-f", "spectatord").stdout, "odd names spectatord")

    # usage and exit codes
    p = t.report("metrics", "--help", check=False)
    t.check(p.returncode == 0 and "--format" in p.stdout and "--top" in p.stdout, "--help")
    p = t.report("metrics", session, "--format", "statsd", check=False)
    t.check(p.returncode == 1, f"unknown format: exit 1 ({p.returncode})")
    p = t.report("metrics", session, "--top", "x", check=False)
    t.check(p.returncode == 1, "bad --top: exit 1")
    p = t.report("metrics", t.path("nowhere"), check=False)
    t.check(p.returncode == 2, f"missing session: exit 2 ({p.returncode})")
    out = t.path("m.prom")
    t.report("metrics", session, "-o", out)
    with open(out) as f:
        t.check(f.read() == text, "-o FILE writes the same text")
    if os.path.exists("/dev/full"):
        p = t.report("metrics", session, "-o", "/dev/full", check=False)
        t.check(p.returncode == 4, f"disk full: exit 4 ({p.returncode})")
    t.done()


if __name__ == "__main__":
    main()
