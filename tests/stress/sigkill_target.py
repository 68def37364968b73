"""A heavy multi-threaded program that counts, in a shared file, the calls it made.

Each of 4 threads calls tick() in a loop; tick() bumps its thread's slot in an mmap'd counter
file, so after a SIGKILL the harness knows how many tick() calls really happened.
"""
import mmap
import struct
import sys
import threading

SLOTS = 4
path = sys.argv[1]
with open(path, "r+b") as f:
    counters = mmap.mmap(f.fileno(), 8 * SLOTS)


def tick(slot, n):
    struct.pack_into("<Q", counters, slot * 8, n)
    return n


def spin(slot):
    n = 0
    while True:
        n += 1
        tick(slot, n)


threads = [threading.Thread(target=spin, args=(i,), daemon=True) for i in range(SLOTS)]
for t in threads:
    t.start()
print("ready", flush=True)
threading.Event().wait()
