"""Child processes started inside a span: subprocess, os.fork, multiprocessing."""
import multiprocessing
import os
import subprocess
import sys


def child_work():
    return 7


def mp_target(q):
    q.put(child_work())


def run_subprocess():
    out = subprocess.run([sys.executable, "kid.py"], capture_output=True, text=True)
    return out.stdout.strip()


def do_fork():
    pid = os.fork()
    if pid == 0:
        child_work()
        os._exit(0)
    os.waitpid(pid, 0)


def run_mp(method):
    ctx = multiprocessing.get_context(method)
    q = ctx.Queue()
    p = ctx.Process(target=mp_target, args=(q,))
    p.start()
    r = q.get()
    p.join()
    return r


def main():
    print(run_subprocess())
    do_fork()
    print(run_mp("fork"), run_mp("spawn"))


if __name__ == "__main__":
    main()
