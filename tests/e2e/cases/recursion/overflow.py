"""Unbounded recursion: RecursionError caught once (how deep did it get?), then uncaught."""

reached = 0


def dive(n):
    global reached
    reached = n
    return dive(n + 1)


def attempt():
    try:
        dive(1)
    except RecursionError as e:
        print("caught", type(e).__name__, e)
    print("reached", reached)


attempt()
dive(1)
