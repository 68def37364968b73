"""os.fork() without exec: the child runs traced calls and exits normally."""

import os
import sys


def sum_to(n):
    total = 0
    for i in range(n + 1):
        total += i
    return total


def child_work(n):
    return sum_to(n)


def parent_work():
    return sum_to(10)


def main():
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        print("child", child_work(100))
        sys.stdout.flush()
        return
    _, status = os.waitpid(pid, 0)
    print("child exit", os.waitstatus_to_exitcode(status))
    print("parent", parent_work())


main()
