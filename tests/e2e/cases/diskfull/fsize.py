"""A program that runs under a file size limit (ulimit -f) with SIGXFSZ at its default action,
as an embedded interpreter (Py_InitializeEx(0)) or a program restoring it does: writing past
the limit kills it. Its own files are small."""

import signal

signal.signal(signal.SIGXFSZ, signal.SIG_DFL)


def work(n):
    return n + 1


def main():
    total = 0
    for i in range(300000):
        total += work(i)
    with open("small.txt", "w") as f:
        f.write("x" * 1000)
    print("total", total)


main()
