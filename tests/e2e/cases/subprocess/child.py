"""The child of parent.py."""

import sys


def double(n):
    return n * 2


def child_main():
    print("child says", double(int(sys.argv[1])))


child_main()
