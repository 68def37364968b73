#!/usr/bin/python3
"""gen_http_session.py OUT_DIR REQUESTS [PROCS] — writes a glass session (format 1.3, as
docs/format.md describes it) of a web service: REQUESTS HTTP requests spread over PROCS worker
processes, each with its handler call and one SQL statement, 1 in 16 answered 500, plus a resources
file sampled every 100 ms. For the html charts at a scale no test machine records quickly
(1M requests). Prints the session directory."""
import os
import random
import struct
import sys

import msgpack  # Debian: python3-msgpack

P = msgpack.packb
RT0 = 1_796_000_000_000_000_000  # Unix ns of the start
MONO0 = 1_000_000_000
GAP = 50_000  # ns between a worker's requests


def meta_header(pid, threads, end_mono):
    h = struct.pack("<8sHHIIIII", b"GLASSMT1", 1, 3, 4096, pid, 1, 2, 2)
    h += struct.pack("<QQQQQQQQiIQQQ", MONO0, MONO0, RT0, 0, 0, 0, end_mono, end_mono, 0, threads,
                     0, 0, 2)
    return h + b"\0" * (4096 - len(h))


def rec(tag, *fields):
    if 14 <= tag < 64 or tag >= 71:
        return bytes([tag]) + P(list(fields))
    return bytes([tag]) + b"".join(P(f) for f in fields)


def request_variants(rng):
    """Bytes of one request (clock moves by the CALL/RETURN dts), in 64 variants."""
    out = []
    for v in range(64):
        dur = max(20_000, int(rng.lognormvariate(13.5, 0.6)))  # ~0.7 ms median
        db = int((dur - 3000) * rng.uniform(0.1, 0.5))
        err = v % 20 == 0
        b = rec(1, GAP, 3) + rec(2, 0)  # an "idle" call: the clock goes to the request
        b += rec(15, 0, 1, 2, "GET /users/{id}", {"http.request.method": "GET",
                                                   "http.route": "/users/{id}",
                                                   "url.path": "/users/%d" % v})
        b += rec(1, 1000, 1)  # handler
        b += rec(15, 500, 2, 1, "SELECT users", {"db.system": "sqlite",
                                                 "db.statement": "SELECT id FROM users WHERE id = ?"})
        b += rec(16, 500 + db, 2, 0, None, {})
        b += rec(2, dur - 2000)
        b += rec(16, 1000, 1, 1 if err else 0, None, {"http.response.status_code": 500 if err else 200})
        out.append((b, GAP + dur))
    return out


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    procs = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    rng = random.Random(7)
    variants = request_variants(rng)
    sdir = os.path.join(out, "20261201-000000-50000")
    os.makedirs(sdir)
    with open(os.path.join(sdir, "SESSION"), "w") as f:
        f.write("glass-session 1.3\n")
    per = n // procs
    picks = [[rng.randrange(64) for _ in range(per)] for _ in range(procs)]
    span = max(sum(variants[v][1] for v in pk) for pk in picks)
    end_mono = MONO0 + span + 1_000_000
    res = bytearray(b"GLASSRS1")
    res += rec(74, RT0, 100_000_000, 1)
    for k in range(procs):
        pid = 50000 + k
        pdir = os.path.join(sdir, f"p{pid}.0")
        os.makedirs(pdir)
        meta = bytearray(meta_header(pid, 1, end_mono))
        meta += rec(64, pid, 1, RT0, "3.11.2", "/usr/bin/python3", "/srv", "start",
                    ["gunicorn", "app:app"], "")
        meta += rec(65, 1, "get_user", "app", "/srv/app.py", 10, 0)
        meta += rec(65, 3, "idle", "app", "/srv/app.py", 5, 0)
        with open(os.path.join(pdir, "meta"), "wb") as f:
            f.write(meta)
        seq, body, done = 1, [rec(10, 0, pid, 1)], 0
        size = len(body[0])
        t_open = t_now = MONO0
        while done < per:
            b, d = variants[picks[k][done]]
            t_now += d
            body.append(b)
            size += len(b)
            done += 1
            last = done == per
            if size > (4 << 20) - 4096 or last:
                if last:
                    body.append(rec(12, 0))
                data = rec(13, 0, 0) + b"".join(body) if seq > 1 else b"".join(body[:1]) + rec(13, 0, 0) + b"".join(body[1:])
                used = 64 + len(data)
                hdr = struct.pack("<4sHHIIIIIIQQI12x", b"GLCK", 1, 3, pid, pid, 1, seq, used, used,
                                  t_open, t_open, 3 if last else 1)
                with open(os.path.join(pdir, f"t1.{seq}.raw"), "wb") as f:
                    f.write(hdr + data)
                t_open = t_now
                seq += 1
                body, size = [], 0
        for i in range(int(span / 100_000_000) + 1):
            t = RT0 + i * 100_000_000
            res += rec(75, t, pid, 0, i * 60_000_000, i * 10_000_000, (40 + i % 50) << 20, 3, 12)
    with open(os.path.join(sdir, "resources"), "wb") as f:
        f.write(res)
    print(sdir)


if __name__ == "__main__":
    main()
