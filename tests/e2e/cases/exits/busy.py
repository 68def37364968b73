"""Calls functions forever; says "ready" once it has made 1000 calls (the harness kills it)."""


def work(i):
    total = 0
    for k in range(50):
        total += k * i
    return total


def loop():
    i = 0
    while True:
        work(i)
        i += 1
        if i == 1000:
            print("ready", flush=True)


loop()
