"""Dies inside C code called through ctypes: segfault or abort(), on the main thread or on one
of several threads that are recording at the time."""

import ctypes
import sys
import threading
import time


def work(n):
    return sum(range(n))


def spin(stop, warm):
    # other threads keep recording until the process dies
    n = 0
    while not stop.is_set():
        work(10)
        n += 1
        if n == 20:
            warm.set()
        time.sleep(0.0005)  # lets the crasher have the GIL soon, keeps the recording small


def die(kind):
    if kind == "segv":
        ctypes.string_at(0)  # reads address 0: SIGSEGV inside libc/ctypes
    else:
        ctypes.CDLL(None).abort()  # libc abort(): SIGABRT


def crash(kind, where):
    total = 0
    for _ in range(1000):
        total += work(10)
    print("before", total, flush=True)
    if where == "main":
        die(kind)
    else:
        stop = threading.Event()
        warm = [threading.Event() for _ in range(3)]
        spinners = [threading.Thread(target=spin, args=(stop, warm[i]), name=f"spin-{i}")
                    for i in range(3)]
        for s in spinners:
            s.start()
        for w in warm:
            w.wait()  # each spinner has made 20 calls and goes on
        t = threading.Thread(target=die, args=(kind,), name="crasher")
        t.start()
        t.join()  # never returns


def main():
    crash(sys.argv[1], sys.argv[2])


main()
