"""Records, waits until the file named by argv[1] exists (an attacker acts meanwhile), then
forks a child that records."""

import os
import sys
import time


def work(n):
    return n + 1


def main():
    print("parent", work(1), flush=True)
    deadline = time.monotonic() + 10
    while not os.path.exists(sys.argv[1]) and time.monotonic() < deadline:
        time.sleep(0.01)
    pid = os.fork()
    if pid == 0:
        for i in range(100):
            work(i)
        os._exit(0)
    os.waitpid(pid, 0)
    print("child done")


main()
