"""A small deterministic program: nested calls with known shapes, an exception, a generator,
a coroutine and two threads. Used by the report tests (their expectations follow these
numbers: keep them in step)."""
import asyncio
import threading
import time


def leaf(ms):
    time.sleep(ms / 1000)          # wall time, no CPU


def middle():
    leaf(20)
    leaf(10)


def outer():
    middle()
    leaf(30)


def failing():
    raise ValueError("bad <value> & \"quoted\"")


def numbers(n):
    for i in range(n):
        yield i


async def fetch(ms):
    await asyncio.sleep(ms / 1000)
    return ms


async def gather():
    return await asyncio.gather(fetch(10), fetch(20))


def worker():
    for _ in range(3):
        middle()


def main():
    outer()
    try:
        failing()
    except ValueError:
        pass
    assert sum(numbers(5)) == 10
    asyncio.run(gather())
    t = threading.Thread(target=worker, name="worker-1")
    t.start()
    t.join()


if __name__ == "__main__":
    main()
