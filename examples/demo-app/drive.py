"""Drives the demo app with 50 requests (stdlib urllib only) and prints a tally.

    python3 drive.py http://127.0.0.1:8000

Exits 1 if a request fails in a way the app should not (a connection error, an unexpected status).
"""

import json
import sys
import time
import urllib.error
import urllib.request
from collections import Counter


def request(base, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        e.read()
        return e.code, None


def plan():
    """(method, path, body, expected status): 50 requests in all."""
    steps = [("GET", "/", None, 200)]
    steps += [("GET", "/items", None, 200)] * 5
    for i in range(9):
        body = {"name": "widget-%d" % i, "category": ("office", "tech", "home")[i % 3],
                "price": 2.5 + i, "qty": 10 * i}
        steps.append(("POST", "/items", body, 201))
    steps.append(("POST", "/items", {"name": "broken", "price": -1}, 400))
    steps += [("GET", "/items/%d" % (1 + i % 12), None, 200) for i in range(15)]
    steps += [("GET", "/items/99999", None, 404)] * 5
    steps += [("GET", "/no-such-page", None, 404)] * 2
    steps += [("GET", "/boom", None, 500)] * 4
    steps += [("GET", "/report", None, 200)] * 8
    return steps


def main():
    base = sys.argv[1].rstrip("/")
    statuses = Counter()
    by_route = Counter()
    unexpected = []
    start = time.monotonic()
    for method, path, body, expected in plan():
        try:
            status, _ = request(base, method, path, body)
        except OSError as e:
            print("drive: %s %s failed: %s" % (method, path, e), file=sys.stderr)
            return 1
        statuses[status] += 1
        route = "/items/<id>" if path.startswith("/items/") else path
        by_route["%s %s -> %d" % (method, route, status)] += 1
        if status != expected:
            unexpected.append("%s %s: %d, expected %d" % (method, path, status, expected))
    took = time.monotonic() - start
    total = sum(statuses.values())
    print("drive: %d requests in %.2f s: %s" % (
        total, took, ", ".join("%d x%d" % kv for kv in sorted(statuses.items()))))
    for key, n in sorted(by_route.items()):
        print("  %-32s x%d" % (key, n))
    for line in unexpected:
        print("drive: unexpected: " + line, file=sys.stderr)
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
