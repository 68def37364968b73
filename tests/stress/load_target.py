"""N threads, each calling tick() M times: a deterministic load for tests/stress/load-threads."""
import sys
import threading

N, M = int(sys.argv[1]), int(sys.argv[2])


def tick(n):
    return n + 1


def spin():
    n = 0
    for _ in range(M):
        n = tick(n)
    assert n == M


threads = [threading.Thread(target=spin, name=f"load-{i}") for i in range(N)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("done", N * M)
