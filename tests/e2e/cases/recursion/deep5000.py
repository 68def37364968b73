"""A raised recursion limit: recursion to depth 5000."""

import sys


def down(n):
    if n == 0:
        return 0
    return 1 + down(n - 1)


sys.setrecursionlimit(10000)
print(down(5000))
