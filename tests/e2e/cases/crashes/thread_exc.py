"""Uncaught exceptions in threads: threading.excepthook prints them, the program goes on."""

import threading


class Boom(Exception):
    pass


def fail(i):
    raise Boom(f"thread {i} failed")


def worker(i):
    fail(i)


def main():
    threads = [threading.Thread(target=worker, args=(i,), name=f"w{i}") for i in range(3)]
    for t in threads:
        t.start()
        t.join()  # one at a time: the tracebacks come out in order
    print("main goes on", flush=True)


main()
