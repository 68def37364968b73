"""Generators: consumed by a for loop, closed early, and raising."""

import time


def count_up(n):
    for i in range(n):
        yield i


def consume():
    total = 0
    for v in count_up(5):
        time.sleep(0.002)  # the generator is suspended meanwhile
        total += v
    return total


def naturals():
    i = 0
    while True:
        yield i
        i += 1


def take_three():
    g = naturals()
    first = [next(g), next(g), next(g)]
    g.close()
    return first


def risky():
    yield 1
    raise ValueError("generator failed")


def drive_risky():
    seen = []
    try:
        for x in risky():
            seen.append(x)
    except ValueError as e:
        seen.append(str(e))
    return seen


def main():
    print("sum", consume())
    print("first", take_three())
    print("risky", drive_risky())


main()
