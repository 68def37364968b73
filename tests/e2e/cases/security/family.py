"""A thread, a forked child and a Python subprocess: every kind of file glass writes."""

import os
import subprocess
import sys
import threading
import warnings

# 3.12.1 may still count the joined thread and warn about fork(), with the pid in the text
warnings.filterwarnings("ignore", category=DeprecationWarning)


def work(n):
    return n + 1


def in_thread():
    return sum(work(i) for i in range(10))


def main():
    t = threading.Thread(target=in_thread, name="helper")
    t.start()
    t.join()
    pid = os.fork()
    if pid == 0:
        work(1)
        os._exit(0)
    os.waitpid(pid, 0)
    out = subprocess.run([sys.executable, "-c", "def sub():\n    return 5\nprint(sub())"],
                         capture_output=True, text=True).stdout
    print("family", work(1), out.strip())


main()
