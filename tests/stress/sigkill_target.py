"""A heavy multi-threaded program that counts, in a shared file, the calls it made.

Each of 4 threads calls tick() in a loop; tick() bumps its thread's slot in an mmap'd counter
file, so after a SIGKILL the harness knows how many tick() calls really happened.
"""
import mmap
import sys
import threading

SLOTS = 4
path = sys.argv[1]
with open(path, "r+b") as f:
    counters = mmap.mmap(f.fileno(), 8 * SLOTS)


def tick(slot, n):
    # One 8-byte copy into the slot. (struct.pack_into zeroes its destination before it packs:
    # a SIGKILL between the two left the running thread's slot at 0, so "emitted" came out
    # short by a whole thread and the ratio far above 1.)
    counters[slot * 8:slot * 8 + 8] = n.to_bytes(8, "little")
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
