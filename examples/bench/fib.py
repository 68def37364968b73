"""Benchmark workload: naive fib(30), 2.69 million Python calls and nothing else."""

import sys


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


if __name__ == "__main__":
    print(fib(int(sys.argv[1]) if len(sys.argv) > 1 else 30))
