"""Closes every descriptor beyond stdio in the middle of its run, as daemons do, and goes on."""

import os


def work(n):
    total = 0
    for i in range(n):
        total += i
    return total


def phase(name):
    results = []
    for i in range(100):
        results.append(work(i))
    print(name, sum(results), flush=True)


phase("before")
os.closerange(3, 65536)
phase("after")
