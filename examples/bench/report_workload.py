"""Benchmark workload for glass-report: a recording with a varied call graph.

Run under glass with trace-all.json, it records the standard library at work (json, re,
textwrap, difflib, email, csv, dataclasses, fractions, decimal, a generator pipeline, a few
exceptions and two threads), so the recording has thousands of distinct stacks rather than
one hot loop. argv[1] is the number of rounds (about 2M records each on CPython 3.11).
"""

import csv
import dataclasses
import decimal
import difflib
import email.parser
import fractions
import io
import json
import re
import sys
import textwrap
import threading

TEXT = ("The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor "
        "jugs. How vexingly quick daft zebras jump! Sphinx of black quartz, judge my vow. ") * 4

MAIL = ("From: Ann <ann@example.com>\r\nTo: bob@example.com\r\nSubject: report {n}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nline one\r\nline two {n}\r\n")


@dataclasses.dataclass(order=True)
class Row:
    name: str
    qty: int
    price: decimal.Decimal


def words(text):
    for w in re.findall(r"[A-Za-z]+", text):
        yield w.lower()


def json_round(n):
    doc = {"id": n, "tags": list(words(TEXT))[:20], "nested": [{"k": i, "v": str(i)} for i in range(10)]}
    return json.loads(json.dumps(doc, sort_keys=True))["id"]


def wrap_and_diff(n):
    a = textwrap.wrap(TEXT, 40 + n % 7)
    b = textwrap.wrap(TEXT.replace("quick", "slow"), 40 + n % 5)
    return sum(1 for _ in difflib.unified_diff(a, b, lineterm=""))


def parse_mail(n):
    msg = email.parser.Parser().parsestr(MAIL.format(n=n))
    return len(msg.get_payload()) + len(msg["Subject"])


def csv_rows(n):
    out = io.StringIO()
    w = csv.writer(out)
    for i in range(20):
        w.writerow([f"item{i}", i * n % 13, f"{i * 1.25:.2f}"])
    rows = [Row(r[0], int(r[1]), decimal.Decimal(r[2])) for r in csv.reader(io.StringIO(out.getvalue()))]
    return sorted(rows)[0].qty + sum(r.price for r in rows)


def arithmetic(n):
    f = sum(fractions.Fraction(1, k) for k in range(1, 12 + n % 5))
    return f.numerator % 97


def failing(n):
    try:
        int("x%d" % n)
    except ValueError:
        return -1


def round_of_work(n):
    return (json_round(n), wrap_and_diff(n), parse_mail(n), csv_rows(n), arithmetic(n),
            failing(n))


def worker(first, count, out):
    for n in range(first, first + count):
        out.append(round_of_work(n))


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    results = []
    t = threading.Thread(target=worker, args=(10**6, rounds // 4, results), name="worker")
    t.start()
    worker(0, rounds - rounds // 4, results)
    t.join()
    print(len(results), sum(r[0] for r in results) % 1000)


if __name__ == "__main__":
    main()
