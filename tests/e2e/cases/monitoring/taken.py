"""Runs with tool ids 4 and 5 taken by sitecustomize (site/) as Python starts."""

import sys


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


print(fib(12), [sys.monitoring.get_tool(i) for i in (4, 5)])
