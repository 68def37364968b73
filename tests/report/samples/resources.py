"""Resources over time: a parent that holds 150 MB and a forked child that spins on 3 threads
and opens 20 files, each for about 1.2 s (glass-compress samples them every 100 ms)."""
import os
import threading
import time


def spin(seconds):
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += sum(range(200))
    return n


pid = os.fork()
if pid == 0:
    files = [open(os.devnull) for _ in range(20)]
    ts = [threading.Thread(target=spin, args=(1.2,)) for _ in range(2)]
    for t in ts:
        t.start()
    spin(1.2)
    for t in ts:
        t.join()
    for f in files:
        f.close()
    os._exit(0)
block = bytearray(150 << 20)
for i in range(0, len(block), 4096):  # touch every page: resident
    block[i] = 1
time.sleep(1.2)
os.waitpid(pid, 0)
print("done", len(block))
