#!/usr/bin/env python3
"""glass-report sqlite: the database is opened with Python's sqlite3 and its content checked
against the sample programs' known shapes and against `glass-report jsonl`."""
import json
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Suite  # noqa: E402


def open_db(t, session, name):
    path = t.path(name)
    p = t.report("sqlite", session, "-o", path)
    t.check(p.returncode == 0 and os.path.exists(path) and not os.path.exists(path + ".tmp-"),
            f"{name}: written, exit 0")
    leftovers = [f for f in os.listdir(t.tmp) if f.startswith(name + ".tmp-")]
    t.check(not leftovers, f"{name}: no scratch file left behind ({leftovers})")
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    return db


def rows(db, sql, *args):
    return [dict(r) for r in db.execute(sql, args).fetchall()]


def hexid(v):
    return None if v is None else "%016x" % (v & 0xFFFFFFFFFFFFFFFF)


def check_links(t, db, what):
    """Every parent exists, depth = parent's + 1, a call lies within its parent's time."""
    orphans = rows(db, "select s.span_id from span_data s where s.parent_id is not null and "
                       "not exists (select 1 from span_data p where p.span_id = s.parent_id)")
    t.check(not orphans, f"{what}: every parent_id names a span ({len(orphans)} orphans)")
    bad_depth = rows(db, "select c.span_id from span_data c join span_data p on p.span_id = c.parent_id "
                         "where c.depth != p.depth + 1")
    t.check(not bad_depth, f"{what}: child depth = parent depth + 1 ({len(bad_depth)} bad)")
    outside = rows(db, "select c.span_id from spans c join spans p on p.span_id = c.parent_id "
                       "where c.kind = 'function' and c.generator is null and p.generator is null "
                       "and p.kind = 'function' and (c.start_ns < p.start_ns "
                       "or c.start_ns + c.dur_ns > p.start_ns + p.dur_ns)")
    t.check(not outside, f"{what}: calls lie within their caller ({len(outside)} outside)")
    roots = rows(db, "select count(*) as n from span_data where parent_id is null and depth = 0")
    t.check(roots[0]["n"] >= 1, f"{what}: roots have no parent")


def main():
    t = Suite()
    session = t.record("basic")
    js = [json.loads(x) for x in t.report("jsonl", session).stdout.splitlines()]

    # GIVEN basic.py WHEN written as a database THEN function_stats has its known shape
    db = open_db(t, session, "basic.db")
    fs = {r["function"]: r for r in rows(db, "select * from function_stats")}
    leaf = fs.get("__main__.leaf", {})
    t.check(leaf.get("calls") == 9, f"leaf: 9 calls ({leaf.get('calls')})")
    t.check(150 <= (leaf.get("total_ms") or 0) < 1000,
            f"leaf: total ~150 ms of sleep ({leaf.get('total_ms')} ms)")
    want = sum(d["dur_ns"] for d in js if d["name"] == "leaf")
    t.check(leaf.get("total_ns") == want, f"leaf: total_ns is the exact sum of its spans ({want})")
    t.check(19 <= (leaf.get("p50_ms") or 0) <= 60 and 29 <= (leaf.get("p99_ms") or 0) <= 90
            and leaf.get("p50_ms") <= leaf.get("p90_ms") <= leaf.get("p99_ms") <= leaf.get("max_ms"),
            f"leaf: p50 ~20 ms, p99 ~30 ms, ordered ({leaf.get('p50_ms')}, {leaf.get('p90_ms')}, "
            f"{leaf.get('p99_ms')}, {leaf.get('max_ms')})")
    t.check(leaf.get("self_ns") == leaf.get("total_ns"), "leaf: self = total (no traced children)")
    t.check(leaf.get("module") == "__main__" and leaf.get("qualname") == "leaf"
            and leaf.get("file", "").endswith("basic.py") and leaf.get("line") == 9,
            "leaf: module, qualname, file, line")
    t.check(fs.get("__main__.middle", {}).get("calls") == 4 and fs.get("__main__.outer", {}).get("calls") == 1,
            "middle 4 calls, outer 1")
    t.check(fs.get("__main__.failing", {}).get("errors") == 1, "failing: 1 error")
    t.check(fs.get("__main__.fetch", {}).get("calls") == 2 and fs.get("__main__.numbers", {}).get("calls") == 1,
            "fetch (coroutine) 2, numbers (generator) 1")
    totals = [r["total_ns"] for r in rows(db, "select total_ns from function_stats")]
    t.check(totals == sorted(totals, reverse=True), "function_stats: slowest first")
    first = rows(db, "select * from function_stats limit 10")
    t.check(first and set(first[0]) >= {"function", "calls", "total_ms", "self_ms", "p50_ms", "p90_ms",
                                       "p99_ms", "errors"},
            "select * from function_stats: names, calls, total, self, percentiles, errors")
    t.check(sum(r["calls"] for r in fs.values()) == len(js), "calls add up to the spans")

    # the spans view against jsonl, span by span
    sp = rows(db, "select * from spans")
    t.check(len(sp) == len(js), f"spans: one row per span ({len(sp)} vs {len(js)})")
    byid = {hexid(r["span_id"]): r for r in sp}
    same = 0
    for d in js:
        r = byid.get(d["span_id"])
        if (r and r["dur_ns"] == d["dur_ns"] and r["start_ns"] == d["start_ns"] and r["self_ns"] == d["self_ns"]
                and hexid(r["parent_id"]) == d["parent_id"] and r["trace_id"] == d["trace_id"]
                and r["pid"] == d["pid"] and r["tid"] == d["tid"] and r["thread"] == d["thread"]
                and r["status"] == d["status"] and r["depth"] == d["depth"] and r["kind"] == d["kind"]
                and r["qualname"] == d["name"] and r["line"] == d["line"]):
            same += 1
    t.check(same == len(js), f"spans: ids, trace, times, thread, status, depth as jsonl ({same}/{len(js)})")
    gen = {r["qualname"]: r for r in sp if r["generator"]}
    t.check(gen.get("numbers", {}).get("generator") == "generator" and gen["numbers"]["resumes"] == 6
            and gen.get("fetch", {}).get("generator") == "coroutine",
            "generator columns: numbers is a generator resumed 6 times, fetch a coroutine")
    check_links(t, db, "basic")
    kids = rows(db, "select p.qualname as parent from spans c join spans p on p.span_id = c.parent_id "
                    "where c.qualname = 'leaf'")
    t.check(len(kids) == 9 and {k["parent"] for k in kids} == {"middle", "outer"},
            "leaf's parents are middle and outer")

    # GIVEN the exception WHEN the errors view THEN failing, ValueError, the message intact
    errs = rows(db, "select * from errors")
    t.check(len(errs) == 1 and errs[0]["name"] == "__main__.failing" and errs[0]["error_type"] == "ValueError"
            and errs[0]["error_message"] == 'bad <value> & "quoted"' and errs[0]["origin"] == 1,
            f"errors: failing raised ValueError with its message ({errs})")

    # threads, processes, sessions, code objects
    th = rows(db, "select * from threads order by tidx")
    names = [r["name"] for r in th]
    t.check("MainThread" in names and "worker-1" in names, f"threads: MainThread and worker-1 ({names})")
    w = [r for r in th if r["name"] == "worker-1"]
    t.check(w and w[0]["spans"] == 10 and w[0]["tid"] != th[0]["tid"],
            "worker-1: 10 spans (worker, 3 middle, 6 leaf), its own tid")
    wk = rows(db, "select qualname, count(*) as n from spans where thread = 'worker-1' group by qualname")
    t.check({r["qualname"]: r["n"] for r in wk} == {"worker": 1, "middle": 3, "leaf": 6},
            "spans of worker-1 by function")
    pr = rows(db, "select * from processes")
    t.check(len(pr) == 1 and pr[0]["command"].endswith("basic.py") and pr[0]["state"] == "exited"
            and pr[0]["exit_status"] == 0 and json.loads(pr[0]["argv"])[-1].endswith("basic.py"),
            "processes: command line, argv as JSON, exited 0")
    se = rows(db, "select * from sessions")
    t.check(len(se) == 1 and se[0]["spans"] == len(js) and se[0]["processes"] == 1 and se[0]["threads"] == 2
            and se[0]["dur_ns"] > 150e6 and js[0]["trace_id"].startswith(se[0]["session_id"]),
            "sessions: one row, counts, run time, id")
    co = rows(db, "select * from code_objects where qualname = 'leaf'")
    t.check(len(co) == 1 and co[0]["line"] == 9, "code_objects: leaf defined at line 9")
    t.check(rows(db, "select count(*) as n from warnings")[0]["n"] == 0, "warnings: none")
    plan = " ".join(r[3] for r in db.execute("explain query plan select * from spans s "
                                              "where parent_id = 1").fetchall())
    t.check("INDEX" in plan.upper(), f"children of a span are found through an index ({plan})")
    db.close()

    # GIVEN captured operations WHEN written THEN endpoints, queries and attributes are there
    web = t.record("web")
    wjs = [json.loads(x) for x in t.report("jsonl", web).stdout.splitlines()]
    wdb = open_db(t, web, "web.db")
    wsp = rows(wdb, "select * from spans")
    t.check(len(wsp) == len(wjs), f"web: one row per span ({len(wsp)} vs {len(wjs)})")
    ok = all(json.loads(r["attrs"]) == d.get("attributes") for r, d in
             zip(sorted(wsp, key=lambda r: hexid(r["span_id"])), sorted(wjs, key=lambda d: d["span_id"]))
             if d["kind"] != "function")
    t.check(ok, "web: attrs is the attributes as JSON, span for span")
    if any(d["kind"] == "http_server" for d in wjs):
        ep = {(r["method"], r["route"]): r for r in rows(wdb, "select * from endpoints")}
        u = ep.get(("GET", "/users/{id}"), {})
        f = ep.get(("GET", "/fail"), {})
        t.check(u.get("requests") == 2 and u.get("errors") == 0 and u.get("error_rate") == 0,
                f"endpoints: GET /users/{{id}} 2 requests, no error ({u})")
        t.check(f.get("requests") == 1 and f.get("error_rate") == 1 and f.get("status_5xx") == 1,
                f"endpoints: GET /fail 1 request, error rate 1 ({f})")
        t.check(u.get("p50_ms", 0) > 0 and u["p50_ms"] <= u["p90_ms"] <= u["p99_ms"] <= u["max_ms"],
                "endpoints: percentiles ordered")
        srv = rows(wdb, "select * from spans where kind = 'http_server' order by start_ns")
        t.check(all(r["http_method"] == "GET" and r["http_route"] and r["http_status"] in (200, 500)
                    and r["http_target"] in ("/users/1", "/users/2", "/fail") for r in srv),
                "http columns: method, route, target, status")
        remote = [r for r in srv if r["trace_id"] == "0af7651916cd43dd8448eb211c80319c"]
        t.check(len(remote) == 1 and hexid(remote[0]["remote_parent_id"]) == "b7ad6b7169203331",
                "the traceparent's trace and remote parent")
    else:
        t.skip("web: no HTTP capture in this build")
    if any(d["kind"] == "db" for d in wjs):
        sq = rows(wdb, "select * from slow_queries")
        t.check(len(sq) == sum(1 for d in wjs if d["kind"] == "db")
                and [r["dur_ns"] for r in sq] == sorted((r["dur_ns"] for r in sq), reverse=True),
                "slow_queries: every db span, slowest first")
        t.check(all(r["db_system"] == "sqlite" and r["query"] for r in sq), "slow_queries: system, query")
        sel = [r for r in sq if r["db_operation"] == "SELECT" and r["status"] == "ok"]
        t.check(sel and all(r["db_rows"] == 1 for r in sel), "the SELECT returned 1 row (db_rows)")
        failed = [r for r in sq if r["status"] == "error"]
        werr = rows(wdb, "select * from errors where kind = 'db'")
        t.check(len(werr) == len(failed) and all(r["error_type"] and r["error_message"] for r in werr),
                f"failed statements are in errors with their type and message ({werr})")
        qs = rows(wdb, "select * from query_stats")
        t.check(sum(r["calls"] for r in qs) == len(sq), "query_stats: calls add up")
    else:
        t.skip("web: no SQL capture in this build")
    check_links(t, wdb, "web")
    wdb.close()

    # GIVEN raw SQL text (policy sql_text: raw) WHEN normalised THEN one query per shape
    policy = t.path("raw-sql.json")
    with open(policy, "w") as f:
        json.dump({"sql_text": "raw"}, f)
    q = t.record("queries", policy=policy)
    qdb = open_db(t, q, "queries.db")
    norm = {r["db_statement"]: r["db_query"] for r in rows(qdb, "select * from spans where kind = 'db'")}
    if norm:
        want = {
            "insert into users values (1, 'user 1', 1.5)": "insert into users values (?)",
            "select * from users where id in (1, 2)": "select * from users where id in (?)",
            "select * from users where id in (1,2,3)": "select * from users where id in (?)",
            "SELECT  *\n  FROM users -- by name\n WHERE name = 'it''s'": "SELECT * FROM users WHERE name = ?",
            "select * from users where name = ?": "select * from users where name = ?",
            "select * from nowhere where id = 42": "select * from nowhere where id = ?",
        }
        bad = {k: norm.get(k) for k, v in want.items() if norm.get(k) != v}
        t.check(not bad, f"db_query: literals, lists, comments and whitespace normalised ({bad})")
        qs = {r["query"]: r for r in rows(qdb, "select * from query_stats")}
        t.check(qs.get("insert into users values (?)", {}).get("calls") == 3
                and qs.get("select * from users where id in (?)", {}).get("calls") == 2
                and qs.get("select * from nowhere where id = ?", {}).get("errors") == 1,
                "query_stats: one row per shape, with its calls and errors")
    else:
        t.skip("queries: no SQL capture in this build")
    qdb.close()

    # names needing escapes come back byte for byte
    odd = t.record("oddnames")
    odb = open_db(t, odd, "odd.db")
    got = {r["qualname"] for r in rows(odb, "select qualname from function_stats")}
    want = {'we"ird\\name', "new\nline", "café.ünï", "tab\there"}
    t.check(want <= got, f"odd names intact ({sorted(want - got)} missing)")
    odb.close()

    # GIVEN bytes that are not UTF-8 (a raw HTTP request) THEN every text reads back as UTF-8
    rb = t.record("rawbytes")
    rdb = open_db(t, rb, "rawbytes.db")
    try:
        n = 0
        for (name,) in rdb.execute("select name from sqlite_master where type in ('table', 'view')").fetchall():
            n += len(rdb.execute(f"select * from {name}").fetchall())
        t.check(n > 0, "rawbytes: every table and view reads as UTF-8")
    except sqlite3.Error as e:
        t.check(False, f"rawbytes: every table and view reads as UTF-8 ({e})")
    srv = rows(rdb, "select http_target from spans where kind = 'http_server'")
    if srv:
        t.check(srv[0]["http_target"].startswith("/caf\ufffd/"), f"invalid bytes became U+FFFD ({srv})")
    else:
        t.skip("rawbytes: no HTTP capture in this build")
    rdb.close()

    # GIVEN a bigger synthetic session THEN every span is there and links hold
    syn = t.synthetic("syn", 20000)
    if syn:
        n = sum(1 for _ in t.report("jsonl", syn).stdout.splitlines())
        sdb = open_db(t, syn, "syn.db")
        got = rows(sdb, "select count(*) as n from spans")[0]["n"]
        t.check(got == n, f"synthetic: {got} rows for {n} spans")
        t.check(rows(sdb, "select sum(calls) as n from function_stats")[0]["n"] == n,
                "synthetic: function_stats calls add up")
        check_links(t, sdb, "synthetic")
        sdb.close()

    # exit codes
    t.check(t.report("sqlite", "--help", check=False).returncode == 0, "--help: exit 0")
    t.check(t.report("sqlite", "--bogus", check=False).returncode == 1, "unknown option: exit 1")
    t.check(t.report("sqlite", session, "-o", "-", check=False).returncode == 1, "-o -: exit 1")
    t.check(t.report("sqlite", t.path("nope"), "-o", t.path("x.db"), check=False).returncode == 2,
            "no such session: exit 2")
    bad = t.path("no-dir", "x.db")
    p = t.report("sqlite", session, "-o", bad, check=False)
    t.check(p.returncode == 4 and "glass-report:" in p.stderr, f"unwritable output: exit 4 ({p.returncode})")
    t.done()


if __name__ == "__main__":
    main()
