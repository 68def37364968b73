"""os._exit(3) after some calls: no atexit, no flush, no finalization."""

import os
import sys


def step(i):
    return i * 2


def run():
    total = 0
    for i in range(10):
        total += step(i)
    print("total", total)
    sys.stdout.flush()
    os._exit(3)


run()
