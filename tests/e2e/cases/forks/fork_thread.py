"""os.fork() from a thread while three other threads are recording."""

import os
import sys
import threading
import time
import warnings

# 3.12+ warns about fork() in a multi-threaded process, with the pid in the text
warnings.filterwarnings("ignore", category=DeprecationWarning)


def work(n):
    return n * 2


def record(i, ready):
    total = 0
    for k in range(300):
        total += work(k)
        if k == 20:
            ready.set()
        time.sleep(0.0002)
    return total


def child_work(n):
    return sum(work(k) for k in range(n))


def forker(out):
    pid = os.fork()
    if pid == 0:
        # the child: only this thread exists; it records, says so and leaves
        print("child", child_work(100), flush=True)
        os._exit(7)
    _, status = os.waitpid(pid, 0)
    out.append(os.waitstatus_to_exitcode(status))


def main():
    ready = [threading.Event() for _ in range(3)]
    recorders = [threading.Thread(target=record, args=(i, ready[i]), name=f"rec-{i}")
                 for i in range(3)]
    for r in recorders:
        r.start()
    for e in ready:
        e.wait()
    out = []
    f = threading.Thread(target=forker, args=(out,), name="forker")
    f.start()
    f.join()
    for r in recorders:
        r.join()
    print("child exit", out[0], flush=True)
    sys.stdout.flush()


main()
