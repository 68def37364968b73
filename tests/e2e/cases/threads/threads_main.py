"""Threads: four named threading.Thread workers, then a ThreadPoolExecutor."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

barrier = threading.Barrier(4)


def square(i):
    return i * i


def compute(idx):
    total = 0
    for i in range(100):
        total += square(i + idx)
    return total


def worker(idx, results):
    barrier.wait()  # all four threads alive at once: four distinct thread ids
    results[idx] = compute(idx)
    time.sleep(0.01)


def pooled(i):
    time.sleep(0.02)
    return square(i)


def main():
    results = [None] * 4
    threads = []
    for idx in range(4):
        th = threading.Thread(target=worker, args=(idx, results), name="worker-%d" % (idx + 1))
        threads.append(th)
        th.start()
    for th in threads:
        th.join()
    print("threads", results)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="pool") as ex:
        futures = []
        for i in range(6):
            futures.append(ex.submit(pooled, i))
        values = []
        for f in futures:
            values.append(f.result())
    print("pool", values)


main()
