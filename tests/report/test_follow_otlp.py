#!/usr/bin/python3
"""otlp --follow (issue 14): spans of a gunicorn/Flask service go to an OTLP/HTTP receiver while
it runs, each request checked against opentelemetry-proto; the collector refuses a few requests
(503) at first. The follower is stopped (SIGTERM) and restarted, then killed (SIGKILL) and
restarted, mid-run. In the end the receiver holds every span of the recording; none twice
across the SIGTERM restart, and across the SIGKILL at most the one request that was in flight
(the collector took it, the follower died before it read the answer)."""
import collections
import re
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import Suite  # noqa: E402
from test_otlp import Receiver, check_proto, check_structure, load_proto, spans_of  # noqa: E402
from test_top import Load, service  # noqa: E402


def fingerprint(pid, tid, start, end, name):
    return (int(pid), int(tid), int(start), int(end), name)


def match(want, got, tol_ns=2_000_000):
    """Spans per (pid, tid) in start order, paired: (missing, extra). Times may differ by the
    clock fit of a live read (TSC rate from fewer samples) by far less than tol_ns."""
    def group(c):
        g = collections.defaultdict(list)
        for (pid, tid, start, end, _), n in c.items():
            g[pid, tid] += [(start, end)] * n
        return {k: sorted(v) for k, v in g.items()}
    w, g = group(want), group(got)
    missing = extra = 0
    for k in set(w) | set(g):
        a, b = w.get(k, []), g.get(k, [])
        if len(a) != len(b):
            missing += max(0, len(a) - len(b))
            extra += max(0, len(b) - len(a))
            continue
        bad = sum(1 for (s1, e1), (s2, e2) in zip(a, b) if abs(s1 - s2) > tol_ns or abs(e1 - e2) > tol_ns)
        missing += bad
        extra += bad
    return missing, extra


def main():
    t = Suite()
    proto = load_proto()
    report = os.path.join(t.build, "tools", "glass-report")

    # GIVEN a receiver that answers 503 twice before it takes requests, and a loaded service
    rx = Receiver(codes=(503, 503))
    arrivals = []  # (arrival time, newest span end in the request)
    orig = rx.accepted

    class Timed(list):
        def append(self, req):
            ends = [int(sp["endTimeUnixNano"]) for _, _, sp in spans_of(req)]
            arrivals.append((time.time_ns(), max(ends) if ends else 0))
            super().append(req)

    rx.accepted = Timed(orig)
    srv, out = service(t, "follow")
    load = Load(srv.port)
    pos = t.path("follow.pos")
    argv = [report, "otlp", "--follow", out, "--endpoint", f"http://127.0.0.1:{rx.port}",
            "--position", pos, "--batch", "200"]
    f = None
    try:
        f = subprocess.Popen(argv, stdout=open(t.path("f1.log"), "w"), stderr=subprocess.STDOUT)
        time.sleep(3)
        # WHEN the follower is stopped (SIGTERM) and started again
        f.send_signal(signal.SIGTERM)
        rc1 = f.wait(30)
        t.check(rc1 == 0, f"SIGTERM: the follower ends its request and exits 0 ({rc1})")
        cut1 = len(rx.accepted)
        before = rx.spans()
        t.check(before > 0, f"spans reached the receiver while the service ran ({before})")
        steady = sorted(a - e for a, e in arrivals[2:])
        med = steady[len(steady) // 2] / 1e9 if steady else 99
        t.check(med < 1.5, f"a span reaches the receiver within about a second of its end "
                           f"(median {med:.2f} s over {len(steady)} requests)")
        t.check(os.path.exists(pos), "the position file exists")
        time.sleep(1)  # spans pile up on disk meanwhile
        f = subprocess.Popen(argv, stdout=open(t.path("f2.log"), "w"), stderr=subprocess.STDOUT)
        time.sleep(2)
        # WHEN it is killed (SIGKILL) and started again
        f.send_signal(signal.SIGKILL)
        f.wait()
        cut2 = len(rx.accepted)
        time.sleep(0.5)
        f = subprocess.Popen(argv, stdout=open(t.path("f3.log"), "w"), stderr=subprocess.STDOUT)
        time.sleep(1.5)
        load.stop()
        srv.stop()
        # THEN it exits by itself once every process has ended
        try:
            rc = f.wait(60)
        except subprocess.TimeoutExpired:
            f.kill()
            rc = "timeout"
        msg = open(t.path("f3.log")).read()
        t.check(rc == 0 and "every process has ended" in msg,
                f"the follower exits 0 at the end ({rc}): {msg[-300:]}")
        msg2 = open(t.path("f2.log")).read() + msg
        t.check(re.search(r"[1-9]\d* already sent before \(skipped\)", msg2) is not None,
                f"the restarted followers skipped what was delivered: {msg.strip()[-200:]}")
    finally:
        if f and f.poll() is None:
            f.kill()
        if not load.stopped:
            load.stop()
        srv.stop()
        rx.stop()
    t.check(rx.attempts >= len(rx.accepted) + 2, f"the refused requests were retried ({rx.attempts} attempts)")
    t.check(rx.paths == {"/v1/traces"}, f"POSTed to /v1/traces ({rx.paths})")

    # every span of the recording, exactly once
    offline = [__import__("json").loads(line) for line in t.report("jsonl", out).stdout.splitlines()]
    want = collections.Counter(fingerprint(s["pid"], s["tid"], s["start_ns"], s["start_ns"] + s["dur_ns"],
                                           s["name"]) for s in offline)
    got = collections.Counter()
    ids = collections.Counter()
    for req in rx.accepted:
        for rs, _, sp in spans_of(req):
            a = {x["key"]: x["value"] for x in sp["attributes"]}
            r = {x["key"]: x["value"] for x in rs["resource"]["attributes"]}
            name = sp["name"]
            got[fingerprint(r["process.pid"]["intValue"], a["thread.id"]["intValue"],
                            sp["startTimeUnixNano"], sp["endTimeUnixNano"], name)] += 1
            ids[sp["spanId"]] += 1
    def id_set(reqs):
        return collections.Counter(sp["spanId"] for req in reqs for _, _, sp in spans_of(req))
    first, later = id_set(rx.accepted[:cut1]), id_set(rx.accepted[cut1:])
    t.check(not set(first) & set(later) and all(v == 1 for v in first.values()),
            f"nothing sent before the SIGTERM was sent again ({len(set(first) & set(later))} ids)")
    dups = {k: v for k, v in ids.items() if v > 1}
    # the request in flight at the SIGKILL, sent again after: the last one the receiver had
    # taken when the kill was decided, or the one it was taking then (accepted a moment later)
    flight = [j for j in (cut2 - 1, cut2) if 0 <= j < len(rx.accepted)] if cut2 else []
    inflight, at = collections.Counter(), None
    for j in flight:
        if set(dups) <= set(id_set(rx.accepted[j:j + 1])):
            inflight, at = id_set(rx.accepted[j:j + 1]), j
            break
    t.check((not dups or at is not None) and all(v == 2 for v in dups.values()),
            f"across the SIGKILL at most the request in flight was sent twice "
            f"({len(dups)} ids twice, in flight {len(inflight)})")
    for k, v in dups.items():
        ids[k] = 1
    missing, extra = match(want, got)
    t.check(not missing and extra <= len(dups) and sum(got.values()) - len(dups) == len(offline),
            f"the receiver holds every span of the recording, per process and thread "
            f"({sum(got.values()) - len(dups)} of {len(offline)}; missing {missing}, extra {extra})")
    reqs = list(rx.accepted)
    if at is not None and dups:  # the resent request: once is enough for the structure checks
        reqs = reqs[:at] + reqs[at + 1:]
    n = sum(1 for req in reqs for _ in spans_of(req))
    check_structure(t, reqs, n, "follow")
    check_proto(t, proto, reqs, n, "follow")
    t.done()


if __name__ == "__main__":
    main()
