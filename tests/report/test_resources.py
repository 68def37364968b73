#!/usr/bin/python3
"""Resources over time (issue 14): glass-compress samples the session's processes from /proc
every 100 ms into SESSION/resources; summary, sqlite, chrome and metrics show them."""
import json
import os
import re
import sqlite3
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Suite  # noqa: E402

MB = 1 << 20


def main():
    t = Suite()
    # GIVEN a parent holding 150 MB and a child spinning on 3 threads with 20 extra files
    s = t.record("resources")
    path = os.path.join(s, "resources")
    t.check(os.path.exists(path), "the session has a resources file")
    data = open(path, "rb").read()
    t.check(data[:8] == b"GLASSRS1", "it starts with its magic")

    # WHEN the session goes into SQLite
    db = t.path("r.db")
    t.report("sqlite", s, "-o", db)
    c = sqlite3.connect(db)
    procs = {r[0]: r for r in c.execute(
        "SELECT process, pid, samples, cpu_mean, cpu_peak, rss_mean, rss_peak, threads_peak,"
        " fds_peak FROM process_resources")}
    t.check(len(procs) == 2, f"two processes sampled: {sorted(procs)}")
    keys = sorted(procs, key=lambda k: procs[k][1])
    rows = [procs[k] for k in keys]
    parent = max(rows, key=lambda r: r[6])
    child = min(rows, key=lambda r: r[6])
    # THEN the numbers are those of the programs
    t.check(all(r[2] >= 6 for r in rows), f"each process has several samples (100 ms): {[r[2] for r in rows]}")
    t.check(parent[6] >= 150 * MB, f"parent's peak RSS holds its 150 MB: {parent[6] / MB:.0f} MB")
    t.check(parent[3] < 0.5, f"parent (sleeping) uses little CPU: {parent[3]:.2f}")
    t.check(child[7] >= 3, f"child's peak threads >= 3: {child[7]}")
    t.check(child[8] >= 20, f"child's peak open files >= 20: {child[8]}")
    # (a loose bound: 2 shared cores under load; 10 ms clock ticks)
    t.check(child[4] > 0.2 and child[3] > 0.05, f"child (spinning) uses CPU: mean {child[3]:.2f}, peak {child[4]:.2f} of a core")
    n = c.execute("SELECT count(*) FROM resources WHERE ts_ns > 0 AND rss_bytes > 0").fetchone()[0]
    t.check(n == sum(r[2] for r in rows), f"resources rows are the samples ({n})")
    ts = [r[0] for r in c.execute("SELECT ts_ns FROM resources WHERE process = ? ORDER BY ts_ns", (keys[0],))]
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    t.check(gaps and sorted(gaps)[len(gaps) // 2] < 150e6,
            f"samples come every ~100 ms (median gap {sorted(gaps)[len(gaps) // 2] / 1e6:.0f} ms)")

    # summary: peak and mean per process
    out = t.report("summary", s).stdout
    t.check("resources (sampled every 100 ms)" in out, "summary has a resources table")
    for k in keys:
        t.check(re.search(r"^%s\s+\d+\s+[\d.]+%%\s+[\d.]+%%" % re.escape(k), out, re.M) is not None,
                f"summary lists {k} with CPU mean and peak")

    # chrome: counter events per process
    cj = t.path("c.json")
    t.report("chrome", s, "-o", cj)
    ev = json.load(open(cj))["traceEvents"]
    counters = [e for e in ev if e.get("ph") == "C"]
    names = {e["name"] for e in counters}
    t.check({"CPU %", "RSS MiB", "threads, fds"} <= names, f"chrome counter tracks: {names}")
    pids = {e["pid"] for e in counters}
    t.check(pids == {r[1] for r in rows}, "chrome counters on each process's track")
    t.check(max(e["args"]["rss"] for e in counters if e["name"] == "RSS MiB") >= 150,
            "chrome RSS counter reaches 150 MiB")

    # metrics: gauges
    prom = t.report("metrics", s).stdout
    m = re.search(r'^glass_process_resident_memory_peak_bytes\{pid="%d",process="%s"\} (\S+)$'
                  % (parent[1], re.escape(parent[0])), prom, re.M)
    t.check(m is not None and float(m.group(1)) == parent[6], "prometheus gauge of the peak RSS")
    spec = t.report("metrics", s, "--format", "spectatord").stdout
    t.check(re.search(r"^g:glass\.process\.threads,pid=%d,process=%s:\d" % (child[1], re.escape(child[0])),
                      spec, re.M) is not None, "spectatord gauge of threads")

    # crash safety: a torn last record is not a failure; the samples before it are kept
    torn = t.path("torn")
    os.makedirs(torn)
    import shutil
    for name in os.listdir(s):
        src = os.path.join(s, name)
        (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, os.path.join(torn, name))
    with open(os.path.join(torn, "resources"), "ab") as f:
        f.write(b"\x4b\x98\xcf\x00")  # RESOURCE cut short
    db2 = t.path("torn.db")
    t.report("sqlite", torn, "-o", db2)
    n2 = sqlite3.connect(db2).execute("SELECT count(*) FROM resources").fetchone()[0]
    t.check(n2 == n, f"a torn tail keeps every complete sample ({n2} of {n})")
    t.done()


if __name__ == "__main__":
    main()
