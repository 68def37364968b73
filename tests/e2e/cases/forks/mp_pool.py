"""multiprocessing with the spawn or forkserver start method."""

import multiprocessing as mp
import sys


def square(x):
    return x * x


def main(method):
    ctx = mp.get_context(method)
    with ctx.Pool(2) as pool:
        print(method, pool.map(square, range(10)))
    p = ctx.Process(target=square, args=(3,))
    p.start()
    p.join()
    print("process exit", p.exitcode)


if __name__ == "__main__":
    main(sys.argv[1])
