"""Lists the sockets this process and its glass-compress helper hold, while it runs: glass must
add none (no listening socket, no socket at all)."""

import os
import time


def work(n):
    return n + 1


def socket_fds(pid):
    n = 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    n += 1
            except OSError:
                pass
    except OSError:
        pass
    return n


def compressors(me):
    """glass-compress processes started for this process (argv: ... --pid <me> <session>)."""
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"glass-compress") and str(me).encode() in argv:
            found.append(int(p))
    return found


def main():
    for i in range(10000):
        work(i)
    time.sleep(0.3)  # whatever glass starts has started
    me = os.getpid()
    helpers = compressors(me)
    print("sockets of this process", socket_fds(me))
    print("sockets of glass-compress", sum(socket_fds(p) for p in helpers))
    with open("helpers.txt", "w") as f:
        f.write(str(len(helpers)))


main()
