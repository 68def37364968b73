"""Recursion to depth 900 under the default recursion limit."""

import sys


def down(n):
    if n == 0:
        return 0
    return 1 + down(n - 1)


print(sys.getrecursionlimit(), down(900))
