"""enginecg workload (scripts/bench --only enginecg): MODE N.

lib    library code only (benchlib, untraced under the default policy): 4 N calls
tenth  N calls of app_step (traced: it lives beside this script), each making 9 library calls
       (untraced): 10% of the calls traced
fib    fib(N): every call traced under trace-all.json
"""

import sys

import benchlib


def app_step(i):
    # 9 untraced library calls for this one traced call
    return benchlib.step(i) + benchlib.step(i + 1) + benchlib.clip(i)


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def main():
    mode, n = sys.argv[1], int(sys.argv[2])
    if mode == "lib":
        print(benchlib.work(n))
    elif mode == "tenth":
        total = 0
        for i in range(n):
            total += app_step(i)
        print(total)
    else:
        print(fib(n))


if __name__ == "__main__":
    main()
