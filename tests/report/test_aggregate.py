"""summary and html group spans the same way (tools/analysis/aggregate.c): one session, the same rows.

The session is built to tell groupings apart: two processes define functions of the same module
and qualname in different files (two functions, not one), and leave some code ids undefined
(unknown code of one process is not that of another)."""
import html as htmllib
import os
import re
import subprocess

from common import Suite

t = Suite()
out = t.path("alike")
p = subprocess.run([os.path.join(t.build, "tools", "gen-synthetic"), out, "--alike", "--events",
                    "20000", "--threads", "2", "--procs", "2", "--seed", "5"],
                   capture_output=True, text=True)
if p.returncode != 0:
    t.skip(f"gen-synthetic failed: {p.stderr[-200:]}")
    t.done()
session = os.path.join(out, sorted(os.listdir(out))[-1])


def summary_rows():
    """(name, calls) of every row of summary's function table."""
    text = t.report("summary", "--limit", "0", session).stdout
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("function "))
    rows = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        name, calls = line[:35].rstrip(), line[35:].split()[0]
        rows.append((name, int(calls.replace(",", ""))))
    return rows


def html_rows():
    """(name, calls) of every row of html's function table."""
    page = t.path("alike.html")
    t.report("html", "--no-flame", "--functions", "100000", "-o", page, session)
    with open(page, encoding="utf-8") as f:
        doc = f.read()
    section = doc[doc.index('<section id="functions">'):]
    section = section[:section.index("</section>")]
    return [(htmllib.unescape(m.group(1)), int(m.group(2))) for m in
            re.finditer(r'<tr><td class="code"[^>]*>(.*?)</td><td data-v="(\d+)">', section)]


s_rows, h_rows = summary_rows(), html_rows()
t.check(len(s_rows) > 100, f"summary lists the functions ({len(s_rows)} rows)")
names = [n for n, _ in s_rows]
t.check(len(names) != len(set(names)),
        "the session has same-named functions in two files (two summary rows of one name)")
t.check(any(n.startswith("<code ") and "of pid 40000" in n for n in names) and
        any(n.startswith("<code ") and "of pid 40001" in n for n in names),
        "undefined code ids are one row per process in summary")
t.check(len(h_rows) == len(s_rows),
        f"html has as many function rows as summary ({len(h_rows)} and {len(s_rows)})")
t.check(sorted(h_rows) == sorted(s_rows), "html's rows are summary's: same names, same calls")
t.check(sum(c for _, c in h_rows) == sum(c for _, c in s_rows),
        "html and summary count the same calls in all")
t.done()
