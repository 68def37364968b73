#!/usr/bin/env python3
"""Readahead (tools/analysis/readahead.c): every command prints the same whether each stream is read
directly (GLASS_REPORT_THREADS=1) or decoded ahead in a helper thread (=3), on sessions of
many chunks: synthetic ones (generators, exceptions, several threads and processes) and real
ones with captured operations."""
import os
import re
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Suite  # noqa: E402

# volatile lines: when the report was made, how long reading took
VOLATILE = re.compile(r'elapsed|read in [\d.]+ ?m?s', re.I)


def run(t, argv, threads, out=None):
    env = dict(os.environ, GLASS_REPORT_THREADS=threads)
    p = t.report(*argv, env=env, check=False)
    text = p.stdout
    if out:
        if out.endswith(".db"):
            db = sqlite3.connect(out)
            text = "\n".join(db.iterdump())
            db.close()
            os.unlink(out)
        else:
            with open(out, encoding="utf-8", errors="replace") as f:
                text = f.read()
    text = "\n".join(x for x in text.splitlines() if not VOLATILE.search(x))
    return p.returncode, text, p.stderr


def compare(t, session, what):
    commands = [
        (["summary", session], None),
        (["summary", session, "--limit", "0", "--sort", "self"], None),
        (["info", session], None),
        (["jsonl", session], None),
        (["tree", session, "--limit", "20"], None),
        (["chrome", session, "-o", t.path("c.json")], t.path("c.json")),
        (["otlp", session, "-o", t.path("o.json")], t.path("o.json")),
        (["metrics", session], None),
        (["sqlite", session, "-o", t.path("s.db")], t.path("s.db")),
        (["flamegraph", session, "--folded"], None),
        (["flamegraph", session, "--folded", "--value", "self", "--per-thread"], None),
    ]
    for argv, out in commands:
        one = run(t, argv, "1", out)
        three = run(t, argv, "3", out)
        name = " ".join(a for a in argv if a != session and not a.startswith(t.tmp))
        t.check(one[0] == 0 and one == three and len(one[1]) > 100,
                f"{what}: {name}: the same in one thread and with readahead "
                f"(exit {one[0]}/{three[0]}, {len(one[1])}/{len(three[1])} chars"
                f"{', stderr ' + three[2][-200:] if one[2] != three[2] else ''})")


def chunks_of(t, session):
    info = t.report("info", session).stdout
    return sum(int(n) for n in re.findall(r"(\d+) chunks \(last seq", info))


def main():
    t = Suite()
    # GIVEN synthetic sessions cut into many small chunks
    for name, args in (("single", ["--threads", "1", "--procs", "1"]),
                       ("many", ["--threads", "3", "--procs", "2"])):
        out = t.path(f"syn-{name}")
        p = subprocess.run([os.path.join(t.build, "tools", "gen-synthetic"), out,
                            "--events", "20000", "--chunk", "16384", *args],
                           capture_output=True, text=True)
        if p.returncode != 0:
            t.skip(f"gen-synthetic failed: {p.stderr[-200:]}")
            continue
        session = os.path.join(out, sorted(os.listdir(out))[-1])
        n = chunks_of(t, session)
        t.check(n >= 5, f"synthetic {name}: {n} chunks")
        compare(t, session, f"synthetic {name}")

    # GIVEN real recordings in 16 KiB chunks: HTTP served and made, SQL, threads (shop);
    # SQL statements of several kinds (queries)
    # (GLASS_REPORT_THREADS=3 reads ahead however few chunks a stream has)
    for sample in ("shop", "queries"):
        compare(t, t.record(sample, env={"GLASS_CHUNK_KB": "16"}), sample)
    t.done()


if __name__ == "__main__":
    main()
