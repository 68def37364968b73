"""fork without exec (the child records), then the child execs a new Python program."""

import os
import sys


def before_exec(n):
    return sum(range(n))


def parent_after(n):
    return n + 1


def main():
    pid = os.fork()
    if pid == 0:
        print("forked child", before_exec(10), flush=True)
        os.execv(sys.executable, [sys.executable, "exec_child.py"])
    _, status = os.waitpid(pid, 0)
    print("child exit", os.waitstatus_to_exitcode(status), "parent", parent_after(1))


main()
